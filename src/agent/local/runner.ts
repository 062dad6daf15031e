// Runs one health check as Consul's agent does (HTTP, TCP, TTL, script, and
// gRPC, H2PING, UDP and alias through probes.ts and its owner),
// applies its success/failure thresholds and reports each status change.

import { spawn } from 'node:child_process';
import { STATUS_CODES } from 'node:http';
import { connect } from 'node:net';
import type { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import type { Dispatcher } from 'undici';

// undici is loaded when the first HTTP check runs: it is ~20 MB of resident memory an agent without one never needs.
let undici: typeof import('undici') | undefined;
const lazyUndici = (): typeof import('undici') => (undici ??= createRequire(import.meta.url)('undici') as typeof import('undici'));
import { KonsulError } from '../../errors.js';
import type { HealthStatus } from '../../state/catalog-types.js';
import type { CheckDefinition } from './definitions.js';
import { probeGrpc, probeH2Ping, probeUdp } from './probes.js';

/** Consul waits for a UDP answer up to the check's timeout; konsul at most this long (an ICMP error comes at once). */
const UDP_READ_WINDOW_MS = 2000;

export interface CheckResult {
  status: HealthStatus;
  output: string;
}

/** The subset of pino's logger a runner uses; a pino logger fits as it is. */
export interface CheckLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface CheckRunnerOptions {
  logger?: CheckLogger;
  /** The most output kept from one run (Consul's OutputMaxSize). Default 4096. */
  maxOutputBytes?: number;
  /** The environment of script checks. Default: this process's. */
  env?: NodeJS.ProcessEnv;
  /** For alias checks: the aliased service's (or node's) health now. */
  aliasHealth?: (alias: NonNullable<CheckDefinition['alias']>) => CheckResult;
  /**
   * Where the check starts: the status and output a restored or re-registered
   * check already had. Default: the definition's initialStatus, no output.
   */
  initial?: CheckResult;
}

export const DEFAULT_MAX_OUTPUT_BYTES = 4096;
/** Go's http.Client follows this many redirects; Consul's HTTP checks use it as it is. */
const MAX_REDIRECTS = 10;
/** Consul's request headers, sent unless the check sets its own. */
const DEFAULT_HTTP_HEADERS: Readonly<Record<string, string>> = {
  'User-Agent': 'Consul Health Check',
  Accept: 'text/plain, text/*, */*',
};

/** The abort reason of a run that took longer than the check's Timeout. */
class RunTimeout extends Error {
  constructor(readonly timeoutMs: number) {
    super(`timed out after ${formatDuration(timeoutMs)}`);
    this.name = 'RunTimeout';
  }
}

/** The abort reason of a run cut short by stop(); its result is never recorded. */
class RunStopped extends Error {
  constructor() {
    super('check stopped');
    this.name = 'RunStopped';
  }
}

/**
 * One check's life: runs it every interval (HTTP, TCP, script) or waits for
 * its TTL updates, and calls `onChange` when, and only when, its status
 * changes. The owner registers and deregisters; the runner only reports.
 */
/** How often an output-only change (same status) is passed on; Consul's check_update_interval default. */
export const OUTPUT_UPDATE_INTERVAL_MS = 5 * 60_000;

export class CheckRunner {
  readonly definition: CheckDefinition;
  private readonly onChange: (status: HealthStatus, output: string) => void;
  private readonly logger: CheckLogger | undefined;
  private readonly maxOutputBytes: number;
  private readonly env: NodeJS.ProcessEnv;
  private readonly aliasHealth: CheckRunnerOptions['aliasHealth'];

  private current: CheckResult;
  /** performance.now() when the check last turned critical; undefined while it is not. */
  private criticalSince: number | undefined;
  /** Consecutive passing-or-warning and critical results, for the thresholds. */
  private successes = 0;
  private failures = 0;

  private running = false;
  /** Raised by stop(): a run begun before it must not record its result. */
  private generation = 0;
  /** The first run (after the stagger), then the interval; or the TTL deadline. */
  private firstRunTimer: NodeJS.Timeout | undefined;
  private intervalTimer: NodeJS.Timeout | undefined;
  private ttlTimer: NodeJS.Timeout | undefined;
  /** The run in flight, if any; aborting it cancels the request, the connect or the script. */
  private inFlight: AbortController | undefined;
  /** HTTP checks: one dispatcher for the runner's life (TLS options, redirects), closed by stop(). */
  private dispatcher: Dispatcher | undefined;
  private readonly httpHeaders: Record<string, string | string[]> = {};
  /** When onChange last carried this check's output (performance.now()). */
  private outputPushedAt = -Infinity;
  /** TTL checks: the last output given, repeated when the TTL expires (Consul does). */
  private lastTtlOutput = '';

  constructor(def: CheckDefinition, onChange: (status: HealthStatus, output: string) => void, options: CheckRunnerOptions = {}) {
    const max = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    if (!Number.isSafeInteger(max) || max < 1) throw new TypeError(`maxOutputBytes must be a positive integer, got ${max}`);
    if (def.kind === 'http' && !def.http) throw new TypeError(`check ${def.id}: an http check needs def.http`);
    if (def.kind === 'tcp' && !def.tcp) throw new TypeError(`check ${def.id}: a tcp check needs def.tcp`);
    if (def.kind === 'script' && !def.script?.args.length) throw new TypeError(`check ${def.id}: a script check needs def.script.args`);
    if (def.kind === 'ttl' && !(def.ttlMs! > 0)) throw new TypeError(`check ${def.id}: a ttl check needs def.ttlMs > 0`);
    if (def.kind !== 'ttl' && !(def.intervalMs > 0 && def.timeoutMs > 0)) {
      throw new TypeError(`check ${def.id}: intervalMs and timeoutMs must be more than 0`);
    }
    this.definition = def;
    this.onChange = onChange;
    this.logger = options.logger;
    this.maxOutputBytes = max;
    this.env = options.env ?? process.env;
    this.aliasHealth = options.aliasHealth;
    this.current = options.initial ? { ...options.initial } : { status: def.initialStatus, output: '' };
    if (this.current.status === 'critical') this.criticalSince = performance.now();

    if (def.http) {
      Object.assign(this.httpHeaders, def.http.headers);
      const given = new Set(Object.keys(def.http.headers).map((name) => name.toLowerCase()));
      for (const [name, value] of Object.entries(DEFAULT_HTTP_HEADERS)) {
        if (!given.has(name.toLowerCase())) this.httpHeaders[name] = value;
      }
    }
  }

  /**
   * Starts the check. A TTL check's deadline starts now. Other checks first
   * run after a random stagger within one interval, as Consul does, so that
   * an agent starting with many checks does not fire them all at once; then
   * every interval.
   */
  start(): void {
    if (this.running) return;
    this.running = true;
    const def = this.definition;
    if (def.kind === 'ttl') {
      this.armTtl();
      return;
    }
    this.firstRunTimer = setTimeout(() => {
      this.firstRunTimer = undefined;
      this.intervalTimer = setInterval(() => this.runOnce(), def.intervalMs);
      this.runOnce();
    }, Math.random() * def.intervalMs);
  }

  /** Stops the timers, aborts an HTTP request or connect in flight, kills a running script. start() may follow. */
  stop(): void {
    if (!this.running) return;
    this.running = false;
    this.generation++;
    clearTimeout(this.firstRunTimer);
    clearInterval(this.intervalTimer);
    clearTimeout(this.ttlTimer);
    this.firstRunTimer = this.intervalTimer = this.ttlTimer = undefined;
    this.inFlight?.abort(new RunStopped());
    const dispatcher = this.dispatcher;
    this.dispatcher = undefined;
    dispatcher?.destroy().catch(() => {});
  }

  status(): CheckResult {
    return { ...this.current };
  }

  /** performance.now() when the check turned critical (or started critical); undefined while it is not critical. */
  criticalSinceMs(): number | undefined {
    return this.criticalSince;
  }

  /**
   * A TTL check's update (PUT /v1/agent/check/pass|warn|fail|update/<id>):
   * sets the status at once (no thresholds, as in Consul) and restarts the
   * TTL. Output longer than maxOutputBytes is cut, saying so.
   */
  ttlUpdate(status: HealthStatus, output = ''): void {
    const def = this.definition;
    if (def.kind !== 'ttl') throw new KonsulError('KONSUL_ERR_NOT_TTL_CHECK', `check "${def.id}" is not a TTL check`, 'invalid');
    const total = Buffer.byteLength(output, 'utf8');
    if (total > this.maxOutputBytes) {
      output = `${utf8Head(Buffer.from(output, 'utf8'), this.maxOutputBytes)} ... (captured ${this.maxOutputBytes} of ${total} bytes)`;
    }
    this.lastTtlOutput = output;
    this.update(status, output);
    if (this.running) this.armTtl();
  }

  // ------------------------------------------------------------ status

  /**
   * Records a result; calls onChange when the status moves, when a check that has never said why
   * gets its first output (a check that fails from its first run: it starts critical, so its status
   * does not move, but its output must show), and for an output-only change at most every
   * OUTPUT_UPDATE_INTERVAL_MS (Consul's check_update_interval), so a check whose output differs on
   * every run does not write to the catalog on every run.
   */
  private update(status: HealthStatus, output: string): void {
    const now = performance.now();
    const outputOnly = status === this.current.status && output !== this.current.output
      && (this.current.output === '' || now - this.outputPushedAt >= OUTPUT_UPDATE_INTERVAL_MS);
    const changed = status !== this.current.status || outputOnly;
    if (changed) this.outputPushedAt = now;
    this.current = { status, output };
    if (status !== 'critical') this.criticalSince = undefined;
    else if (this.criticalSince === undefined) this.criticalSince = performance.now();
    if (!changed) return;
    this.logger?.debug({ check: this.definition.id, status }, 'check status changed');
    try {
      this.onChange(status, output);
    } catch (error) {
      this.logger?.warn({ check: this.definition.id, err: error }, 'check status listener threw');
    }
  }

  /**
   * SuccessBeforePassing / FailuresBeforeCritical / FailuresBeforeWarning, as
   * Consul's StatusHandler: warning counts as a success; a result short of
   * its threshold changes nothing, output included.
   *
   * One deliberate difference: Consul starts both counters at their
   * thresholds, so a new check's first result applies at once whatever the
   * thresholds say (nomad#9189, consul#10256). Here they start at 0, so a new
   * check turns passing only after SuccessBeforePassing successes.
   */
  private applyThresholds(result: CheckResult): void {
    const def = this.definition;
    if (result.status !== 'critical') {
      this.successes++;
      this.failures = 0;
      if (this.successes >= def.successBeforePassing) this.update(result.status, result.output);
      return;
    }
    this.failures++;
    this.successes = 0;
    if (this.failures >= def.failuresBeforeCritical) this.update('critical', result.output);
    else if (this.failures >= (def.failuresBeforeWarning ?? def.failuresBeforeCritical)) this.update('warning', result.output);
  }

  private armTtl(): void {
    clearTimeout(this.ttlTimer);
    this.ttlTimer = setTimeout(() => {
      this.ttlTimer = undefined;
      this.logger?.warn({ check: this.definition.id }, 'check missed its TTL, now critical');
      const last = this.lastTtlOutput;
      this.update('critical', last ? `TTL expired (last output before timeout follows): ${last}` : 'TTL expired');
    }, this.definition.ttlMs);
  }

  // ------------------------------------------------------------ runs

  /** One run, unless the previous one is still going (then this interval is skipped). */
  private runOnce(): void {
    const def = this.definition;
    if (this.inFlight) {
      this.logger?.debug({ check: def.id }, 'check still running from the last interval; skipping this one');
      return;
    }
    const run = new AbortController();
    this.inFlight = run;
    const generation = this.generation;
    const deadline = setTimeout(() => run.abort(new RunTimeout(def.timeoutMs)), def.timeoutMs);
    this.probe(run.signal)
      .then((result) => {
        if (generation === this.generation) this.applyThresholds(result);
      })
      .catch((error: unknown) => {
        this.logger?.warn({ check: def.id, err: error }, 'check run failed unexpectedly');
      })
      .finally(() => {
        clearTimeout(deadline);
        if (this.inFlight === run) this.inFlight = undefined;
      });
  }

  private async probe(signal: AbortSignal): Promise<CheckResult> {
    switch (this.definition.kind) {
      case 'http': return this.probeHttp(signal);
      case 'tcp': return this.probeTcp(signal);
      case 'script': return this.probeScript(signal);
      case 'ttl': throw new Error('TTL checks do not run');
      case 'maintenance': throw new Error('maintenance checks do not run');
      case 'grpc': return probeGrpc(this.definition.grpc!, signal);
      case 'h2ping': return probeH2Ping(this.definition.h2ping!, signal);
      // The read window stays inside the run's timeout: silence until then is a pass.
      case 'udp': return probeUdp(this.definition.udp!, Math.min(this.definition.timeoutMs / 2, UDP_READ_WINDOW_MS), signal);
      case 'alias': {
        const alias = this.aliasHealth;
        if (!alias) return { status: 'critical', output: 'alias checks need the agent\'s catalog' };
        return alias(this.definition.alias!);
      }
    }
  }

  /** 2xx passing, 429 warning, anything else or no answer critical. Output: `HTTP GET <url>: 200 OK Output: <body head>`. */
  private async probeHttp(signal: AbortSignal): Promise<CheckResult> {
    const http = this.definition.http!;
    const what = `HTTP ${http.method} ${http.url}`;
    const { Agent, interceptors, request } = lazyUndici();
    this.dispatcher ??= new Agent({ connect: { rejectUnauthorized: !http.tlsSkipVerify } })
      .compose(interceptors.redirect({ maxRedirections: MAX_REDIRECTS }));
    let res: Dispatcher.ResponseData;
    try {
      res = await request(http.url, {
        method: http.method,
        headers: this.httpHeaders,
        body: http.body,
        signal,
        dispatcher: this.dispatcher,
        // No keep-alive, as Consul: a connection the server closed while idle
        // between runs would otherwise fail the next run.
        reset: true,
      });
    } catch (error) {
      return { status: 'critical', output: `${what}: ${errorText(error)}` };
    }
    const code = res.statusCode;
    const head = await readHead(res.body, this.maxOutputBytes);
    const status: HealthStatus = code >= 200 && code <= 299 ? 'passing' : code === 429 ? 'warning' : 'critical';
    return { status, output: `${what}: ${code} ${res.statusText || STATUS_CODES[code] || ''} Output: ${head}` };
  }

  /** Passing when a TCP connection opens within the timeout. */
  private probeTcp(signal: AbortSignal): Promise<CheckResult> {
    const { host, port } = this.definition.tcp!;
    const what = `TCP connect ${host.includes(':') ? `[${host}]` : host}:${port}`;
    return new Promise((resolve) => {
      const socket = connect({ host, port });
      const settle = settleOnce(signal, (result) => {
        socket.destroy();
        resolve(result);
      }, () => settle({ status: 'critical', output: `${what}: ${errorText(signal.reason)}` }));
      socket.once('connect', () => settle({ status: 'passing', output: `${what}: Success` }));
      socket.on('error', (error) => settle({ status: 'critical', output: `${what}: ${error.message}` }));
    });
  }

  /**
   * Runs Args without a shell: exit 0 passing, 1 warning, anything else
   * critical (Nagios plugin conventions). The script gets its own process
   * group so a timeout kills whatever it started, as Consul's
   * KillCommandSubtree does. Output: stdout and stderr as they arrive, the
   * last maxOutputBytes of it.
   */
  private probeScript(signal: AbortSignal): Promise<CheckResult> {
    const [command, ...args] = this.definition.script!.args as [string, ...string[]];
    return new Promise((resolve) => {
      let child: ReturnType<typeof spawn>;
      try {
        child = spawn(command, args, { env: this.env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      } catch (error) {
        resolve({ status: 'critical', output: `${command}: ${errorText(error)}` });
        return;
      }
      const output = new OutputTail(this.maxOutputBytes);
      child.stdout!.on('data', (chunk: Buffer) => output.write(chunk));
      child.stderr!.on('data', (chunk: Buffer) => output.write(chunk));

      // On abort (timeout or stop) kill the group, then settle on 'close' as usual.
      // Our ends of the pipes are closed too: something that left the group
      // (setsid) may hold them open, and 'close' waits for them.
      const settle = settleOnce(signal, resolve, () => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          child.kill('SIGKILL'); // the group is gone already, or never formed
        }
        child.stdout!.destroy();
        child.stderr!.destroy();
      });
      // Without a pid the command never started (ENOENT, EACCES): there is no 'close' to wait for.
      child.on('error', (error) => {
        if (child.pid === undefined) settle({ status: 'critical', output: `${command}: ${error.message}` });
      });
      // 'close' comes after the process exited and its pipes closed: nothing of the run is left behind.
      child.on('close', (code) => {
        const text = output.text();
        if (signal.reason instanceof RunTimeout) {
          const message = `Timed out (${formatDuration(signal.reason.timeoutMs)}) running check`;
          settle({ status: 'critical', output: text ? `${message}\n\n${text}` : message });
          return;
        }
        settle({ status: code === 0 ? 'passing' : code === 1 ? 'warning' : 'critical', output: text });
      });
    });
  }
}

/**
 * `resolve` made safe to call more than once (only the first call counts),
 * with `onAbort` listening to the run's signal until then.
 */
function settleOnce(signal: AbortSignal, resolve: (result: CheckResult) => void, onAbort: () => void): (result: CheckResult) => void {
  let settled = false;
  signal.addEventListener('abort', onAbort, { once: true });
  return (result) => {
    if (settled) return;
    settled = true;
    signal.removeEventListener('abort', onAbort);
    resolve(result);
  };
}

// ------------------------------------------------------------ output

/** `buf` cut to at most `max` bytes, at a character boundary, as text. */
function utf8Head(buf: Buffer, max: number): string {
  if (buf.length <= max) return buf.toString('utf8');
  let end = max;
  // Back off continuation bytes (10xxxxxx) so no character is cut in half.
  while (end > 0 && (buf[end]! & 0xc0) === 0x80) end--;
  return buf.toString('utf8', 0, end);
}

/** The first `max` bytes of a response body; the rest is not read. A body cut short keeps what came. */
async function readHead(body: Readable, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of body) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= max) break; // leaving the loop destroys the stream
    }
  } catch {
    // Consul too reports the status with whatever part of the body arrived.
  }
  body.destroy();
  return utf8Head(Buffer.concat(chunks), max);
}

