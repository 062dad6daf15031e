// `npm run jepsen -- [options]`: one run of the fault suite on real agents.
// Prints `run: <dir>` first and the one-line verdict last; exit 0 valid,
// 1 invalid, 2 usage error. `--check DIR` checks a saved run's history again.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkLinearizable, checkStaleReads } from './checks.js';
import type { JEvent } from './history.js';
import { NEMESIS_NAMES, parseNemeses } from './nemesis.js';
import { abortActive, runJepsen } from './run.js';

const USAGE = `usage: npm run jepsen -- [--time S] [--nemesis NAME[,NAME]|all|none] [--servers 3|5] [--client-agents N] [--clients N]
                        [--keys N] [--seed N] [--dir D] [--recovery S] [--cover] [--loopback] [--unsafe MODE]
                        [--lock-clients N] [--txn-clients N] [--broken-workload no-fence|split-txn]
       npm run jepsen -- --check DIR

Runs real konsul agents (in network namespaces when run as root), concurrent
clients doing read (default, ?consistent, ?stale), write, cas and delete on a
few keys through every agent, and a nemesis that injects faults. Then heals,
checks that the cluster recovers, reads every key back, compares the replicas,
and checks the history (DIR/history.jsonl) for linearizability.

  --time S        seconds of load and faults (default 60)
  --nemesis LIST  comma-separated faults, or all (default), or none:
                  ${NEMESIS_NAMES.join(', ')}
  --servers N     3 or 5 (default 3)
  --clients N     concurrent clients (default 5)
  --client-agents N  also run N client agents (non-voters with a replica) that clients go through (default 0)
  --keys N        keys the clients share (default 4)
  --seed N        seed of every random choice (default: from the clock; printed)
  --dir D         run directory, kept (default: a new one under the temp dir, removed after a valid run)
  --recovery S    after the faults stop, the cluster must recover within S seconds (default 30)
  --loopback      run every agent on 127.0.0.1 even as root (no network faults)
  --cover         keep going past --time until every chosen fault ran at least once (CI)
  --unsafe MODE   start the agents with KONSUL_UNSAFE_FOR_TESTS=MODE, to prove the checks fail:
                  stale-default-reads (default reads with no ReadIndex or lease), or
                  ack-before-commit (writes acknowledged before a majority has them), or
                  ignore-disk-full (no disk guard: a full data-dir disk is written into), or
                  ack-before-fsync (Raft log writes acknowledged before their fsync; caught by power-loss)
  --lock-clients N  processes taking one lock and writing a register through it with fencing tokens;
                  every accepted write is checked for mutual exclusion (default 2; 0 for none)
  --txn-clients N clients doing multi-key transactions (/v1/txn) on a group of keys, checked for
                  atomicity (no torn reads) and linearizability (default 2; 0 for none)
  --broken-workload W  run a deliberately BROKEN workload, to prove its checker fails:
                  no-fence (lock holders write without the fencing check) or
                  split-txn (a group is written key by key instead of in one transaction)
  --check DIR     check the history of a saved run again, without running anything

Examples:
  npm run jepsen -- --time 30 --nemesis kill-leader,partition-one
  npm run jepsen -- --time 600 --nemesis all --servers 5
  npm run jepsen -- --time 20 --nemesis partition-one --unsafe stale-default-reads   # must say INVALID
  npm run jepsen -- --time 20 --nemesis partition-leader --unsafe ack-before-commit   # must say INVALID
  npm run jepsen -- --time 10 --nemesis disk-full --unsafe ignore-disk-full          # must say INVALID
  npm run jepsen -- --time 10 --nemesis power-loss --unsafe ack-before-fsync         # must say INVALID

Exit: 0 valid, 1 invalid, 2 usage error.`;

function int(name: string, raw: string | undefined, def: number, min: number, max: number): number {
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  return n;
}

