// `konsul txn`: run a Consul transaction (PUT /v1/txn) from a JSON file or stdin.

import { readFile } from 'node:fs/promises';
import { Command, Option, UsageError } from '../clipanion.js';
import type { AgentClient } from '../client.js';
import { HttpCommand } from '../command.js';
import { CliError } from '../errors.js';
import { EXIT } from '../exit-codes.js';
import { table } from '../output.js';
import { consistencyParams, readAll } from './kv/common.js';

interface TxnKv { Key: string; Value: string | null; Flags: number; CreateIndex: number; ModifyIndex: number; LockIndex: number; Session?: string }
interface TxnAnswer { Results: Array<{ KV: TxnKv }> | null; Errors: Array<{ OpIndex: number; What: string }> | null }

export class TxnCommand extends HttpCommand {
  static override paths = [['txn']];
  static override usage = Command.Usage({
    category: 'KV',
    description: 'Run KV operations as one atomic transaction',
    details: `
      Reads a JSON array of operations in Consul's /v1/txn shape from FILE, or stdin when FILE is "-"
      or left out, and applies them all or none (up to 64 operations, one Raft entry). Verbs: set,
      cas, lock, unlock, get, get-or-empty, get-tree, check-index, check-session, check-not-exists,
      delete, delete-tree, delete-cas, and konsul's check-fence (Index: the lock's fencing token).
      Value is base64, as in Consul.

      Prints one line per result (key, ModifyIndex, and the value for get/get-tree). If an operation
      fails, nothing is applied: the failures are printed and the exit status is 1. A transaction
      with only reads may take --stale (answered by this agent's replica) or --consistent.
      With --json it prints the agent's answer ({"Results": ..., "Errors": ...}).
    `,
    examples: [
      ['From a file', '$0 txn ops.json'],
      ['From stdin', 'echo \'[{"KV":{"Verb":"set","Key":"a","Value":"MQ=="}}]\' | $0 txn'],
      ['A read-only transaction from the local replica', '$0 txn --stale reads.json'],
    ],
  });

  stale = Option.Boolean('--stale', false, { description: 'Read-only transactions: answer from this agent\'s replica' });
  consistent = Option.Boolean('--consistent', false, { description: 'Read-only transactions: the leader confirms it still leads' });
  file = Option.String({ required: false, name: 'file' });

  protected async run(client: AgentClient): Promise<number> {
    const mode = consistencyParams(this.stale, this.consistent);
    let text: string;
    try {
      text = this.file === undefined || this.file === '-' ? (await readAll(this.context.stdin)).toString('utf8') : await readFile(this.file, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${this.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    try {
      if (!Array.isArray(JSON.parse(text))) throw new Error('not an array');
    } catch {
      throw new UsageError(`${this.file ?? 'stdin'}: not a JSON array of operations (example: [{"KV":{"Verb":"get","Key":"a"}}])`);
    }
    const query = Object.keys(mode).length > 0 ? `?${Object.keys(mode).join('&')}` : '';
    const answer = await client.call('PUT', `/v1/txn${query}`, { body: text, allow: [409] });
    const body = answer.json<TxnAnswer>();
    if (this.json) this.printJson(body);
    if (answer.status === 409) {
      const errors = body.Errors ?? [];
      if (!this.json) for (const e of errors) this.context.stderr.write(`operation ${e.OpIndex}: ${e.What}\n`);
      throw new CliError(`transaction rolled back: ${errors.length} operation(s) failed, nothing was applied`);
    }
    if (!this.json) {
      const rows = (body.Results ?? []).map(({ KV }) => [
        KV.Key, String(KV.ModifyIndex), KV.Session ?? '-', KV.Value === null ? '-' : Buffer.from(KV.Value, 'base64').toString('utf8'),
      ]);
      if (rows.length > 0) this.out(table(['KEY', 'MODIFY-INDEX', 'SESSION', 'VALUE'], rows));
      else this.out('Transaction applied');
    }
    return EXIT.ok;
  }
}
