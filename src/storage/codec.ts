// The bytes storage keeps: every value is sealed with a CRC-32 of its payload
// so a torn page or a flipped bit is reported, never handed back as data.

import { crc32 } from 'node:zlib';
import { EntryType, type ConfState, type Entry, type HardState, type Member, type SnapshotMeta } from '../raft/types.js';
import { StorageCorruptionError } from './errors.js';
import { readUint64, writeUint64 } from './limits.js';

const FORMAT_VERSION = 1;
/**
 * The applied-index record is the one that marks a data dir's format: data
 * dir format 2 writes it with version byte 2. The first release reads only 1,
 * so it refuses a data dir a newer konsul has used ("unknown format version 2")
 * instead of running on it.
 */
const APPLIED_FORMAT_VERSION = 2;
const CRC_BYTES = 4;

// Entry value: crc32 u32 | version u8 | type u8 | term u64 | index u64 | data.
// The index is stored again inside the value so an entry that landed under the
// wrong key is caught as well as one whose bytes changed.
const ENTRY_HEADER = CRC_BYTES + 1 + 1 + 8 + 8;

export function encodeEntry(entry: Entry): Buffer {
  const buf = Buffer.allocUnsafe(ENTRY_HEADER + entry.data.byteLength);
  buf[4] = FORMAT_VERSION;
  buf[5] = entry.type;
  writeUint64(buf, 6, entry.term);
  writeUint64(buf, 14, entry.index);
  buf.set(entry.data, ENTRY_HEADER);
  buf.writeUInt32BE(crc32(buf.subarray(CRC_BYTES)), 0);
  return buf;
}

/** Decode the entry stored under `index`; throws StorageCorruptionError naming the index. */
export function decodeEntry(index: number, buf: Buffer): Entry {
  if (buf.length < ENTRY_HEADER) {
    throw new StorageCorruptionError('entry', `${buf.length} bytes is shorter than an entry header`, index);
  }
  checkCrc(buf, 'entry', index);
  if (buf[4] !== FORMAT_VERSION) {
    throw new StorageCorruptionError('entry', `unknown format version ${buf[4]}`, index);
  }
  const type = buf[5];
  if (type !== EntryType.Normal && type !== EntryType.ConfChange) {
    throw new StorageCorruptionError('entry', `unknown entry type ${type}`, index);
  }
  const storedIndex = readUint64(buf, 14);
  if (storedIndex !== index) {
    throw new StorageCorruptionError('entry', `value holds index ${storedIndex}`, index);
  }
  return { term: readUint64(buf, 6), index, type, data: buf.subarray(ENTRY_HEADER) };
}

// Hard state: crc32 | version | term u64 | commit u64 | vote (utf8).
export function encodeHardState(hs: HardState): Buffer {
  const vote = Buffer.from(hs.vote, 'utf8');
  const buf = Buffer.allocUnsafe(CRC_BYTES + 1 + 16 + vote.length);
  buf[4] = FORMAT_VERSION;
  writeUint64(buf, 5, hs.term);
  writeUint64(buf, 13, hs.commit);
  vote.copy(buf, 21);
  return seal(buf);
}

export function decodeHardState(buf: Buffer): HardState {
  if (buf.length < CRC_BYTES + 17) throw new StorageCorruptionError('hardState', `${buf.length} bytes is too short`);
  checkCrc(buf, 'hardState');
  checkVersion(buf, 'hardState');
  return { term: readUint64(buf, 5), commit: readUint64(buf, 13), vote: buf.toString('utf8', 21) };
}

// Snapshot meta: crc32 | version | index u64 | term u64 | conf (JSON). Membership
// is small and rare, so JSON keeps it readable with a hex dump.
export function encodeSnapshotMeta(meta: SnapshotMeta): Buffer {
  const conf = Buffer.from(JSON.stringify(meta.conf), 'utf8');
  const buf = Buffer.allocUnsafe(CRC_BYTES + 1 + 16 + conf.length);
  buf[4] = FORMAT_VERSION;
  writeUint64(buf, 5, meta.index);
  writeUint64(buf, 13, meta.term);
  conf.copy(buf, 21);
  return seal(buf);
}

export function decodeSnapshotMeta(buf: Buffer): SnapshotMeta {
  if (buf.length < CRC_BYTES + 17) throw new StorageCorruptionError('snapshotMeta', `${buf.length} bytes is too short`);
  checkCrc(buf, 'snapshotMeta');
  checkVersion(buf, 'snapshotMeta');
  let conf: ConfState;
  try {
    conf = parseConf(JSON.parse(buf.toString('utf8', 21)));
  } catch (error) {
    throw new StorageCorruptionError('snapshotMeta', `bad membership: ${(error as Error).message}`);
  }
  return { index: readUint64(buf, 5), term: readUint64(buf, 13), conf };
}

function parseConf(value: unknown): ConfState {
  const members = (value as { members?: unknown } | null)?.members;
  if (!Array.isArray(members)) throw new Error('no members array');
  return {
    members: members.map((m: unknown): Member => {
      const { id, address, voter } = m as Partial<Member>;
      if (typeof id !== 'string' || typeof address !== 'string' || typeof voter !== 'boolean') {
        throw new Error('member without id, address and voter');
      }
      return { id, address, voter };
    }),
  };
}

// Applied index (state store): crc32 | version | index u64.
export function encodeAppliedIndex(index: number): Buffer {
  const buf = Buffer.allocUnsafe(CRC_BYTES + 9);
  buf[4] = APPLIED_FORMAT_VERSION;
  writeUint64(buf, 5, index);
  return seal(buf);
}

export function decodeAppliedIndex(buf: Buffer): number {
  if (buf.length !== CRC_BYTES + 9) throw new StorageCorruptionError('appliedIndex', `${buf.length} bytes, expected 13`);
  checkCrc(buf, 'appliedIndex');
  // Version 1: written by the first release (data dir format 1), migrated on open.
  if (buf[4] !== FORMAT_VERSION && buf[4] !== APPLIED_FORMAT_VERSION) {
    throw new StorageCorruptionError('appliedIndex', `unknown format version ${buf[4]}`);
  }
  return readUint64(buf, 5);
}

/** The record version of a stored applied index (1: the first release's data dir format). */
export function appliedIndexVersion(buf: Buffer): number {
  return buf.length > 4 ? buf[4]! : 0;
}

function seal(buf: Buffer): Buffer {
  buf.writeUInt32BE(crc32(buf.subarray(CRC_BYTES)), 0);
  return buf;
}

function checkCrc(buf: Buffer, record: string, index?: number): void {
  const stored = buf.readUInt32BE(0);
  const actual = crc32(buf.subarray(CRC_BYTES));
  if (stored !== actual) {
    throw new StorageCorruptionError(
      record,
      `checksum mismatch (stored ${hex(stored)}, computed ${hex(actual)})`,
      index,
    );
  }
}

function checkVersion(buf: Buffer, record: string): void {
  if (buf[4] !== FORMAT_VERSION) throw new StorageCorruptionError(record, `unknown format version ${buf[4]}`);
}

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}