/**
 * The last `max` bytes written, and how many were written in all: a script's
 * last lines say most about why it failed (Consul keeps a ring buffer too).
 */
class OutputTail {
  private tail: Buffer = Buffer.alloc(0);
  private total = 0;

  constructor(private readonly max: number) {}

  write(chunk: Buffer): void {
    this.total += chunk.length;
    const joined = chunk.length >= this.max ? chunk : Buffer.concat([this.tail, chunk]);
    // Copy the kept part so a large chunk is not held on to.
    this.tail = joined.length > this.max ? Buffer.from(joined.subarray(joined.length - this.max)) : joined;
  }

  /** The output; when some was dropped, Consul's `Captured N of M bytes\n...\n` first. */
  text(): string {
    if (this.total <= this.max) return this.tail.toString('utf8');
    let start = 0;
    // The cut may have landed inside a character: skip its continuation bytes.
    while (start < this.tail.length && (this.tail[start]! & 0xc0) === 0x80) start++;
    return `Captured ${this.max} of ${this.total} bytes\n...\n${this.tail.toString('utf8', start)}`;
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A duration in Go's notation, as Consul prints it: 300ms, 10s, 1m30s, 1h0m0s. */
function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.floor((ms % 3_600_000) / 60_000);
  const seconds = Number(((ms % 60_000) / 1000).toFixed(3));
  if (hours > 0) return `${hours}h${minutes}m${seconds}s`;
  return minutes > 0 ? `${minutes}m${seconds}s` : `${seconds}s`;
}
