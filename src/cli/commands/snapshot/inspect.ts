// `konsul snapshot inspect FILE`: read an archive offline, check it whole
// (structure, counts, SHA-256) and print where it was taken and what it holds.

import { Command, Option } from '../../clipanion.js';
import { closeSync, createReadStream, openSync, readSync } from 'node:fs';
import { ArchiveError, parseArchive, parseArchiveStream, type ParsedArchive } from '../../../state/archive.js';
import { ArchiveDecryptor, SnapshotCryptoError, isEncryptedArchive, readSnapshotKey } from '../../../state/archive-crypto.js';
import { KonsulCommand } from '../../command.js';
import { CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import { table } from '../../output.js';
import { archiveJson, formatBytes, Progress } from './common.js';

/**
 * Reads and checks an archive file; a missing file or a bad archive is a CliError naming the file.
 * sec: an encrypted file needs `key` (--decrypt KEYFILE) and is authenticated before it is parsed.
 */
export async function readArchiveFile(file: string, progress?: Progress, keepBody = false, keyFile?: string): Promise<ParsedArchive> {
  try {
    const head = Buffer.alloc(8);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, head, 0, 8, 0);
    } finally {
      closeSync(fd);
    }
    if (isEncryptedArchive(head) || keyFile !== undefined) {
      if (keyFile === undefined) throw new CliError(`${file}: the snapshot is encrypted; pass --decrypt KEYFILE`);
      if (!isEncryptedArchive(head)) throw new CliError(`${file}: --decrypt was given but the snapshot is not encrypted`);
      const key = readSnapshotKey(keyFile);
      const decryptor = new ArchiveDecryptor(key);
      const plain: Buffer[] = [];
      for await (const chunk of createReadStream(file)) {
        plain.push(...decryptor.push(chunk as Buffer));
        progress?.update(plain.reduce((n, b) => n + b.length, 0));
      }
      decryptor.end();
      return parseArchive(Buffer.concat(plain), { keepBody });
    }
    return await parseArchiveStream(createReadStream(file), { keepBody, onProgress: (n) => progress?.update(n) });
  } catch (error) {
    throw fileError(file, error);
  } finally {
    progress?.done();
  }
}

/** A file that cannot be read, or is not a valid archive, as one line naming the file. */
export function fileError(file: string, error: unknown): CliError {
  const e = error as NodeJS.ErrnoException;
  if (error instanceof CliError) return error;
  if (error instanceof ArchiveError || error instanceof SnapshotCryptoError) return new CliError(`${file}: ${e.message}`);
  if (e.code === 'ENOENT') return new CliError(`${file}: no such file`);
  if (e.code === 'EISDIR') return new CliError(`${file}: is a directory, not a snapshot file`);
  if (e.code === 'EACCES') return new CliError(`${file}: permission denied`);
  return new CliError(`${file}: ${e.message}`);
}

export class SnapshotInspectCommand extends KonsulCommand {
  static override paths = [['snapshot', 'inspect']];
  static override usage = Command.Usage({
    category: 'Snapshots',
    description: 'Check a snapshot file and print its index, term, size and record counts',
    details: `
      Reads the whole file without any agent: the header (where and when it was taken), the state data
      (each table's records, in order, with their own CRC) and the SHA-256 over every byte. A file that
      is truncated or altered in any byte is reported as invalid and the command exits with status 1.
    `,
    examples: [
      ['Check a backup', '$0 snapshot inspect backup.snap'],
      ['The same, for a script', '$0 snapshot inspect --json backup.snap'],
    ],
  });

  json = Option.Boolean('--json', false, { description: 'Print JSON, for scripts' });
  decrypt = Option.String('--decrypt', { description: 'The key file an encrypted snapshot was saved with (snapshot save --encrypt)' });
  file = Option.String({ name: 'file' });

  async execute(): Promise<number> {
    const archive = await readArchiveFile(this.file, new Progress(this.context.stderr, 'Reading snapshot'), false, this.decrypt);
    const info = archiveJson(this.file, archive);
    if (this.json) {
      this.printJson(info);
      return EXIT.ok;
    }
    const facts = table(['Field', 'Value'], [
      ['Index', String(info.index)],
      ['Term', String(info.term)],
      ['Created', info.createdAt],
      ['Node', info.nodeId],
      ['Datacenter', info.datacenter],
      ['Size', `${info.size} bytes (${formatBytes(info.size)})`],
      ['Records', String(info.records)],
      ['SHA-256', `${info.sha256} (verified)`],
    ]);
    const tables = table(['Table', 'Records'], Object.entries(info.tables).map(([name, n]) => [name, String(n)]));
    this.out(`${facts}\n\n${tables}`);
    return EXIT.ok;
  }
}
