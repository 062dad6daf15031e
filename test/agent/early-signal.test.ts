// A SIGINT that arrives while the agent is still starting is acted on once it
// runs: the agent stops cleanly (exit 0, a dev agent's temporary dir removed)
// instead of dying half-started.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { it } from 'node:test';

const MAIN = new URL('../../src/main/agent.js', import.meta.url).href;

it('SIGINT during start-up: a clean stop once started', () => {
  const script = `
    const { runAgent } = await import(${JSON.stringify(MAIN)});
    const done = runAgent({ dev: true, httpAddr: '127.0.0.1:0', dnsAddr: '127.0.0.1:0', logFormat: 'json' }, {});
    process.kill(process.pid, 'SIGINT'); // runAgent has not finished starting: it is still opening the data dir
    console.log(JSON.stringify({ code: await done }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  const dataDir = /\n {2}data dir +(\S+)/.exec(r.stderr)?.[1];
  assert.ok(dataDir, `the summary names the data dir: ${r.stderr}`);
  assert.equal(existsSync(dataDir), false, 'the temporary data dir is removed');
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { msg?: string; reason?: string; code?: number });
  assert.equal(lines.at(-1)?.code, 0);
  assert.ok(lines.some((l) => l.msg === 'agent stopping' && l.reason === 'received SIGINT while starting'), r.stdout);
});
