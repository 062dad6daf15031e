// The rolling upgrade's checks, each shown to catch what it is for.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ReplicaDump } from '../jepsen/checks.js';
import type { JEvent } from '../jepsen/history.js';
import { failuresOutsideRestarts, missingAckedWrites, type RestartWindow } from './checks.js';

const ms = (n: number): number => n * 1e6;
function op(process: number, f: JEvent['f'], key: string, node: string, from: number, to: number, type: JEvent['type'], value: unknown = null): JEvent[] {
  return [
    { process, type: 'invoke', f, key, value, node, time: ms(from) },
    { process, type, f, key, value, node, time: ms(to), ...(type === 'ok' ? {} : { error: 'ECONNREFUSED' }) },
  ];
}

describe('no request failed except during its node\'s own restart', () => {
  const windows: RestartWindow[] = [
    { node: 'n2', start: ms(100), end: ms(200), leader: false },
    { node: 'n1', start: ms(300), end: ms(400), leader: true },
  ];

  it('passes failures through the restarting node, and any during the leader\'s handoff', () => {
    const events = [
      ...op(0, 'write', 'k', 'n2', 150, 160, 'fail'),
      ...op(1, 'read', 'k', 'n3', 350, 360, 'fail'),
      ...op(2, 'write', 'k', 'n3', 10, 20, 'ok'),
      // A cas the register refused was answered, not failed.
      { process: 3, type: 'invoke', f: 'cas', key: 'k', value: ['1', '2'], node: 'n3', time: ms(30) },
      { process: 3, type: 'fail', f: 'cas', key: 'k', value: ['1', '2'], node: 'n3', time: ms(31), error: 'cas: value is "7"' },
    ] as JEvent[];
    assert.deepEqual(failuresOutsideRestarts(events, windows), { failed: 2, excused: 2, duringHandoff: 1, outside: [] });
  });

  it('catches a failure through another node during a follower\'s restart, and one outside every window', () => {
    const events = [
      ...op(0, 'write', 'k', 'n3', 150, 160, 'info'),
      ...op(1, 'read', 'k', 'n2', 500, 510, 'fail'),
    ];
    const v = failuresOutsideRestarts(events, windows);
    assert.equal(v.failed, 2);
    assert.equal(v.excused, 0);
    assert.equal(v.outside.length, 2);
    assert.match(v.outside[0]!, /write k through n3/);
  });
});

describe('every acknowledged write is present', () => {
  const events = [
    ...op(0, 'write', 'ack/1', 'n1', 1, 2, 'ok', '1'),
    ...op(1, 'write', 'ack/2', 'n2', 3, 4, 'ok', '2'),
    ...op(2, 'write', 'ack/3', 'n2', 5, 6, 'info', '3'),
  ];
  const b64 = (s: string): string => Buffer.from(s).toString('base64');

  it('passes when every replica holds every acknowledged write (an unacknowledged one may be anywhere)', () => {
    const dumps: ReplicaDump = new Map([
      ['n1', new Map([['ack/1', b64('1')], ['ack/2', b64('2')]])],
      ['n2', new Map([['ack/1', b64('1')], ['ack/2', b64('2')], ['ack/3', b64('3')]])],
    ]);
    assert.deepEqual(missingAckedWrites(events, 'ack/', dumps), { acked: 2, missing: [] });
  });

  it('catches a lost acknowledged write and a changed one', () => {
    const dumps: ReplicaDump = new Map([
      ['n1', new Map([['ack/1', b64('1')]])],
      ['n2', new Map([['ack/1', b64('x')], ['ack/2', b64('2')]])],
    ]);
    const v = missingAckedWrites(events, 'ack/', dumps);
    assert.equal(v.missing.length, 2);
    assert.match(v.missing.join('\n'), /ack\/2=2 .* missing on n1/);
    assert.match(v.missing.join('\n'), /ack\/1=1 .* holds x on n2/);
  });
});
