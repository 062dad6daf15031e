// Start-up as one ordered list: components start in order, stop in reverse,
// and a failed start undoes exactly what had started, in reverse.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Components, type Component } from '../../src/main/components.js';

function recorder(names: string[], failStart?: string, failStop?: string): { list: Component[]; log: string[]; warnings: string[] } {
  const log: string[] = [];
  const warnings: string[] = [];
  const list = names.map((name) => ({
    name,
    start: async () => {
      if (name === failStart) throw new Error(`${name} cannot start`);
      log.push(`start ${name}`);
    },
    stop: () => {
      log.push(`stop ${name}`);
      if (name === failStop) throw new Error(`${name} cannot stop`);
    },
  }));
  return { list, log, warnings };
}

test('components start in order and stop in reverse', async () => {
  const r = recorder(['storage', 'raft', 'http', 'dns']);
  const c = new Components({ warn: () => {} });
  await c.startAll(r.list);
  assert.deepEqual(c.names(), ['storage', 'raft', 'http', 'dns']);
  await c.stopAll();
  assert.deepEqual(r.log, ['start storage', 'start raft', 'start http', 'start dns', 'stop dns', 'stop http', 'stop raft', 'stop storage']);
  assert.deepEqual(c.names(), []);
});

test('a failed start undoes what started, in reverse, and throws the cause', async () => {
  const r = recorder(['storage', 'raft', 'http', 'dns'], 'http');
  const c = new Components({ warn: () => {} });
  await assert.rejects(c.startAll(r.list), /http cannot start/);
  assert.deepEqual(r.log, ['start storage', 'start raft', 'stop raft', 'stop storage']);
});

test('a component that fails to stop is logged and the rest still stop', async () => {
  const r = recorder(['storage', 'raft', 'http'], undefined, 'raft');
  const warned: string[] = [];
  const c = new Components({ warn: (fields) => warned.push(String(fields.component)) });
  await c.startAll(r.list);
  await c.stopAll();
  assert.deepEqual(r.log.slice(3), ['stop http', 'stop raft', 'stop storage']);
  assert.deepEqual(warned, ['raft']);
});
