// The agent's logs: JSON lines when stdout is not a terminal, readable lines
// when it is (or with --log-format), held back until the start-up summary is out.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { chooseLogFormat, createAgentLogger, formatLogLine, LogOutput } from '../../src/agent/logging.js';

const BIN = new URL('../../../bin/konsul.js', import.meta.url).pathname;

class Sink {
  text = '';
  isTTY?: boolean;
  constructor(tty?: boolean) {
    this.isTTY = tty;
  }
  write(chunk: string): void {
    this.text += chunk;
  }
}

/**
 * Runs an agent under a pseudo-terminal (util-linux `script`) until it logs that it is running, then stops
 * it with SIGINT (sent by the shell inside the terminal once the test writes a line), and returns what the
 * terminal showed. No fixed delay: a loaded machine only makes it slower.
 */
async function agentOnTerminal(extra: string, env: NodeJS.ProcessEnv = {}): Promise<string> {
  const agent = `${process.execPath} ${BIN} agent --dev --http-addr 127.0.0.1:0 --dns-addr 127.0.0.1:0 ${extra}`;
  const child = spawn('script', ['-q', '-E', 'never', '-ec', `${agent} & p=$!; read line; kill -INT $p; wait $p`, '/dev/null'], {
    stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, KONSUL_LOG_FORMAT: '', KONSUL_LOG_LEVEL: '', ...env },
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let shown = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => {
    shown += s;
  });
  const deadline = Date.now() + 30_000;
  while (!shown.includes('konsul agent running') && child.exitCode === null && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  child.stdin!.write('stop\n');
  await exited;
  return shown.replace(/\r/g, '');
}

describe('agent logs', () => {
  it('auto is text on a terminal and JSON elsewhere; json and text are taken as given', () => {
    assert.equal(chooseLogFormat('auto', true), 'text');
    assert.equal(chooseLogFormat('auto', false), 'json');
    assert.equal(chooseLogFormat('auto', undefined), 'json');
    assert.equal(chooseLogFormat('json', true), 'json');
    assert.equal(chooseLogFormat('text', false), 'text');
  });

  it('a text line: time, level, message, then the fields; an error shows its message', () => {
    const time = new Date(2026, 0, 2, 3, 4, 5, 67).getTime();
    const line = JSON.stringify({ level: 40, time, pid: 1, hostname: 'h', node: 'n1', msg: 'join failed', attempt: 2, err: { message: 'no route' }, addr: 'a b' });
    assert.equal(formatLogLine(line), '03:04:05.067 WARN  n1: join failed  attempt=2 err="no route" addr="a b"\n', 'the line names the node (issue 15)');
    assert.equal(formatLogLine(JSON.stringify({ level: 30, time, msg: 'x' }), true), '03:04:05.067 \x1b[32mINFO \x1b[0m x\n');
    assert.equal(formatLogLine('not json'), 'not json\n');
  });

  it('lines are held until release(), then written in order', () => {
    const sink = new Sink();
    const output = new LogOutput(sink, 'json', false);
    const log = pino({ base: undefined }, output);
    log.info('one');
    log.info('two');
    assert.equal(sink.text, '');
    output.release();
    log.info('three');
    assert.deepEqual(sink.text.trim().split('\n').map((l) => (JSON.parse(l) as { msg: string }).msg), ['one', 'two', 'three']);
  });

  it('createAgentLogger: colour only on a terminal and without NO_COLOR; the level applies', () => {
    const tty = new Sink(true);
    const a = createAgentLogger({ logLevel: 'warn', logFormat: 'auto' }, 'n1', tty, {});
    a.output.release();
    a.logger.info('hidden');
    a.logger.warn('shown');
    assert.match(tty.text, /^\d\d:\d\d:\d\d\.\d{3} \x1b\[33mWARN \x1b\[0m n1: shown\n$/);
    const plain = new Sink(true);
    const b = createAgentLogger({ logLevel: 'info', logFormat: 'auto' }, 'n1', plain, { NO_COLOR: '1' });
    b.output.release();
    b.logger.info('hello');
    assert.match(plain.text, /^\d\d:\d\d:\d\d\.\d{3} INFO  n1: hello\n$/);
  });

  it('a real agent on a terminal: the summary first, then readable log lines; --log-format json forces JSON', async () => {
    const shown = await agentOnTerminal('', { NO_COLOR: '1' });
    const lines = shown.split('\n').filter((l) => l !== '');
    assert.match(lines[0], /^konsul agent \S+ \(server, dev mode, datacenter dc1\): bootstrapped a new cluster$/, shown);
    const logs = lines.slice(lines.findIndex((l) => l.startsWith('  logs')) + 1);
    assert.ok(logs.length >= 3, shown);
    for (const l of logs) assert.match(l, /^\d\d:\d\d:\d\d\.\d{3} (INFO|WARN|DEBUG) {1,2}\S/, l);
    // Lines logged while starting (the transport listening) come after the summary, not before it.
    assert.ok(logs.some((l) => l.includes('raft transport listening')), shown);
    assert.ok(logs.some((l) => l.includes('agent stopping')), shown);

    const json = (await agentOnTerminal('--log-format json')).split('\n').filter((l) => l.startsWith('{'));
    assert.ok(json.length >= 3);
    for (const l of json) assert.equal(typeof (JSON.parse(l) as { msg: unknown }).msg, 'string');
  });
});
