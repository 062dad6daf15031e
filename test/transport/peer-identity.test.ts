// A certificate's SANs name its node and role; refusals are logged once per source per interval.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { certifiedNames } from '../../src/transport/peer-identity.js';
import { RefusalLog, refusalSource } from '../../src/transport/refusal-log.js';

describe('peer identity from a certificate', () => {
  it('reads node and role from konsul SANs and nothing else', () => {
    assert.deepEqual(certifiedNames({ subjectaltname: 'DNS:s1.server.dc1.konsul, DNS:server.dc1.konsul, DNS:localhost, IP Address:127.0.0.1' }), [
      { nodeId: 's1', role: 'server' },
    ]);
    assert.deepEqual(certifiedNames({ subjectaltname: 'DNS:web-1.client.dc2.example' }), [{ nodeId: 'web-1', role: 'client' }]);
    assert.deepEqual(certifiedNames({ subjectaltname: 'DNS:s1.admin.dc1.konsul, DNS:.server.dc1.konsul, URI:spiffe://x' }), []);
    assert.deepEqual(certifiedNames(undefined), []);
  });
});

describe('refusal log', () => {
  it('logs a source once per interval, then says how many it held back', () => {
    let now = 0;
    const log = new RefusalLog(1000, 2, () => now);
    assert.deepEqual(log.admit('10.0.0.1'), { log: true, suppressed: 0 });
    for (let i = 0; i < 5; i++) assert.equal(log.admit('10.0.0.1').log, false);
    assert.equal(log.admit('10.0.0.2').log, true);
    now = 1500;
    assert.deepEqual(log.admit('10.0.0.1'), { log: true, suppressed: 5 });
    // Bounded: a third source pushes out the oldest.
    assert.equal(log.admit('10.0.0.3').log, true);
    assert.equal(log.admit('10.0.0.2').log, true, 'the oldest source was forgotten, so it logs again');
    assert.equal(refusalSource('127.0.0.1:4567'), '127.0.0.1');
    assert.equal(refusalSource('[::1]:80'), '[::1]');
  });
});
