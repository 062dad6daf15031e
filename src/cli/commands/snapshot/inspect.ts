// `konsul snapshot inspect FILE`: read an archive offline, check it whole
// (structure, counts, SHA-256) and print where it was taken and what it holds.

import { Command, Option } from 'clipanion';
import { createReadStream } from 'node:fs';
import { ArchiveError, parseArchiveStream, type ParsedArchive } from '../../../state/archive.js';
import { KonsulCommand } from '../../command.js';
import { CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import { table } from '../../output.js';
import { archiveJson, formatBytes, Progress } from './common.js';

/** Reads and checks an archive file; a missing file or a bad archive is a CliError naming the file. */
export async function readArchiveFile(file: string, progress?: Progress, keepBody = false): Promise<ParsedArchive> {
  try {
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
  if (error instanceof ArchiveError) return new CliError(`${file}: ${e.message}`);
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
  file = Option.String({ name: 'file' });

  async execute(): Promise<number> {
    const archive = await readArchiveFile(this.file, new Progress(this.context.stderr, 'Reading snapshot'));
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
