// Issue 15: completions work the way the README runs konsul, in real shells
// under a real terminal (tmux): `npx konsul ...` in the konsul checkout (no
// konsul on PATH), and `konsul ...` with konsul on PATH from anywhere. A TAB
// is typed with send-keys and the screen read back with capture-pane.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { startAgent, type RunningAgent } from '../../src/main/agent.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { run } from './harness.js';

const ROOT = new URL('../../../', import.meta.url).pathname.replace(/\/$/, '');
const BIN = join(ROOT, 'bin', 'konsul.js');
const has = (tool: string, args = ['-c', 'exit 0']): boolean => spawnSync(tool, args).status === 0;
const hasTmux = has('tmux', ['-V']);

const SHELLS = {
  bash: { argv: 'bash --norc --noprofile', load: `source ${ROOT}/completions/konsul.bash` },
  zsh: { argv: 'zsh -f', load: `autoload -U compinit && compinit -u -D && source ${ROOT}/completions/_konsul` },
  fish: { argv: 'fish --no-config', load: `source ${ROOT}/completions/konsul.fish` },
} as const;

/** A shell in its own tmux server; type() sends keys, screen() reads the pane. */
class Terminal {
  private readonly socket = `konsul-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  constructor(private readonly shell: keyof typeof SHELLS, cwd: string, env: Record<string, string>) {
    const vars = Object.entries(env).map(([k, v]) => `${k}='${v}'`).join(' ');
    const r = spawnSync('tmux', ['-L', this.socket, '-f', '/dev/null', 'new-session', '-d', '-s', 't', '-x', '200', '-y', '50', '-c', cwd,
      `env -i ${vars} TERM=xterm ${SHELLS[shell].argv}`], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
  }
  type(...keys: string[]): void {
    spawnSync('tmux', ['-L', this.socket, 'send-keys', '-t', 't', ...keys]);
  }
  screen(): string {
    return spawnSync('tmux', ['-L', this.socket, 'capture-pane', '-p', '-t', 't'], { encoding: 'utf8' }).stdout;
  }
  async waitFor(pattern: RegExp, what: string, ms = 20_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const text = this.screen();
      if (pattern.test(text)) return text;
      if (Date.now() > deadline) assert.fail(`${this.shell}: ${what}: not on the screen after ${ms} ms:\n${text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  close(): void {
    spawnSync('tmux', ['-L', this.socket, 'kill-server']);
  }
}

describe('completions in a real terminal, the way the README runs konsul', { skip: !hasTmux && 'tmux is not installed' }, () => {
  let agent: RunningAgent;
  let addr: string;
  const home = mkdtempSync(join(tmpdir(), 'konsul-tty-'));
  const binDir = join(home, 'bin');

  before(async () => {
    mkdirSync(binDir, { recursive: true });
    symlinkSync(BIN, join(binDir, 'konsul'));
    agent = await startAgent({ dev: true, httpAddr: '127.0.0.1:0', dnsAddr: '127.0.0.1:0', raftAddr: '127.0.0.1:0' }, {}, pino({ level: 'silent' }));
    addr = agent.httpAddress;
    for (let i = 0; i < 250 && agent.agent.status().leader === null; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal((await run(['kv', 'put', '--http-addr', addr, 'config/web/port', '8080'])).code, EXIT.ok);
  });
  after(async () => {
    await agent.stop();
    rmSync(home, { recursive: true, force: true });
  });

  /** PATH without any directory that has a konsul in it. */
  const basePath = (process.env.PATH ?? '/usr/bin:/bin').split(':').filter((d) => d !== '' && !existsSync(join(d, 'konsul'))).join(':');

  it('the check sees a completion that is not there: without the npx hook, `npx konsul kv g<TAB>` stays as typed', { skip: !has('bash') && 'bash is not installed' }, async () => {
    const term = new Terminal('bash', ROOT, { PATH: basePath, HOME: home, KONSUL_HTTP_ADDR: addr });
    try {
      term.type(`${SHELLS.bash.load}; complete -r npx`, 'Enter');
      term.type('echo loaded-ok', 'Enter');
      await term.waitFor(/^loaded-ok/m, 'the completion script loaded');
      term.type('npx konsul kv g', 'Tab');
      await assert.rejects(term.waitFor(/npx konsul kv get/m, 'the subcommand completed', 1500), /not on the screen/);
    } finally {
      term.close();
    }
  });

  for (const shell of Object.keys(SHELLS) as Array<keyof typeof SHELLS>) {
    for (const form of ['npx konsul', 'konsul'] as const) {
      const onPath = form === 'konsul';
      it(`${shell}: \`${form} kv get con<TAB>\` completes a key from the agent${onPath ? ' (konsul on PATH, outside the checkout)' : ' (in the checkout, konsul not on PATH)'}`,
        { skip: !has(shell) && `${shell} is not installed` }, async () => {
          const env = { PATH: onPath ? `${binDir}:${basePath}` : basePath, HOME: home, KONSUL_HTTP_ADDR: addr };
          const term = new Terminal(shell, onPath ? home : ROOT, env);
          try {
            term.type(SHELLS[shell].load, 'Enter');
            term.type('echo loaded-ok', 'Enter');
            await term.waitFor(/^loaded-ok/m, 'the completion script loaded');
            if (!onPath) {
              term.type('command -v konsul || echo no-konsul-on-path', 'Enter');
              await term.waitFor(/^no-konsul-on-path/m, 'konsul is not on PATH');
            }
            term.type(`${form} kv g`, 'Tab');
            // (capture-pane drops the trailing space the completion added)
            await term.waitFor(new RegExp(`${form} kv get\\s*$`, 'm'), 'the subcommand completed');
            term.type('con', 'Tab');
            await term.waitFor(new RegExp(`${form} kv get config/`, 'm'), 'the key completed from the agent');
          } finally {
            term.close();
          }
        });
    }
  }
});
