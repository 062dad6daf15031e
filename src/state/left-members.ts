// Members that left (`konsul leave`) or were removed, kept so `konsul members`
// shows them as `left` (as Consul's Serf does) until the leader forgets them
// after the reconnect timeout (Consul: reconnect_timeout, 72 h).

import { StorageCorruptionError, type StateReader, type StateWriter } from '../storage/index.js';

export const LEFT_MEMBERS_TABLE = 'members-left';

export interface LeftMemberRecord {
  id: string;
  /** The addresses and role of its member record when it left ('' and false when it had none). */
  raftAddress: string;
  httpAddress: string;
  server: boolean;
  /** When it left: the proposing leader's clock, ms since the epoch (the same on every replica). */
  leftAt: number;
  /** The Raft index of the member-left command. */
  modifyIndex: number;
}

type Stored = Omit<LeftMemberRecord, 'id'>;

function decode(id: string, b: Buffer): LeftMemberRecord {
  let r: Partial<Stored> | null = null;
  try {
    r = JSON.parse(b.toString('utf8')) as Partial<Stored> | null;
  } catch {
    // falls through to the check below
  }
  if (r === null || typeof r !== 'object' || typeof r.raftAddress !== 'string' || typeof r.httpAddress !== 'string'
    || typeof r.server !== 'boolean' || !Number.isSafeInteger(r.leftAt) || !Number.isSafeInteger(r.modifyIndex)) {
    throw new StorageCorruptionError('left member', `record ${JSON.stringify(id)} does not parse`);
  }
  return { id, raftAddress: r.raftAddress, httpAddress: r.httpAddress, server: r.server, leftAt: r.leftAt!, modifyIndex: r.modifyIndex! };
}

/**
 * member-left: the member record (if any) moves to the left members. `member`
 * is its record as the replica holds it, read in the same transaction.
 */
export function applyMemberLeft(
  txn: StateWriter, index: number, id: string, at: number,
  member: { raftAddress: string; httpAddress: string; server: boolean } | undefined, membersTable: string,
): true {
  const stored: Stored = {
    raftAddress: member?.raftAddress ?? '', httpAddress: member?.httpAddress ?? '', server: member?.server ?? false, leftAt: at, modifyIndex: index,
  };
  txn.delete(membersTable, id);
  txn.put(LEFT_MEMBERS_TABLE, id, Buffer.from(JSON.stringify(stored), 'utf8'));
  return true;
}

/** member-forget; and member-set (a member that joins again is no longer one that left). */
export function forgetLeftMember(txn: StateWriter, id: string): boolean {
  return txn.delete(LEFT_MEMBERS_TABLE, id);
}

export function listLeftMembers(txn: StateReader): LeftMemberRecord[] {
  const out: LeftMemberRecord[] = [];
  for (const rec of txn.scan(LEFT_MEMBERS_TABLE)) out.push(decode(rec.key.toString('utf8'), rec.value));
  return out;
}
