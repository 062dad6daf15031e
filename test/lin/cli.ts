// `node dist/test/lin/cli.js history.jsonl`: checks a recorded history and
// says valid (exit 0), INVALID (exit 1) or UNKNOWN when the budget ran out (exit 2).

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatOperation } from './checker.js';
import { checkHistory, operationsFromHistory, parseHistoryJsonl } from './history.js';
import type { CheckOptions } from './types.js';

const USAGE = `usage: node dist/test/lin/cli.js <history.jsonl> [--timeout-ms N] [--max-states N] [--no-shrink]
  exit 0 linearizable, 1 not linearizable, 2 undecided (budget ran out), 3 bad usage or unreadable history`;

function main(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        'timeout-ms': { type: 'string' },
        'max-states': { type: 'string' },
        'no-shrink': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    console.error(`lin: ${(error as Error).message}\n${USAGE}`);
    return 3;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    console.error(`lin: expected one history file\n${USAGE}`);
    return 3;
  }

  const options: CheckOptions = { shrink: !values['no-shrink'] };
  for (const [flag, field] of [['timeout-ms', 'timeoutMs'], ['max-states', 'maxStates']] as const) {
    const raw = values[flag];
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) {
      console.error(`lin: --${flag} must be a positive number (got ${JSON.stringify(raw)})`);
      return 3;
    }
    options[field] = n;
  }

  const path = positionals[0];
  let events;
  let opCount;
  try {
    events = parseHistoryJsonl(readFileSync(path, 'utf8'));
    opCount = operationsFromHistory(events).length;
  } catch (error) {
    console.error(`lin: ${path}: ${(error as Error).message}`);
    return 3;
  }

  const result = checkHistory(events, options);
  if (result.valid === true) {
    console.log(`lin: valid, ${opCount} ops`);
    return 0;
  }
  if (result.valid === 'unknown') {
    console.log(`lin: UNKNOWN key=${JSON.stringify(result.key)}, search budget ran out after ${result.states} states`);
    return 2;
  }
  console.log(`lin: INVALID key=${JSON.stringify(result.key)}, ${result.reason}`);
  console.log('witness (sorted by call):');
  for (const op of result.witness) console.log(`  ${formatOperation(op)}`);
  return 1;
}

process.exitCode = main(process.argv.slice(2));
