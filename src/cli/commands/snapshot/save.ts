// `konsul snapshot save FILE`: stream a point-in-time archive of the whole
// state from the agent into FILE: a temp file beside it, checked as it
// arrives, fsynced, then renamed into place (FILE is never left half-written).

import { Command, Option, UsageError } from '../../clipanion.js';
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { request } from 'undici';
import { ArchiveError, ArchiveParser } from '../../../state/archive.js';
import { ArchiveEncryptor, readSnapshotKey } from '../../../state/archive-crypto.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { AgentHttpError, AgentUnreachableError, CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import { archiveJson, formatBytes, Progress } from './common.js';

export class SnapshotSaveCommand extends HttpCommand {
  static override paths = [['snapshot', 'save']];
  static override usage = Command.Usage({
    category: 'Snapshots',
    description: 'Save a snapshot of the whole state (KV, catalog, members, ACLs) to a file',
    details: `
      The agent reads the state at the leader's current index (with --stale, at its own replica's
      index, even without a leader) and streams it as an archive: a header with the index, term and
      time, the data, and a SHA-256 over every byte. The file is written beside FILE under a temporary
      name, checked whole, fsynced and only then renamed to FILE, so FILE is either the complete
      snapshot or untouched. On a terminal, progress is shown for snapshots over 1 MiB.

      Restore it with \`konsul snapshot restore FILE\`, into this cluster or a new one.

      With --encrypt KEYFILE (64 hex digits, as \`openssl rand -hex 32\` writes) the file is sealed with
      AES-256-GCM in 64 KiB chunks: restore and inspect it with --decrypt KEYFILE; a wrong key or any
      changed byte is refused.
    `,
    examples: [
      ['Back up the cluster', '$0 snapshot save backup.snap'],
      ['From a follower\'s replica, without a leader', '$0 snapshot save --stale --http-addr 10.0.0.3:8500 backup.snap'],
      ['For a script', '$0 snapshot save --json backup.snap'],
      ['Encrypted (AES-256-GCM) with a key file', 'openssl rand -hex 32 > snap.key && $0 snapshot save --encrypt snap.key backup.snap'],
    ],
  });

  stale = Option.Boolean('--stale', false, { description: 'Let this agent answer from its replica, even without a leader' });
  encrypt = Option.String('--encrypt', { description: 'Seal the file with AES-256-GCM under the 32-byte key in this file (64 hex digits)' });
  file = Option.String({ name: 'file' });

  protected async run(client: AgentClient): Promise<number> {
    let encryptor: ArchiveEncryptor | undefined;
    if (this.encrypt !== undefined) {
      try {
        encryptor = new ArchiveEncryptor(readSnapshotKey(this.encrypt));
      } catch (error) {
        throw new UsageError(`--encrypt: ${(error as Error).message}`);
      }
    }
    const path = `/v1/snapshot${this.stale ? '?stale' : ''}`;
    const tmp = join(dirname(this.file), `.${basename(this.file)}.tmp-${process.pid}`);
    let fd: number;
    try {
      fd = openSync(tmp, 'wx', 0o600);
    } catch (error) {
      throw new CliError(`${this.file}: cannot write beside it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
    }
    const parser = new ArchiveParser();
    const progress = new Progress(this.context.stderr, 'Saving snapshot');
    let ok = false;
    try {
      let res;
      try {
        res = await request(`${client.origin}${path}`, {
          method: 'GET', headersTimeout: client.timeoutMs, bodyTimeout: client.timeoutMs, dispatcher: client.dispatcher, headers: client.headers,
        });
      } catch (error) {
        throw new AgentUnreachableError(client.origin, `connect ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
      if (res.statusCode !== 200) throw new AgentHttpError(res.statusCode, await res.body.text());
      const write = (bytes: Buffer): void => {
        for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at);
      };
      try {
        if (encryptor) write(encryptor.header());
        for await (const chunk of res.body) {
          const bytes = chunk as Buffer;
          parser.push(bytes);
          if (encryptor) for (const sealed of encryptor.push(bytes)) write(sealed);
          else write(bytes);
          progress.update(parser.bytesRead);
        }
        if (encryptor) write(encryptor.finish());
      } catch (error) {
        if (error instanceof ArchiveError) throw new CliError(`the agent sent an ${error.message}`);
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOSPC' || code === 'EIO' || code === 'EDQUOT') throw new CliError(`${this.file}: ${code} while writing`);
        throw new CliError(`the snapshot stream from ${client.origin} broke off after ${parser.bytesRead} bytes (${code ?? (error as Error).message})`);
      } finally {
        progress.done();
      }
      let archive;
      try {
        archive = parser.end();
      } catch (error) {
        throw new CliError(`the agent sent an ${(error as Error).message}`);
      }
      fsyncSync(fd);
      closeSync(fd);
      fd = -1;
      renameSync(tmp, this.file);
      syncDir(dirname(this.file));
      ok = true;
      const info = { ...archiveJson(this.file, archive), ...(encryptor ? { encrypted: true } : {}) };
      if (this.json) this.printJson(info);
      else {
        this.out(`Saved ${encryptor ? 'encrypted ' : ''}snapshot to ${this.file}: index ${info.index}, term ${info.term}, ${info.records} records, `
          + `${formatBytes(info.size)}, sha256 ${info.sha256.slice(0, 16)}… (verified)`);
      }
      return EXIT.ok;
    } finally {
      if (fd >= 0) closeSync(fd);
      if (!ok) rmSync(tmp, { force: true });
    }
  }
}

/** The rename is durable only once the directory is synced. */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some filesystems refuse fsync on a directory; the data itself was synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
