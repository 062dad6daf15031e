// fast-check generators for the Raft wire types, and a normal form that lets
// a decoded message be compared with the one that was encoded.

import fc from 'fast-check';
import { EntryType, MessageType, type Entry, type Message, type Snapshot } from '../../src/raft/types.js';

const uint = fc.maxSafeNat();
const smallUint = fc.nat({ max: 1_000_000 });
/** Numbers near the edges (0, 2^32, 2^53) as well as small ones. */
const raftNumber = fc.oneof(smallUint, uint, fc.constantFrom(0, 0xffff_ffff, 0x1_0000_0000, Number.MAX_SAFE_INTEGER));
const id = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'grapheme', maxLength: 6 }));

export const entryArb: fc.Arbitrary<Entry> = fc.record({
  term: raftNumber,
  index: raftNumber,
  type: fc.constantFrom(EntryType.Normal, EntryType.ConfChange),
  data: fc.uint8Array({ maxLength: 300 }),
});

export const snapshotArb: fc.Arbitrary<Snapshot> = fc.record(
  {
    meta: fc.record({
      index: raftNumber,
      term: raftNumber,
      conf: fc.record({
        members: fc.array(fc.record({ id, address: fc.string({ maxLength: 30 }), voter: fc.boolean() }), { maxLength: 7 }),
      }),
    }),
    data: fc.uint8Array({ maxLength: 2000 }),
  },
  { requiredKeys: ['meta'] },
);

const messageTypes = Object.values(MessageType).filter((v): v is MessageType => typeof v === 'number');

export function messageArb(type?: MessageType): fc.Arbitrary<Message> {
  return fc.record(
    {
      type: type === undefined ? fc.constantFrom(...messageTypes) : fc.constant(type),
      from: id,
      to: id,
      term: raftNumber,
      logTerm: raftNumber,
      index: raftNumber,
      commit: raftNumber,
      reject: fc.boolean(),
      rejectHint: raftNumber,
      entries: fc.array(entryArb, { maxLength: 20 }),
      snapshot: snapshotArb,
      context: fc.string({ maxLength: 40 }),
      round: raftNumber,
    },
    {
      requiredKeys: ['type', 'from', 'to', 'term', 'logTerm', 'index', 'commit', 'reject', 'rejectHint', 'entries', 'context', 'round'],
    },
  );
}

/**
 * Plain objects with byte arrays as Buffers, so a generated message (fast-check
 * may build null-prototype records and Uint8Arrays) compares equal to its decoding.
 */
export function normalize(message: Message): Message {
  const out: Message = {
    type: message.type, from: message.from, to: message.to, term: message.term, logTerm: message.logTerm,
    index: message.index, commit: message.commit, reject: message.reject, rejectHint: message.rejectHint,
    entries: message.entries.map((e) => ({ term: e.term, index: e.index, type: e.type, data: Buffer.from(e.data) })),
    context: message.context, round: message.round,
  };
  if (message.snapshot !== undefined) {
    const { meta } = message.snapshot;
    out.snapshot = {
      meta: {
        index: meta.index,
        term: meta.term,
        conf: { members: meta.conf.members.map((m) => ({ id: m.id, address: m.address, voter: m.voter })) },
      },
    };
    if (message.snapshot.data !== undefined) out.snapshot.data = Buffer.from(message.snapshot.data);
  }
  return out;
}

/** An App message as the leader sends it: `count` consecutive entries of `size` bytes. */
export function appMessage(from: string, to: string, count: number, size: number, firstIndex = 1): Message {
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    entries.push({ term: 3, index: firstIndex + i, type: EntryType.Normal, data: Buffer.alloc(size, i & 0xff) });
  }
  return {
    type: MessageType.App, from, to, term: 3, logTerm: 3, index: firstIndex - 1, commit: firstIndex - 1,
    reject: false, rejectHint: 0, entries, context: '', round: 0,
  };
}
