// The state machine's command encoding: round trips, canonical bytes, and
// refusal (a 400 CommandDecodeError, never a RangeError) of anything that is
// not a command, including every truncation of a real one.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { KonsulError } from '../../src/errors.js';
import {
  CommandDecodeError, KeyTooLargeError, decodeCommand, encodeCommand, type Command,
} from '../../src/state/index.js';

// Any Unicode (multi-byte UTF-8, surrogate pairs), short enough to stay under 511 bytes.
const text = (minLength: number): fc.Arbitrary<string> => fc.string({ unit: 'binary', minLength, maxLength: 40 });
const cas = fc.option(fc.oneof(fc.nat({ max: 1000 }), fc.maxSafeNat()), { nil: undefined });

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    type: fc.constant('kv-set' as const),
    key: text(1),
    value: fc.uint8Array({ maxLength: 64 }),
    flags: fc.nat({ max: 0xffff_ffff }),
    cas,
  }),
  fc.record({ type: fc.constant('kv-delete' as const), key: text(1), recurse: fc.boolean(), cas }),
  fc.record({ type: fc.constant('kv-delete' as const), key: fc.constant(''), recurse: fc.constant(true), cas }),
  fc.record({
    type: fc.constant('member-set' as const),
    id: text(1), raftAddress: text(0), httpAddress: text(0), server: fc.boolean(),
  }),
  fc.record({ type: fc.constant('member-delete' as const), id: text(1) }),
  // cli (issue 15): left members.
  fc.record({ type: fc.constant('member-left' as const), id: text(1), at: fc.nat() }),
  fc.record({ type: fc.constant('member-forget' as const), id: text(1) }),
  // api branch (issue 18): user events.
  fc.record({
    type: fc.constant('event-fire' as const),
    event: fc.record({
      id: fc.uuid(), name: fc.string({ minLength: 1, maxLength: 20 }), nodeFilter: fc.string({ maxLength: 8 }),
      serviceFilter: fc.string({ maxLength: 8 }), tagFilter: fc.string({ maxLength: 8 }),
      payload: fc.uint8Array({ maxLength: 64 }).map((a) => Buffer.from(a)),
    }),
  }),
  // api branch (issue 18): prepared queries.
  fc.record({
    type: fc.constant('prepared-query' as const),
    op: fc.record({
      op: fc.constant('set' as const), create: fc.boolean(),
      query: fc.record({
        id: fc.uuid({ version: 4 }), name: fc.string({ minLength: 1, maxLength: 20 }), session: fc.constant(''), token: fc.string({ maxLength: 8 }).filter((t) => t !== '<hidden>'),
        template: fc.constant({ type: '', regexp: '', removeEmptyTags: false }), dns: fc.constantFrom({ ttl: '' }, { ttl: '10s' }),
        service: fc.record({
          service: fc.string({ minLength: 1, maxLength: 12 }), failover: fc.record({ nearestN: fc.nat({ max: 5 }), datacenters: fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 }) }),
          onlyPassing: fc.boolean(), ignoreCheckIds: fc.array(fc.string({ maxLength: 6 }), { maxLength: 2 }), near: fc.string({ maxLength: 6 }),
          tags: fc.array(fc.string({ maxLength: 6 }), { maxLength: 3 }), nodeMeta: fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }),
          serviceMeta: fc.dictionary(fc.string({ minLength: 1, maxLength: 4 }), fc.string({ maxLength: 4 }), { maxKeys: 2 }),
        }),
      }),
    }),
  }),
);

/** A comparable plain form: bytes as hex, absent optional fields dropped, recurse as a boolean. */
function plain(cmd: Command): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(cmd)) if (v !== undefined) out[k] = v;
  if (cmd.type === 'kv-set') out.value = Buffer.from(cmd.value).toString('hex');
  if (cmd.type === 'kv-delete') out.recurse = cmd.recurse === true;
  if (cmd.type === 'event-fire') out.event = { ...cmd.event, payload: cmd.event.payload.toString('hex') };
  if (cmd.type === 'prepared-query') out.op = JSON.parse(JSON.stringify(cmd.op)) as unknown;
  return out;
}

function isBadCommand(e: unknown): boolean {
  return e instanceof CommandDecodeError && e.code === 'KONSUL_ERR_BAD_COMMAND' && e.kind === 'invalid';
}

/** Hand-built command bytes, for inputs encodeCommand refuses to make. */
function frame(...parts: Array<number[] | Buffer>): Buffer {
  return Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
}
function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}
function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return Buffer.concat([u32(b.length), b]);
}

