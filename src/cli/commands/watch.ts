// `konsul watch --type TYPE [...] [HANDLER...]`: Consul's watches. Follows one
// view of the cluster with blocking queries (?index=N&wait=) and, each time it
// changes, runs HANDLER (through /bin/sh -c) with the view as JSON on stdin and
// CONSUL_INDEX / KONSUL_INDEX set, one run at a time; without a handler it
// prints the view as JSON once and exits, as `consul watch` does. An event
// watch hands the handler only the events it has not seen yet, as Consul's does.

import { spawn } from 'node:child_process';
import { Command, Option, UsageError } from '../clipanion.js';
import { keyPath, type AgentClient } from '../client.js';
import { HttpCommand } from '../command.js';
import { AgentUnreachableError, CliError } from '../errors.js';
import { EXIT } from '../exit-codes.js';

export const WATCH_TYPES = ['key', 'keyprefix', 'services', 'nodes', 'service', 'checks', 'event'] as const;
type WatchType = (typeof WATCH_TYPES)[number];

/** How long one blocking query waits at the agent. */
const WAIT = '60s';
const WAIT_TIMEOUT_MS = 90_000;

export class WatchCommand extends HttpCommand {
  static override paths = [['watch']];
  static override usage = Command.Usage({
    category: 'KV',
    description: 'Watch a key, a prefix, the services, nodes, a service\'s instances, checks or user events; run a handler on each change',
    details: `
      --type is one of key (with --key), keyprefix (--prefix), services, nodes, service (--service,
      optionally --tag and --passingonly) and checks (--service, or --state: any, passing, warning or
      critical) and event (optionally --name). The view is Consul's API JSON for it (GET /v1/kv/KEY,
      /v1/kv/PREFIX?recurse, /v1/catalog/services, /v1/catalog/nodes, /v1/health/service/NAME,
      /v1/health/checks/NAME, /v1/health/state/STATE or /v1/event/list?name=NAME).

      With a HANDLER (the words after the options, run by /bin/sh -c) it runs until Ctrl-C: the handler
      runs at start and after each change, with the view as JSON on stdin and CONSUL_INDEX (and
      KONSUL_INDEX) set to the view's index; a missing key is "null". Without a handler it prints the
      view once and exits.

      An event watch's view is a list of events (Payload in base64, as the API has it): at start the
      events this agent holds, then on each run only those fired since the last run (an event fired
      for other agents, or under another --name, runs nothing), as in Consul.
    `,
    examples: [
      ['Print a key as JSON', '$0 watch --type key --key config/web/port'],
      ['Run a script each time anything under a prefix changes', '$0 watch --type keyprefix --prefix config/ ./reload-config.sh'],
      ['The passing instances of web, through jq', '$0 watch --type service --service web --passingonly "jq -r \'.[].Service.Port\'"'],
      ['Every critical check', '$0 watch --type checks --state critical'],
      ['Run a script on each deploy event', '$0 watch --type event --name deploy ./deploy.sh'],
    ],
  });

  type = Option.String('--type', { description: `What to watch: ${WATCH_TYPES.join(', ')}` });
  key = Option.String('--key', { description: 'With --type key: the key' });
  prefix = Option.String('--prefix', { description: 'With --type keyprefix: the prefix' });
  service = Option.String('--service', { description: 'With --type service (or checks): the service' });
  tag = Option.Array('--tag', { description: 'With --type service: only instances with this tag (repeatable)' });
  passingonly = Option.Boolean('--passingonly', false, { description: 'With --type service: only instances whose checks pass' });
  state = Option.String('--state', { description: 'With --type checks: any, passing, warning or critical' });
  name = Option.String('--name', { description: 'With --type event: only events of this name' });
  handler = Option.Rest({ name: 'handler' });