function recheck(dir: string): number {
  const events = readFileSync(join(dir, 'history.jsonl'), 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as JEvent);
  const lin = checkLinearizable(events, 120_000);
  const stale = checkStaleReads(events);
  const problems: string[] = [];
  if (lin.valid === false) problems.push(`not linearizable: ${lin.detail.join('\n')}`);
  if (lin.valid === 'unknown') problems.push(`linearizability undecided: ${lin.detail[0]}`);
  if (stale.bad.length > 0) problems.push(`stale reads of values never written:\n${stale.bad.join('\n')}`);
  if (problems.length > 0) {
    console.log(`jepsen: INVALID (history of ${dir}), ${problems.join('\n')}`);
    return 1;
  }
  console.log(`jepsen: valid (history of ${dir}), ${lin.ops} ops linearizable, ${stale.reads} stale reads checked`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        time: { type: 'string' }, 'client-agents': { type: 'string' }, nemesis: { type: 'string' }, servers: { type: 'string' }, clients: { type: 'string' },
        keys: { type: 'string' }, seed: { type: 'string' }, dir: { type: 'string' }, recovery: { type: 'string' },
        unsafe: { type: 'string' }, 'lock-clients': { type: 'string' }, 'txn-clients': { type: 'string' }, 'broken-workload': { type: 'string' }, cover: { type: 'boolean' }, loopback: { type: 'boolean' }, check: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    console.error(`jepsen: ${(error as Error).message} (see --help)`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (values.check !== undefined) {
    try {
      return recheck(values.check);
    } catch (error) {
      console.error(`jepsen: --check ${values.check}: ${(error as Error).message}`);
      return 2;
    }
  }
  let opts;
  try {
    const servers = int('servers', values.servers, 3, 3, 5);
    if (servers !== 3 && servers !== 5) throw new Error('--servers must be 3 or 5');
    if (values.unsafe !== undefined && !['stale-default-reads', 'ack-before-commit', 'ignore-disk-full', 'ack-before-fsync'].includes(values.unsafe)) {
      throw new Error('--unsafe must be stale-default-reads, ack-before-commit, ignore-disk-full or ack-before-fsync');
    }
    opts = {
      timeS: int('time', values.time, 60, 1, 86_400),
      nemeses: parseNemeses(values.nemesis ?? 'all'),
      servers,
      clients: int('clients', values.clients, 5, 1, 100),
      clientAgents: int('client-agents', values['client-agents'], 0, 0, 5),
      keys: int('keys', values.keys, 4, 1, 100),
      seed: int('seed', values.seed, Date.now() % 1_000_000_007, 0, 2 ** 32 - 1),
      recoveryS: int('recovery', values.recovery, 30, 1, 3600),
      dir: values.dir,
      cover: values.cover ?? false,
      namespaces: !values.loopback,
      agentEnv: values.unsafe ? { KONSUL_UNSAFE_FOR_TESTS: values.unsafe } : undefined,
      lockClients: int('lock-clients', values['lock-clients'], 2, 0, 20),
      txnClients: int('txn-clients', values['txn-clients'], 2, 0, 20),
      lockFence: values['broken-workload'] !== 'no-fence',
      txnAtomic: values['broken-workload'] !== 'split-txn',
    };
    const broken = values['broken-workload'];
    if (broken !== undefined && broken !== 'no-fence' && broken !== 'split-txn') throw new Error('--broken-workload must be no-fence or split-txn');
  } catch (error) {
    console.error(`jepsen: ${(error as Error).message}`);
    return 2;
  }
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      console.error(`jepsen: ${sig}: stopping the agents and removing the test network`);
      void abortActive().finally(() => process.exit(130));
    });
  }
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'konsul-jepsen-'));
  console.log(`run: ${dir}`);
  console.log(`seed: ${opts.seed}`);
  const r = await runJepsen({ ...opts, dir, log: (l) => console.log(l) });
  if (r.skipped.length > 0) console.log(`skipped: ${r.skipped.join('; ')}`);
  for (const [k, v] of Object.entries(r.heal)) console.log(`heal ${k}: ${v.n}x, median ${v.medianMs} ms, max ${v.maxMs} ms (fault ended -> every node names one leader)`);
  console.log(`agents' logs: ${Object.entries(r.events).map(([k, v]) => `${v} ${k}`).join(', ')}`);
  console.log(`checked: ${r.linOps} ops for linearizability, ${r.staleReads} stale reads, ${r.txnReads} transaction reads for atomicity${r.recoveryMs === undefined ? '' : `, recovery ${r.recoveryMs} ms`}`);
  if (r.lock) console.log(`lock: ${r.lock.acquisitions} acquisitions, ${r.lock.acceptedWrites} fenced writes accepted, ${r.lock.refusedWrites} refused (stale holders), mutual exclusion ${r.lock.valid ? 'holds' : 'VIOLATED'}`);
  console.log(r.verdict);
  // A valid run in a directory of its own leaves nothing behind; an invalid one keeps its logs and history for --check.
  if (r.valid && opts.dir === undefined) {
    const { rmSync } = await import('node:fs');
    rmSync(dir, { recursive: true, force: true });
    console.log(`run dir removed (the run was valid; --dir D keeps one)`);
  }
  return r.valid ? 0 : 1;
}

main(process.argv.slice(2)).then((code) => process.exit(code), (error) => {
  console.error(`jepsen: ${(error as Error).stack ?? error}`);
  void abortActive().finally(() => process.exit(1));
});