describe('command encoding', () => {
  it('decode(encode(cmd)) is cmd for every command', () => {
    fc.assert(fc.property(commandArb, (cmd) => {
      assert.deepEqual(plain(decodeCommand(encodeCommand(cmd))), plain(cmd));
    }), { numRuns: 1000 });
  });

  it('is compact binary: a small kv-set costs its key and value plus a fixed 14 bytes', () => {
    const bytes = encodeCommand({ type: 'kv-set', key: 'a/b', value: Buffer.from('hello'), flags: 0 });
    assert.equal(bytes.length, 2 + 4 + 3 + 4 + 4 + 5);
    assert.equal(bytes[0], 1);
  });

  it('refuses every truncation of every command with a 400, never a RangeError', () => {
    fc.assert(fc.property(commandArb, (cmd) => {
      const bytes = encodeCommand(cmd);
      for (let cut = 0; cut < bytes.length; cut++) {
        assert.throws(() => decodeCommand(bytes.subarray(0, cut)), isBadCommand, `cut at ${cut} of ${bytes.length}`);
      }
      assert.throws(() => decodeCommand(Buffer.concat([bytes, Buffer.of(0)])), /trailing/);
    }), { numRuns: 200 });
  });

  it('random bytes either fail as a bad command or are the canonical encoding of what they decode to', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 48 }), (bytes) => {
      let cmd: Command;
      try {
        cmd = decodeCommand(bytes);
      } catch (e) {
        assert.ok(isBadCommand(e), `not a CommandDecodeError: ${String(e)}`);
        return;
      }
      assert.deepEqual(Buffer.from(encodeCommand(cmd)), Buffer.from(bytes));
    }), { numRuns: 3000 });
    // Random bytes rarely decode; these do, and must re-encode to themselves.
    const valid = frame([4, 0], str('n1'));
    assert.deepEqual(Buffer.from(encodeCommand(decodeCommand(valid))), valid);
  });

  it('refuses bytes a proposer could never have encoded', () => {
    const cases: Array<[string, Buffer]> = [
      ['unknown type', frame([99, 0])],
      ['unknown bits', frame([4, 8], str('n1'))],
      ['recurse bit on a kv-set', frame([1, 2], str('k'), u32(0), str(''))],
      ['a length past the end', frame([4, 0], u32(0xffff_ffff), Buffer.from('n1'))],
      ['invalid UTF-8 in a key', frame([2, 0], str(Buffer.of(0x61, 0xff)))],
      ['an empty kv-set key', frame([1, 0], str(''), u32(0), str('v'))],
      ['an empty kv-delete key without recurse', frame([2, 0], str(''))],
      ['a 512-byte key', frame([2, 0], str('k'.repeat(512)))],
      ['an empty member id', frame([3, 0], str(''), str('a'), str('b'))],
      ['a cas beyond 2^53', frame([2, 1], str('k'), u32(0x0020_0000), u32(0))],
      ['nothing at all', Buffer.alloc(0)],
    ];
    for (const [what, bytes] of cases) assert.throws(() => decodeCommand(bytes), isBadCommand, what);
    // The same frames with the fault fixed do decode, so each case above tests its fault alone.
    assert.deepEqual(decodeCommand(frame([2, 1], str('k'), u32(0x001f_ffff), u32(0xffff_ffff))),
      { type: 'kv-delete', key: 'k', recurse: false, cas: Number.MAX_SAFE_INTEGER });
    assert.deepEqual(decodeCommand(frame([2, 2], str(''))), { type: 'kv-delete', key: '', recurse: true });
    assert.equal(decodeCommand(frame([2, 0], str('k'.repeat(511)))).type, 'kv-delete');
  });

  it('refuses to encode bad fields with a 400', () => {
    const bad = (cmd: Command, code = 'KONSUL_ERR_BAD_COMMAND'): void => {
      assert.throws(() => encodeCommand(cmd), (e: unknown) => e instanceof KonsulError && e.code === code && e.kind === 'invalid',
        JSON.stringify(cmd));
    };
    const set = (key: string, extra: Partial<{ flags: number; cas: number }> = {}): Command =>
      ({ type: 'kv-set', key, value: Buffer.alloc(0), flags: extra.flags ?? 0, cas: extra.cas });
    bad(set('k'.repeat(512)), 'KONSUL_ERR_KEY_TOO_LARGE');
    // 256 two-byte characters: 512 bytes though only 256 characters.
    bad(set('é'.repeat(256)), 'KONSUL_ERR_KEY_TOO_LARGE');
    assert.throws(() => encodeCommand(set('k'.repeat(512))), KeyTooLargeError);
    bad(set(''));
    bad({ type: 'kv-delete', key: '' });
    bad(set('k', { flags: -1 }));
    bad(set('k', { flags: 2 ** 32 }));
    bad(set('k', { flags: 1.5 }));
    bad(set('k', { cas: -1 }));
    bad(set('k', { cas: 0.5 }));
    bad(set('k', { cas: 2 ** 53 }));
    bad(set('bad\uD800key'));
    bad({ type: 'member-set', id: '', raftAddress: 'a', httpAddress: 'b', server: true });
    bad({ type: 'member-delete', id: '' });
    bad({ type: 'nope' } as unknown as Command);
    // The limits themselves are fine.
    assert.doesNotThrow(() => encodeCommand(set('k'.repeat(511), { flags: 0xffff_ffff, cas: Number.MAX_SAFE_INTEGER })));
    assert.doesNotThrow(() => encodeCommand({ type: 'kv-delete', key: '', recurse: true }));
    assert.doesNotThrow(() => encodeCommand(set('a\uD83D\uDE00b')));
  });
});
