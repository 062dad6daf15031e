// Encrypted snapshot files: a snapshot archive sealed with AES-256-GCM (node:crypto) in
// chunks (the STREAM construction), so any flipped, cut or reordered byte is refused.
//
// Layout: magic "KSNAPENC" (8), u8 version 1, 7-byte random nonce prefix, 8-byte key check, then
// chunks: u32 ciphertext length (at most 64 KiB), ciphertext, 16-byte tag. A chunk's nonce is the
// prefix, its u32 number and a last-chunk flag; every chunk authenticates the header as AAD.

import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { KonsulError } from '../errors.js';

export const ENCRYPTED_MAGIC = Buffer.from('KSNAPENC', 'latin1');
const VERSION = 1;
const PREFIX_BYTES = 7;
const CHECK_BYTES = 8;
export const ENCRYPTED_HEADER_BYTES = ENCRYPTED_MAGIC.length + 1 + PREFIX_BYTES + CHECK_BYTES;
const TAG_BYTES = 16;
export const MAX_CHUNK_BYTES = 64 * 1024;

export class SnapshotCryptoError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_SNAPSHOT_CRYPTO', message, 'invalid');
    this.name = 'SnapshotCryptoError';
  }
}

/** Does a file start like an encrypted snapshot? */
export function isEncryptedArchive(head: Uint8Array): boolean {
  return head.length >= ENCRYPTED_MAGIC.length && Buffer.from(head.buffer, head.byteOffset, ENCRYPTED_MAGIC.length).equals(ENCRYPTED_MAGIC);
}

/** A 32-byte key from a file of 64 hex digits, 44 base64 characters, or 32 raw bytes. */
export function parseSnapshotKey(bytes: Buffer, source: string): Buffer {
  const text = bytes.toString('latin1').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  if (/^[A-Za-z0-9+/]{43}=$/.test(text)) return Buffer.from(text, 'base64');
  if (bytes.length === 32) return Buffer.from(bytes);
  throw new SnapshotCryptoError(`${source}: not a snapshot key (64 hex digits, as from \`openssl rand -hex 32\`, or 32 bytes)`);
}

