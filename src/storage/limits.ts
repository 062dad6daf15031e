// The storage engine's limits and key encoding that callers use without the
// engine, kept apart from lmdb.ts so that using them does not load node-lmdb.

/** LMDB's compiled-in key limit (MDB_MAXKEYSIZE); longer keys fail with MDB_BAD_VALSIZE. */
export const MAX_KEY_BYTES = 511;

/** Numbers up to 2^53 as u64 big-endian, without BigInt on the hot path. */
export function writeUint64(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32BE(Math.floor(value / 0x1_0000_0000), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
}

export function readUint64(buf: Buffer, offset: number): number {
  return buf.readUInt32BE(offset) * 0x1_0000_0000 + buf.readUInt32BE(offset + 4);
}
