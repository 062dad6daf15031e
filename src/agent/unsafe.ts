// TEST ONLY. KONSUL_UNSAFE_FOR_TESTS breaks a guarantee on purpose, so that the
// fault suite (test/jepsen) can show it notices: never set it in production.
//   stale-default-reads  default reads served from the local replica, with no ReadIndex or lease
//   ack-before-commit    the leader acknowledges a write once appended to its own log, before a majority has it
//   ignore-disk-full     no disk guard (disk-guard.ts): the node writes into a full disk, as a konsul without one would
//   ack-before-fsync     (ops2) Raft log writes count as done once in the page cache, before their fsync: a node
//                        acknowledges entries (and votes) a power loss can take back (read in src/storage/log-store.ts)
// Also test-only, outside this setting: KONSUL_UNSAFE_FSYNC_DELAY_FILE (src/storage/group-commit.ts), a file
// whose number of milliseconds is waited before every fsync (the fault suite's slow-disk fault).

export type UnsafeSetting = 'stale-default-reads' | 'ack-before-commit' | 'ignore-disk-full' | 'ack-before-fsync';
const KNOWN: readonly UnsafeSetting[] = ['stale-default-reads', 'ack-before-commit', 'ignore-disk-full', 'ack-before-fsync'];

/** The setting in force, or undefined; any other value throws (it is never ignored silently). */
export function unsafeForTests(env: NodeJS.ProcessEnv = process.env): UnsafeSetting | undefined {
  const v = env.KONSUL_UNSAFE_FOR_TESTS;
  if (v === undefined || v === '') return undefined;
  if (!(KNOWN as readonly string[]).includes(v)) {
    throw new Error(`KONSUL_UNSAFE_FOR_TESTS=${v} is not a known test-only setting (known: ${KNOWN.join(', ')})`);
  }
  return v as UnsafeSetting;
}