export function readSnapshotKey(path: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new SnapshotCryptoError(`${path}: cannot read the key file (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseSnapshotKey(bytes, path);
}

function keyCheck(key: Buffer, prefix: Buffer): Buffer {
  return createHmac('sha256', key).update('konsul snapshot key check').update(prefix).digest().subarray(0, CHECK_BYTES);
}

function nonce(prefix: Buffer, counter: number, last: boolean): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0);
  n.writeUInt32BE(counter, PREFIX_BYTES);
  n[11] = last ? 1 : 0;
  return n;
}

/** Seals an archive as it streams: header() first, push() the plaintext, finish() last. */
export class ArchiveEncryptor {
  private readonly prefix = randomBytes(PREFIX_BYTES);
  private readonly headerBytes: Buffer;
  private pending = Buffer.alloc(0);
  private counter = 0;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new SnapshotCryptoError('the snapshot key must be 32 bytes');
    this.headerBytes = Buffer.concat([ENCRYPTED_MAGIC, Buffer.from([VERSION]), this.prefix, keyCheck(key, this.prefix)]);
  }

  header(): Buffer {
    return this.headerBytes;
  }

  private seal(plain: Buffer, last: boolean): Buffer {
    if (this.counter >= 0xffff_ffff) throw new SnapshotCryptoError('snapshot too large to encrypt');
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce(this.prefix, this.counter++, last));
    cipher.setAAD(this.headerBytes);
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    const len = Buffer.allocUnsafe(4);
    len.writeUInt32BE(body.length);
    return Buffer.concat([len, body, cipher.getAuthTag()]);
  }

  /** Sealed chunks for the plaintext so far (the last, possibly partial, chunk waits for finish). */
  push(plain: Uint8Array): Buffer[] {
    this.pending = Buffer.concat([this.pending, plain]);
    const out: Buffer[] = [];
    // Keep at least one byte back: the final chunk must be sealed as the last.
    while (this.pending.length > MAX_CHUNK_BYTES) {
      out.push(this.seal(this.pending.subarray(0, MAX_CHUNK_BYTES), false));
      this.pending = this.pending.subarray(MAX_CHUNK_BYTES);
    }
    return out;
  }

  finish(): Buffer {
    const last = this.seal(this.pending, true);
    this.pending = Buffer.alloc(0);
    return last;
  }
}

/**
 * Opens an encrypted archive as it streams; push() returns only authenticated plaintext.
 * A wrong key, a changed byte, a cut or extra bytes end in a SnapshotCryptoError (one line).
 */
export class ArchiveDecryptor {
  private buffered = Buffer.alloc(0);
  private headerBytes: Buffer | undefined;
  private prefix: Buffer | undefined;
  private counter = 0;
  private finished = false;
  private offset = 0;

  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new SnapshotCryptoError('the snapshot key must be 32 bytes');
  }

  push(bytes: Uint8Array): Buffer[] {
    this.buffered = this.buffered.length === 0 ? Buffer.from(bytes) : Buffer.concat([this.buffered, bytes]);
    const out: Buffer[] = [];
    if (!this.headerBytes) {
      if (this.buffered.length < ENCRYPTED_HEADER_BYTES) return out;
      const header = this.buffered.subarray(0, ENCRYPTED_HEADER_BYTES);
      if (!isEncryptedArchive(header)) throw new SnapshotCryptoError('not an encrypted konsul snapshot (bad magic)');
      if (header[ENCRYPTED_MAGIC.length] !== VERSION) throw new SnapshotCryptoError(`encrypted snapshot version ${header[ENCRYPTED_MAGIC.length]} is not supported (this konsul reads version ${VERSION})`);
      const prefix = header.subarray(ENCRYPTED_MAGIC.length + 1, ENCRYPTED_MAGIC.length + 1 + PREFIX_BYTES);
      const check = header.subarray(ENCRYPTED_MAGIC.length + 1 + PREFIX_BYTES);
      if (!keyCheck(this.key, prefix).equals(check)) throw new SnapshotCryptoError('wrong key: this snapshot was encrypted with another key');
      this.headerBytes = Buffer.from(header);
      this.prefix = Buffer.from(prefix);
      this.buffered = this.buffered.subarray(ENCRYPTED_HEADER_BYTES);
      this.offset = ENCRYPTED_HEADER_BYTES;
    }
    for (;;) {
      if (this.buffered.length === 0) return out;
      if (this.finished) throw new SnapshotCryptoError(`damaged: ${this.buffered.length} bytes after the last chunk (at byte ${this.offset})`);
      if (this.buffered.length < 4) return out;
      const len = this.buffered.readUInt32BE(0);
      if (len > MAX_CHUNK_BYTES) throw new SnapshotCryptoError(`damaged: a chunk claims ${len} bytes at byte ${this.offset} (at most ${MAX_CHUNK_BYTES})`);
      if (this.buffered.length < 4 + len + TAG_BYTES) return out;
      const body = this.buffered.subarray(4, 4 + len);
      const tag = this.buffered.subarray(4 + len, 4 + len + TAG_BYTES);
      out.push(this.open(body, tag));
      this.buffered = this.buffered.subarray(4 + len + TAG_BYTES);
      this.offset += 4 + len + TAG_BYTES;
    }
  }

  /** A chunk sealed as the last one is the end; other chunks must authenticate as not-last. */
  private open(body: Buffer, tag: Buffer): Buffer {
    for (const last of [false, true]) {
      const decipher = createDecipheriv('aes-256-gcm', this.key, nonce(this.prefix!, this.counter, last));
      decipher.setAAD(this.headerBytes!);
      decipher.setAuthTag(tag);
      const plain = decipher.update(body);
      try {
        decipher.final();
      } catch {
        continue;
      }
      this.counter++;
      if (last) this.finished = true;
      return plain;
    }
    throw new SnapshotCryptoError(`damaged: chunk ${this.counter} (at byte ${this.offset}) fails authentication; the file was changed`);
  }

  end(): void {
    if (!this.headerBytes) throw new SnapshotCryptoError('damaged: the file ends inside the header');
    if (this.buffered.length > 0 || !this.finished) throw new SnapshotCryptoError(`damaged: the file is cut short at byte ${this.offset + this.buffered.length}`);
  }
}

/** The whole archive out of an encrypted file's bytes. */
export function decryptArchive(bytes: Buffer, key: Buffer): Buffer {
  const d = new ArchiveDecryptor(key);
  const parts = d.push(bytes);
  d.end();
  return Buffer.concat(parts);
}

export function encryptArchive(plain: Buffer, key: Buffer): Buffer {
  const e = new ArchiveEncryptor(key);
  return Buffer.concat([e.header(), ...e.push(plain), e.finish()]);
}
