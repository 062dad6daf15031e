// `konsul snapshot restore FILE`: check an archive locally, then send it to
// the agent, which replaces the cluster's KV store and catalog with it
// through Raft (every member applies it; the cluster's own members stay).

import { Command, Option } from '../../clipanion.js';
import { readFileSync, statSync } from 'node:fs';
import { parseArchive } from '../../../state/archive.js';
import { decryptArchive, isEncryptedArchive, readSnapshotKey } from '../../../state/archive-crypto.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import { MAX_RESTORE_BYTES } from '../../../http/snapshot.js';
import { fileError } from './inspect.js';
import { formatBytes } from './common.js';

interface RestoreAnswer {
  Index: number;
  SnapshotIndex: number;
  SnapshotTerm: number;
  Records: number;
  Tables: Record<string, number>;
  /** sec: what the restore did with the cluster's ACL tokens and policies. */
  ACLs?: 'replaced' | 'kept';
}

export class SnapshotRestoreCommand extends HttpCommand {
  static override paths = [['snapshot', 'restore']];
  static override usage = Command.Usage({
    category: 'Snapshots',
    description: 'Replace the cluster\'s KV store and catalog with a snapshot file\'s',
    details: `
      The file is checked whole first (structure, counts, SHA-256): a truncated or altered file is
      refused and nothing is sent. The agent then proposes the restore through Raft as one entry, so
      every member (servers and clients) replaces its KV store and catalog at the same index. The
      cluster keeps its own members: a snapshot from another cluster restores its data, not its
      membership. Restored entries take the restore's index as their CreateIndex and ModifyIndex, so
      indexes only move forward and blocking queries wake. Agents put their own node and services
      back into the catalog right after (anti-entropy).

      A restore travels as one Raft entry: archives over ${MAX_RESTORE_BYTES / 1024 / 1024} MiB are refused.

      ACL tokens and policies: as in Consul, a snapshot that holds any replaces the cluster's (a
      snapshot without keeps them). With ACLs on, a restore that would lock you out (your token is
      not a management token of the snapshot) is refused and changes nothing; --keep-acls keeps the
      cluster's tokens and policies and restores the rest.
    `,
    examples: [
      ['Restore a backup', '$0 snapshot restore backup.snap'],
      ['Into another cluster', '$0 snapshot restore --http-addr 10.1.0.2:8500 backup.snap'],
      ['Into another cluster with ACLs, keeping its tokens', '$0 snapshot restore --keep-acls backup.snap'],
    ],
  });

  decrypt = Option.String('--decrypt', { description: 'The key file an encrypted snapshot was saved with (snapshot save --encrypt)' });
  keepAcls = Option.Boolean('--keep-acls', false, { description: 'Keep the cluster\'s ACL tokens and policies instead of the snapshot\'s' });
  file = Option.String({ name: 'file' });

  protected async run(client: AgentClient): Promise<number> {
    let body: Buffer;
    try {
      const size = statSync(this.file).size;
      if (size > MAX_RESTORE_BYTES + 64 * 1024) {
        throw new CliError(`${this.file}: ${formatBytes(size)} is over the ${MAX_RESTORE_BYTES / 1024 / 1024} MiB a restore takes`);
      }
      body = readFileSync(this.file);
      // sec: an encrypted file is authenticated and opened here; the agent gets the plain archive.
      if (isEncryptedArchive(body)) {
        if (this.decrypt === undefined) throw new CliError(`${this.file}: the snapshot is encrypted; pass --decrypt KEYFILE`);
        body = decryptArchive(body, readSnapshotKey(this.decrypt));
      } else if (this.decrypt !== undefined) {
        throw new CliError(`${this.file}: --decrypt was given but the snapshot is not encrypted`);
      }
      // Checked here first: a bad file is refused before anything is sent.
      parseArchive(body);
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw fileError(this.file, error);
    }
    const answer = (await client.call('PUT', this.keepAcls ? '/v1/snapshot?keep-acls' : '/v1/snapshot', { body })).json<RestoreAnswer>();
    if (this.json) {
      this.printJson({
        file: this.file, index: answer.Index, snapshotIndex: answer.SnapshotIndex, snapshotTerm: answer.SnapshotTerm,
        records: answer.Records, tables: answer.Tables, ACLs: answer.ACLs,
      });
    } else {
      this.out(`Restored snapshot ${this.file} (taken at index ${answer.SnapshotIndex}) at index ${answer.Index}: `
        + `${answer.Tables.kv ?? 0} KV entries, ${answer.Tables['catalog-services'] ?? 0} catalog services`
        + (answer.ACLs === 'replaced' ? '; ACL tokens and policies replaced by the snapshot\'s' : answer.ACLs === 'kept' ? '; this cluster\'s ACL tokens and policies kept' : ''));
    }
    return EXIT.ok;
  }
}
