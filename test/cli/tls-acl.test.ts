// `konsul tls ca create` / `tls cert create` make a working set (checked by openssl and by a real
// agent serving HTTPS with them); the CLI speaks HTTPS (--ca-file, KONSUL_CACERT, client certificates
// when the agent verifies them) and drives ACLs (acl bootstrap, policy, token) with --token.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { createServer, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { ConfigError } from '../../src/agent/config.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { startAgent } from '../../src/main/agent.js';
import { freePort, scenario, TestCluster } from '../cluster/harness.js';
import { run } from './harness.js';

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('konsul tls, HTTPS and the acl commands', { skip: hasOpenssl() ? false : 'openssl is not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'konsul-tls-'));
  const other = mkdtempSync(join(tmpdir(), 'konsul-tls-other-'));
  const c = new TestCluster();
  const step = scenario(c);
  let https = '';
  let management = '';
  const clientCert = (): Record<string, string> => ({ KONSUL_CLIENT_CERT: f('dc1-client-konsul-app-1.pem'), KONSUL_CLIENT_KEY: f('dc1-client-konsul-app-1-key.pem') });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  });
  const f = (name: string): string => join(dir, name);
  const tls = (env: Record<string, string> = {}): Record<string, string> => ({ KONSUL_CACERT: f('konsul-agent-ca.pem'), ...env });

  before(async () => {
    for (const [args, where] of [[['tls', 'ca', 'create'], dir], [['tls', 'ca', 'create'], other]] as const) {
      const r = await run([...args, '--dir', where]);
      assert.equal(r.code, EXIT.ok, r.err);
    }
    for (const args of [['--server', '--node-id', 's1'], ['--client', '--node-id', 'app-1']]) {
      const r = await run(['tls', 'cert', 'create', ...args, '--dir', dir]);
      assert.equal(r.code, EXIT.ok, r.err);
    }
    const r = await run(['tls', 'cert', 'create', '--client', '--node-id', 'app-1', '--dir', other]);
    assert.equal(r.code, EXIT.ok, r.err);
  });

  step('the files verify with openssl, name the node and role, keys are 0600, nothing is overwritten', async () => {
    for (const cert of ['dc1-server-konsul-s1.pem', 'dc1-client-konsul-app-1.pem']) {
      assert.match(execFileSync('openssl', ['verify', '-CAfile', f('konsul-agent-ca.pem'), f(cert)], { encoding: 'utf8' }), /: OK/);
    }
    const text = execFileSync('openssl', ['x509', '-in', f('dc1-server-konsul-s1.pem'), '-noout', '-text'], { encoding: 'utf8' });
    assert.match(text, /DNS:s1\.server\.dc1\.konsul, DNS:server\.dc1\.konsul, DNS:localhost, IP Address:127\.0\.0\.1/);
    assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    const client = execFileSync('openssl', ['x509', '-in', f('dc1-client-konsul-app-1.pem'), '-noout', '-text'], { encoding: 'utf8' });
    assert.match(client, /DNS:app-1\.client\.dc1\.konsul/);
    assert.doesNotMatch(client, /TLS Web Server Authentication/);
    for (const key of ['konsul-agent-ca-key.pem', 'dc1-server-konsul-s1-key.pem']) assert.equal(statSync(f(key)).mode & 0o777, 0o600);
    const again = await run(['tls', 'cert', 'create', '--server', '--node-id', 's1', '--dir', dir]);
    assert.equal(again.code, EXIT.failed);
    assert.match(again.err, /already exists/);
    const usage = await run(['tls', 'cert', 'create', '--node-id', 's1', '--dir', dir]);
    assert.equal(usage.code, EXIT.usage);
    assert.match(usage.err, /exactly one of --server or --client/);
  });

  step('an agent serves HTTPS with them, verifying clients; the CLI needs the CA and a client certificate', async () => {
    const port = await freePort();
    await c.add({
      id: 's1', server: true, bootstrap: true,
      extra: [
        '--tls-cert', f('dc1-server-konsul-s1.pem'), '--tls-key', f('dc1-server-konsul-s1-key.pem'), '--tls-ca', f('konsul-agent-ca.pem'),
        '--https-addr', `127.0.0.1:${port}`, '--https-verify-incoming', '--acl-enabled', '--acl-default-policy', 'deny',
      ],
    });
    await c.start('s1');
    https = `https://127.0.0.1:${port}`;
    const noCa = await run(['acl', 'bootstrap', '--http-addr', https]);
    assert.equal(noCa.code, EXIT.unreachable);
    assert.match(noCa.err, /TLS with the agent at .* failed .*--ca-file or KONSUL_CACERT/);
    const noClientCert = await run(['acl', 'bootstrap', '--http-addr', https], { env: tls() });
    assert.notEqual(noClientCert.code, EXIT.ok, 'the agent took a client without a certificate');
    const foreign = await run(['acl', 'bootstrap', '--http-addr', https], {
      env: tls({ KONSUL_CLIENT_CERT: join(other, 'dc1-client-konsul-app-1.pem'), KONSUL_CLIENT_KEY: join(other, 'dc1-client-konsul-app-1-key.pem') }),
    });
    assert.notEqual(foreign.code, EXIT.ok, 'the agent took a client certificate from another CA');

    const boot = await run(['acl', 'bootstrap', '--json', '--http-addr', https], { env: tls(clientCert()) });
    assert.equal(boot.code, EXIT.ok, boot.err);
    management = (JSON.parse(boot.out) as { SecretID: string }).SecretID;
    const twice = await run(['acl', 'bootstrap', '--http-addr', https], { env: tls(clientCert()) });
    assert.equal(twice.code, EXIT.failed);
    assert.match(twice.err, /ACL bootstrap no longer allowed \(reset index: \d+\) \(HTTP 403\)/);
  });

  step('acl policy and token commands: a prefix token writes under its prefix only', async () => {
    const env = tls({ ...clientCert(), KONSUL_HTTP_TOKEN: management });
    const policy = await run(['acl', 'policy', 'create', '--http-addr', https, '--name', 'app', '--rules', 'key_prefix "app/" { policy = "write" }'], { env });
    assert.equal(policy.code, EXIT.ok, policy.err);
    const bad = await run(['acl', 'policy', 'create', '--http-addr', https, '--name', 'bad', '--rules', 'key_prefix "" { policy = "all" }'], { env });
    assert.equal(bad.code, EXIT.failed);
    assert.match(bad.err, /invalid ACL rules: key_prefix "": policy must be read, write, list or deny, got "all" \(HTTP 400\)/);
    const token = await run(['acl', 'token', 'create', '--json', '--http-addr', https, '--description', 'app', '--policy-name', 'app'], { env });
    assert.equal(token.code, EXIT.ok, token.err);
    const secret = (JSON.parse(token.out) as { SecretID: string }).SecretID;

    const withApp = tls(clientCert());
    const ok = await run(['kv', 'put', '--http-addr', https, '--token', secret, 'app/x', '1'], { env: withApp });
    assert.equal(ok.code, EXIT.ok, ok.err);
    const denied = await run(['kv', 'put', '--http-addr', https, '--token', secret, 'other/x', '1'], { env: withApp });
    assert.equal(denied.code, EXIT.failed);
    assert.match(denied.err, /Permission denied: token with AccessorID '[0-9a-f-]+' lacks permission 'key:write' on "other\/x" \(HTTP 403\)/);
    assert.ok(!denied.err.includes(secret), 'the error shows the secret');
    const self = await run(['acl', 'token', 'read', '--self', '--json', '--http-addr', https, '--token', secret], { env: withApp });
    assert.equal((JSON.parse(self.out) as { Description: string }).Description, 'app');
    const list = await run(['acl', 'token', 'list', '--json', '--http-addr', https], { env });
    assert.equal((JSON.parse(list.out) as unknown[]).length, 3, 'bootstrap, app and anonymous');
    // The agent's log never holds a secret.
    for (const s of [secret, management]) assert.ok(!c.node('s1').log().includes(s), 'a token is in the agent log');
  });

  step('acl role commands and --expires-ttl: a token linked to a role writes what the role allows, and says when it expires', async () => {
    const env = tls({ ...clientCert(), KONSUL_HTTP_TOKEN: management });
    const role = await run(['acl', 'role', 'create', '--json', '--http-addr', https, '--name', 'deployer', '--policy-name', 'app'], { env });
    assert.equal(role.code, EXIT.ok, role.err);
    const roleId = (JSON.parse(role.out) as { ID: string }).ID;
    const read = await run(['acl', 'role', 'read', '--http-addr', https, '--name', 'deployer'], { env });
    assert.match(read.out, /Policies:\n {3}[0-9a-f-]+ - app/);
    const token = await run(['acl', 'token', 'create', '--json', '--http-addr', https, '--role-name', 'deployer', '--expires-ttl', '8h'], { env });
    assert.equal(token.code, EXIT.ok, token.err);
    const made = JSON.parse(token.out) as { SecretID: string; Roles: Array<{ Name: string }>; ExpirationTime: string; CreateTime: string };
    assert.deepEqual(made.Roles.map((r) => r.Name), ['deployer']);
    assert.equal(Date.parse(made.ExpirationTime) - Date.parse(made.CreateTime), 8 * 3600_000);
    const withRole = tls(clientCert());
    assert.equal((await run(['kv', 'put', '--http-addr', https, '--token', made.SecretID, 'app/role', '1'], { env: withRole })).code, EXIT.ok);
    const badTtl = await run(['acl', 'token', 'create', '--http-addr', https, '--expires-ttl', '30s'], { env });
    assert.equal(badTtl.code, EXIT.failed);
    assert.match(badTtl.err, /should be between 1m0s and 24h0m0s \(HTTP 400\)/);
    const list = await run(['acl', 'role', 'list', '--http-addr', https], { env });
    assert.match(list.out, new RegExp(`^${roleId}  deployer  app$`, 'm'));
    const gone = await run(['acl', 'role', 'delete', '--http-addr', https, '--id', roleId], { env });
    assert.equal(gone.code, EXIT.ok, gone.err);
    assert.equal((await run(['kv', 'put', '--http-addr', https, '--token', made.SecretID, 'app/role', '2'], { env: withRole })).code, EXIT.failed);
  });

  step('HTTP that cannot listen is a one-line error naming --http-addr, and the HTTPS listener opened before it is closed again', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const busyPort = (busy.address() as AddressInfo).port;
    const httpsPort = await freePort();
    try {
      await assert.rejects(startAgent({
        dev: true, nodeId: 's1', httpAddr: `127.0.0.1:${busyPort}`, httpsAddr: `127.0.0.1:${httpsPort}`, dnsAddr: '127.0.0.1:0', raftAddr: '127.0.0.1:0',
        tlsCert: f('dc1-server-konsul-s1.pem'), tlsKey: f('dc1-server-konsul-s1-key.pem'), tlsCa: f('konsul-agent-ca.pem'),
      }, {}, pino({ level: 'silent' })), (error: Error) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.match(error.message, new RegExp(`^--http-addr: cannot listen on 127\\.0\\.0\\.1:${busyPort} \\(EADDRINUSE\\)$`));
        return true;
      });
      // The HTTPS port is free again: nothing of the failed start is left listening.
      const probe = createServer();
      await new Promise<void>((resolve, reject) => {
        probe.once('error', reject);
        probe.listen(httpsPort, '127.0.0.1', () => resolve());
      });
      await new Promise<void>((resolve) => probe.close(() => resolve()));
    } finally {
      busy.close();
    }
  });
});
