// `konsul lock PREFIX -- COMMAND`: run a command while holding a lock (Consul's
// `consul lock`). A session with a TTL, renewed at half the TTL, holds
// PREFIX/.lock; the command gets the fencing token in its environment and is
// stopped (SIGTERM, then SIGKILL) the moment the lock is lost.

import { spawn, type ChildProcess } from 'node:child_process';
import { Command, Option, UsageError } from '../clipanion.js';
import { parseDuration } from '../../duration.js';
import type { AgentClient } from '../client.js';
import { HttpCommand } from '../command.js';
import { CliError } from '../errors.js';
import { kvUrl } from './kv/common.js';
import { createSession } from './session/common.js';

const KILL_GRACE_MS = 5000;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export class LockCommand extends HttpCommand {
  static override paths = [['lock']];
  static override usage = Command.Usage({
    category: 'Sessions and locks',
    description: 'Run a command while holding a lock',
    details: `
      Creates a session, waits until it holds the lock on PREFIX/.lock, then runs COMMAND. With one
      argument COMMAND runs through /bin/sh -c; with several, directly. While it runs the session is
      renewed every half TTL and the lock is watched; if the lock is lost (the session invalidated,
      the key deleted or taken) the command gets SIGTERM, then SIGKILL after 5s, and konsul lock exits
      with status 1. When the command ends, the lock is released, the session destroyed, and konsul
      lock exits with the command's status.

      The command's environment has KONSUL_LOCK_KEY, KONSUL_LOCK_SESSION and KONSUL_FENCING_TOKEN:
      the fencing token is the Raft index of the write that acquired the lock, larger for every later
      acquisition. Pass it with writes (PUT /v1/kv/<key>?fence=<token>&fence-key=<lock key>, or a
      check-fence operation in /v1/txn) and a holder that lost the lock cannot write any more.

      With --json, once the lock is held konsul lock prints one JSON line ({"Key", "Session",
      "FencingToken"}) before the command's output.
    `,
    examples: [
      ['Run a job on one machine at a time', '$0 lock jobs/backup -- ./backup.sh'],
      ['A shell command', '$0 lock jobs/report "make report && upload report.pdf"'],
      ['Give up after 30s of waiting', '$0 lock --timeout 30s jobs/backup -- ./backup.sh'],
    ],
  });

  ttl = Option.String('--ttl', '15s', { description: 'The session\'s TTL (10s to 24h); renewed every half TTL' });
  lockDelay = Option.String('--lock-delay', '15s', { description: 'Lock-delay of the session (0s to 60s)' });
  timeout = Option.String('--timeout', '0', { description: 'Give up waiting for the lock after this long (0: wait forever)' });
  name = Option.String('--name', { description: 'The session\'s name (default: "konsul lock <prefix>")' });
  prefix = Option.String({ name: 'prefix' });
  command = Option.Rest({ name: 'command', required: 1 });

  protected async run(client: AgentClient): Promise<number> {
    const ttlMs = parseDuration(this.ttl);
    if (ttlMs === undefined || ttlMs < 10_000 || ttlMs > 86_400_000) throw new UsageError(`--ttl: "${this.ttl}" is not a duration from 10s to 24h`);
    const timeoutMs = parseDuration(this.timeout);
    if (timeoutMs === undefined || timeoutMs < 0) throw new UsageError(`--timeout: "${this.timeout}" is not a duration`);
    if (parseDuration(this.lockDelay) === undefined) throw new UsageError(`--lock-delay: "${this.lockDelay}" is not a duration`);
    const prefix = this.prefix.replace(/\/+$/, '');
    if (prefix === '') throw new UsageError('a key prefix is needed (example: jobs/backup)');
    const key = `${prefix}/.lock`;

    const session = await createSession(client, { Name: this.name ?? `konsul lock ${prefix}`, TTL: this.ttl, LockDelay: this.lockDelay, Behavior: 'release' });
    let stopRenewing = false;
    let lost: string | undefined;
    let child: ChildProcess | undefined;
    const loseLock = (why: string): void => {
      if (lost !== undefined) return;
      lost = why;
      if (child && child.exitCode === null) {
        this.context.stderr.write(`konsul lock: ${why}; stopping the command\n`);
        signalGroup(child, 'SIGTERM');
        setTimeout(() => child?.exitCode === null && signalGroup(child, 'SIGKILL'), KILL_GRACE_MS).unref();
      }
    };
    // Renew from the start: waiting for the lock may take longer than the TTL.
    const renewer = (async () => {
      while (!stopRenewing) {
        await sleep(ttlMs / 2);
        if (stopRenewing) break;
        try {
          const r = await client.call('PUT', `/v1/session/renew/${session}`, { allow: [404] });
          if (r.status === 404) loseLock(`session ${session} ended (invalidated)`);
        } catch {
          // The agent is unreachable for now; the watcher and the TTL decide.
        }
      }
    })();

    try {
      const token = await this.acquire(client, key, session, timeoutMs);
      if (token === undefined) throw new CliError(`timed out after ${this.timeout} waiting for the lock on ${key}`);
      // --json: one line saying what is held, before the command's own output (as etcdctl lock prints the key it holds).
      if (this.json) this.context.stdout.write(`${JSON.stringify({ Key: key, Session: session, FencingToken: Number(token) })}\n`);
      const [cmd, ...args] = this.command.length === 1 ? ['/bin/sh', '-c', this.command[0]!] : this.command;
      child = spawn(cmd!, args, {
        stdio: ['inherit', 'pipe', 'pipe'],
        // Its own process group, so stopping it stops what it started too (a shell's children).
        detached: true,
        env: { ...this.context.env, KONSUL_LOCK_KEY: key, KONSUL_LOCK_SESSION: session, KONSUL_FENCING_TOKEN: token, CONSUL_LOCK_HELD: 'true' },
      });
      child.stdout!.pipe(this.context.stdout, { end: false });
      child.stderr!.pipe(this.context.stderr, { end: false });
      const forward = (signal: NodeJS.Signals): void => signalGroup(child, signal);
      process.on('SIGINT', forward);
      process.on('SIGTERM', forward);
      const exited = new Promise<number>((resolve, reject) => {
        child!.once('error', (error) => reject(new CliError(`cannot run ${cmd}: ${error.message}`)));
        child!.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? osSignal(signal) : 1)));
      });
      const watcher = this.watch(client, key, session, () => child?.exitCode !== null, loseLock);
      const code = await exited.finally(() => {
        process.off('SIGINT', forward);
        process.off('SIGTERM', forward);
      });
      void watcher;
      if (lost !== undefined) throw new CliError(`lock on ${key} lost while the command ran (${lost}); it was stopped`);
      return code;
    } finally {
      stopRenewing = true;
      await client.call('PUT', kvUrl(key, { release: session }), { allow: [400, 404, 500] }).catch(() => undefined);
      await client.call('PUT', `/v1/session/destroy/${session}`, { allow: [400, 404, 500] }).catch(() => undefined);
      void renewer;
    }
  }

  /** Waits for the lock; the fencing token once held, undefined when --timeout passed. */
  private async acquire(client: AgentClient, key: string, session: string, timeoutMs: number): Promise<string | undefined> {
    const deadline = timeoutMs === 0 ? Infinity : Date.now() + timeoutMs;
    let index = '0';
    for (;;) {
      const r = await client.call('PUT', kvUrl(key, { acquire: session }), { body: '' });
      if (r.text().trim() === 'true') return r.header('x-konsul-fencing-token') ?? '0';
      if (Date.now() >= deadline) return undefined;
      // Wait for the key to change (released, deleted), but at most a second: the lock-delay ends without a change.
      const wait = Math.max(1, Math.min(1000, deadline - Date.now()));
      const got = await client.call('GET', kvUrl(key, { index, wait: `${Math.ceil(wait)}ms` }), { allow: [404] });
      index = got.header('x-consul-index') ?? index;
    }
  }

  /** Watches the lock key while the command runs; calls lose() when this session no longer holds it. */
  private async watch(client: AgentClient, key: string, session: string, done: () => boolean, lose: (why: string) => void): Promise<void> {
    let index = '0';
    while (!done()) {
      try {
        const r = await client.call('GET', kvUrl(key, { index, wait: '10s' }), { allow: [404] });
        if (done()) return;
        if (r.status === 404) return lose(`the lock key ${key} was deleted`);
        const [entry] = r.json<Array<{ Session?: string }>>();
        if (entry?.Session !== session) return lose(`the lock on ${key} is no longer held by this session`);
        index = r.header('x-consul-index') ?? index;
      } catch {
        await sleep(500);
      }
    }
  }
}

/** Signals the command's process group (falls back to the process alone). */
function signalGroup(child: ChildProcess | undefined, signal: NodeJS.Signals): void {
  if (!child || child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

function osSignal(signal: NodeJS.Signals): number {
  const n: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };
  return n[signal] ?? 1;
}