  /** The endpoint for this watch, checked against what each type takes. */
  private endpoint(): { path: string; missing: string } {
    const type = this.type as WatchType | undefined;
    if (type === undefined) throw new UsageError(`--type is needed: one of ${WATCH_TYPES.join(', ')}`);
    if (!(WATCH_TYPES as readonly string[]).includes(type)) throw new UsageError(`--type: "${type}" is not one of ${WATCH_TYPES.join(', ')}`);
    const given: Array<[string, unknown]> = [['--key', this.key], ['--prefix', this.prefix], ['--service', this.service], ['--tag', this.tag], ['--state', this.state], ['--passingonly', this.passingonly || undefined], ['--name', this.name]];
    const allowed: Record<WatchType, string[]> = {
      key: ['--key'], keyprefix: ['--prefix'], services: [], nodes: [], service: ['--service', '--tag', '--passingonly'], checks: ['--service', '--state'], event: ['--name'],
    };
    const stray = given.find(([flag, v]) => v !== undefined && !allowed[type].includes(flag));
    if (stray) throw new UsageError(`${stray[0]} does not go with --type ${type}`);
    switch (type) {
      case 'key':
        if (!this.key) throw new UsageError('--type key needs --key');
        return { path: `/v1/kv/${keyPath(this.key)}`, missing: 'null' };
      case 'keyprefix':
        if (this.prefix === undefined) throw new UsageError('--type keyprefix needs --prefix');
        return { path: `/v1/kv/${keyPath(this.prefix)}?recurse`, missing: '[]' };
      case 'services':
        return { path: '/v1/catalog/services', missing: '{}' };
      case 'nodes':
        return { path: '/v1/catalog/nodes', missing: '[]' };
      case 'service': {
        if (!this.service) throw new UsageError('--type service needs --service');
        const q = [...(this.tag ?? []).map((t) => `tag=${encodeURIComponent(t)}`), ...(this.passingonly ? ['passing'] : [])];
        return { path: `/v1/health/service/${encodeURIComponent(this.service)}${q.length ? `?${q.join('&')}` : ''}`, missing: '[]' };
      }
      case 'checks': {
        if (this.service !== undefined && this.state !== undefined) throw new UsageError('--service and --state cannot be used together');
        if (this.service !== undefined) return { path: `/v1/health/checks/${encodeURIComponent(this.service)}`, missing: '[]' };
        const state = this.state ?? 'any';
        if (!['any', 'passing', 'warning', 'critical'].includes(state)) throw new UsageError(`--state: "${state}" is not one of any, passing, warning, critical`);
        return { path: `/v1/health/state/${state}`, missing: '[]' };
      }
      case 'event':
        return { path: `/v1/event/list${this.name ? `?name=${encodeURIComponent(this.name)}` : ''}`, missing: '[]' };
    }
  }

  protected async run(client: AgentClient): Promise<number> {
    const { path, missing } = this.endpoint();
    const join = path.includes('?') ? '&' : '?';
    let index = 0;
    let last: string | undefined;
    /** An event watch: the newest event's LTime handed over so far. */
    let lastEvent = 0;
    let failures = 0;
    let stopped = false;
    const stop = (): void => {
      stopped = true;
      void client.close(); // ends the blocking query in flight
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      while (!stopped) {
        let answer;
        try {
          const query = index > 0 ? `${join}index=${index}&wait=${WAIT}` : '';
          answer = await client.call('GET', `${path}${query}`, { allow: [404], timeoutMs: WAIT_TIMEOUT_MS });
          failures = 0;
        } catch (error) {
          if (stopped) break;
          // Without a handler there is nothing to keep going for; with one, a watch outlives an agent restart.
          if (this.handler.length === 0 || !(error instanceof AgentUnreachableError || error instanceof CliError)) throw error;
          failures++;
          this.context.stderr.write(`watch: ${(error as Error).message}; retrying\n`);
          await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** Math.min(failures, 6))));
          continue;
        }
        const header = answer.headers['x-consul-index'];
        const next = Number(Array.isArray(header) ? header[0] : header);
        // An index that goes backwards (a restore, another server) starts over, as Consul's watches do.
        const backwards = Number.isSafeInteger(next) && next > 0 && next < index;
        index = Number.isSafeInteger(next) && next > 0 ? (backwards ? 0 : next) : index;
        // Consul's API JSON as it is (a key's view is its one entry, not a list of one).
        let data = answer.status === 404 ? undefined : this.type === 'key' ? answer.json<unknown[]>()[0] ?? null : answer.json<unknown>();
        if (this.type === 'event' && Array.isArray(data)) {
          // After the first run, only the events fired since (an event's LTime is the Raft index it came at).
          const events = data as Array<{ LTime?: number }>;
          const after = backwards ? 0 : lastEvent;
          data = last === undefined ? events : events.filter((e) => (e.LTime ?? 0) > after);
          lastEvent = Math.max(backwards ? 0 : lastEvent, ...events.map((e) => e.LTime ?? 0));
          if (last !== undefined && (data as unknown[]).length === 0) continue;
        }
        const viewJson = data === undefined ? missing : JSON.stringify(data, null, 2);
        if (this.handler.length === 0) {
          this.out(viewJson);
          return EXIT.ok;
        }
        if (viewJson === last && this.type !== 'event') continue;
        last = viewJson;
        await this.runHandler(viewJson, index);
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
    return EXIT.ok;
  }

  /** The handler, through /bin/sh -c, with the view on stdin; its output goes to ours. A failing handler is reported, not fatal. */
  private runHandler(view: string, index: number): Promise<void> {
    return new Promise((resolve) => {
      const child = spawn('/bin/sh', ['-c', this.handler.join(' ')], {
        env: { ...process.env, ...this.context.env, CONSUL_INDEX: String(index), KONSUL_INDEX: String(index) },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      child.stdout.on('data', (c: Buffer) => this.context.stdout.write(c));
      child.stderr.on('data', (c: Buffer) => this.context.stderr.write(c));
      child.stdin.on('error', () => undefined); // a handler that does not read its stdin
      child.stdin.end(`${view}\n`);
      child.once('error', (error) => {
        this.context.stderr.write(`watch: handler could not run: ${error.message}\n`);
        resolve();
      });
      child.once('exit', (code, signal) => {
        if (code !== 0) this.context.stderr.write(`watch: handler exited with ${signal ?? code}\n`);
        resolve();
      });
    });
  }
}
