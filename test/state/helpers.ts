// Shared helpers for the state machine tests: a StateMachine on a real LMDB
// store in a temp dir that is closed and removed when the test ends, and an
// applier that hands it one command per Raft index.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { STATE_TABLES, StateMachine, encodeCommand, type ApplyResult, type Command } from '../../src/state/index.js';
import { openStorage, type NodeStorage } from '../../src/storage/index.js';

export interface OpenedState {
  dir: string;
  storage: NodeStorage;
  sm: StateMachine;
  /** Close the storage now (a restart); the dir stays until the test ends. */
  close(): Promise<void>;
}

export interface StateFixture {
  /** A fresh temp dir. */
  dir(): string;
  /** Storage in `dir` (a fresh one by default) with the state machine's tables, and a StateMachine on it. */
  open(dir?: string, mapSize?: number): OpenedState;
}

/** Temp dirs and stores for one test; when it ends, every store is closed and then every dir removed. */
export function stateFixture(t: TestContext): StateFixture {
  const dirs: string[] = [];
  const closers: Array<() => Promise<void>> = [];
  t.after(async () => {
    for (const close of closers) await close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });
  const fixture: StateFixture = {
    dir: () => {
      const dir = mkdtempSync(join(tmpdir(), 'konsul-state-'));
      dirs.push(dir);
      return dir;
    },
    open: (dir = fixture.dir(), mapSize) => {
      const storage = openStorage(dir, { state: { tables: STATE_TABLES, mapSize } });
      let closed = false;
      const close = async (): Promise<void> => {
        if (closed) return;
        closed = true;
        await storage.close();
      };
      closers.push(close);
      return { dir, storage, sm: new StateMachine(storage.state), close };
    },
  };
  return fixture;
}

/** Applies one command per call at the next Raft index, as the agent would after a commit. */
export class Applier {
  index: number;
  constructor(readonly sm: StateMachine) {
    this.index = sm.appliedIndex();
  }
  run(cmd: Command): ApplyResult | undefined {
    return this.sm.apply([{ index: ++this.index, command: encodeCommand(cmd) }])[0];
  }
  put(key: string, value: string, extra: { cas?: number; flags?: number } = {}): ApplyResult | undefined {
    return this.run({ type: 'kv-set', key, value: Buffer.from(value), flags: extra.flags ?? 0, cas: extra.cas });
  }
  del(key: string, extra: { cas?: number; recurse?: boolean } = {}): ApplyResult | undefined {
    return this.run({ type: 'kv-delete', key, ...extra });
  }
}

/** Lets promise callbacks and immediates run, so a waiter that was woken has settled. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Tracks whether a promise has settled, to check a waiter was NOT woken. */
export function track<T>(promise: Promise<T>): { readonly done: boolean; readonly value: T | undefined; promise: Promise<T> } {
  const state = { done: false, value: undefined as T | undefined, promise };
  void promise.then((v) => {
    state.done = true;
    state.value = v;
  });
  return state;
}
