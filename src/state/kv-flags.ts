// Consul's uint64 KV flags as konsul carries them: a number up to 2^32 - 1, a
// bigint above (one spelling per value). Apart from kv-record.ts so the command
// codec (and the CLI that loads it) does not load the storage engine.

export const MAX_KV_FLAGS = 0xffff_ffff_ffff_ffffn;

/** Consul's uint64 flags: a number up to 2^32 - 1, a bigint above it (one spelling per value). */
export type KvFlags = number | bigint;

/** The one spelling of a flags value: a number when it fits 32 bits, else a bigint. */
export function canonicalFlags(flags: KvFlags): KvFlags {
  if (typeof flags === 'bigint') return flags <= 0xffff_ffffn ? Number(flags) : flags;
  return flags;
}

/** Why `flags` is not a uint64, or undefined. */
export function flagsProblem(flags: unknown): string | undefined {
  if (typeof flags === 'bigint') return flags >= 0n && flags <= MAX_KV_FLAGS ? undefined : 'flags must be from 0 to 18446744073709551615';
  if (typeof flags === 'number' && Number.isInteger(flags) && flags >= 0 && flags <= 0xffff_ffff) return undefined;
  return 'flags must be an integer from 0 to 18446744073709551615 (a bigint above 4294967295)';
}
