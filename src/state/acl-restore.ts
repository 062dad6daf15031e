// sec: what a snapshot restore does with ACL tokens and policies. As in Consul, a restore replaces
// the cluster's ACL tables with the snapshot's, when the snapshot holds any; a snapshot without
// (from a cluster that never used ACLs, or the first release's) leaves the cluster's own in place.
// The proposer reads the snapshot's ACL records first (to refuse a restore that would lock its
// caller out) and may drop them from the stream (keep this cluster's ACLs).

import { SnapshotDecoder, SnapshotEncoder } from '../storage/snapshot-format.js';
import { ACL_TABLE, GLOBAL_MANAGEMENT_POLICY_ID, type AclPolicyRecord, type AclTokenRecord } from './acl.js';

export interface SnapshotAcl {
  tokens: AclTokenRecord[];
  policies: AclPolicyRecord[];
  /** Records of the acl table, of any kind (tokens, policies, the bootstrap mark). */
  records: number;
}

/** The ACL records a state stream holds (the stream was checked already; a record that is not JSON is skipped). */
export function snapshotAcl(state: Uint8Array): SnapshotAcl {
  const out: SnapshotAcl = { tokens: [], policies: [], records: 0 };
  let inAcl = false;
  const decoder = new SnapshotDecoder({
    table(name) {
      inAcl = name === ACL_TABLE;
    },
    record(key, value) {
      if (!inAcl) return;
      out.records++;
      const k = key.toString('utf8');
      try {
        if (k.startsWith('t/')) out.tokens.push(JSON.parse(value.toString('utf8')) as AclTokenRecord);
        else if (k.startsWith('p/')) out.policies.push(JSON.parse(value.toString('utf8')) as AclPolicyRecord);
      } catch {
        // restoreProblem refuses such a stream; nothing to read here
      }
    },
  });
  decoder.push(Buffer.from(state.buffer, state.byteOffset, state.byteLength));
  decoder.end();
  return out;
}

/** Whether `secret` names a token of the snapshot with the global-management policy. */
export function managesSnapshot(acl: SnapshotAcl, secret: string | undefined): boolean {
  if (secret === undefined || secret === '') return false;
  return acl.tokens.some((t) => t.secretId === secret && t.policies.includes(GLOBAL_MANAGEMENT_POLICY_ID));
}

/** The same stream without `table`'s records (its header stays, empty): a restore of it keeps the cluster's. */
export function withoutTableRecords(state: Uint8Array, table: string): Buffer {
  const chunks: Buffer[] = [];
  let encoder: SnapshotEncoder | undefined;
  let skipping = false;
  const decoder = new SnapshotDecoder({
    header(appliedIndex, tableCount) {
      encoder = new SnapshotEncoder(appliedIndex, tableCount);
    },
    table(name) {
      skipping = name === table;
      encoder!.table(name);
    },
    record(key, value) {
      if (!skipping) encoder!.record(key, value);
    },
  });
  decoder.push(Buffer.from(state.buffer, state.byteOffset, state.byteLength));
  decoder.end();
  chunks.push(encoder!.finish());
  return Buffer.concat(chunks);
}
