// Fuzz targets for what an outsider or a stolen file can feed the security code:
// the ACL rule parser (policy text over HTTP) and the encrypted snapshot reader.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { compileAuthorizer } from '../../src/acl/authorizer.js';
import { AclRuleError, NAMED_RESOURCES, parseRules, type AclAccess } from '../../src/acl/rules.js';
import { ArchiveDecryptor, SnapshotCryptoError, encryptArchive } from '../../src/state/archive-crypto.js';
import { hostileBytes, type FuzzTarget } from './runner.js';

const nameArb = fc.oneof(fc.constantFrom('', 'app/', 'web', 'a"b', 'x\\y', '\u00e9', '*'), fc.string({ maxLength: 10 }));
const accessArb = fc.constantFrom<AclAccess>('read', 'write', 'deny');
const ruleArb = fc.record({
  resource: fc.constantFrom(...NAMED_RESOURCES),
  prefix: fc.boolean(),
  name: nameArb,
  access: accessArb,
});

/** A valid policy as Consul's HCL, with comments and layouts users write. */
const validHclArb = fc.tuple(fc.uniqueArray(ruleArb, { maxLength: 6, selector: (r) => `${r.resource}${r.prefix}${r.name}` }), fc.option(accessArb, { nil: undefined }), fc.boolean())
  .map(([rules, operator, compact]) => {
    const lines = rules.map((r) => {
      const head = `${r.resource}${r.prefix ? '_prefix' : ''} ${JSON.stringify(r.name)}`;
      return compact ? `${head} { policy = "${r.access}" }` : `# rule\n${head} {\n  policy = "${r.access}"\n}`;
    });
    if (operator) lines.push(`operator = "${operator}"`);
    return lines.join('\n');
  });

export const aclRulesTarget: FuzzTarget = {
  name: 'acl-rules',
  description: 'parseRules (HCL and JSON): valid policies mutated or random text; a result or an AclRuleError (400, one line), never another error; valid HCL and its JSON form decide alike',
  testRuns: 6000,
  async setup() {
    const property = fc.property(
      fc.oneof(
        hostileBytes(validHclArb.map((t) => Buffer.from(t, 'utf8')), 120).map((b) => b.toString('utf8')),
        fc.string({ maxLength: 80 }),
        fc.json({ maxDepth: 4 }),
        validHclArb,
      ),
      fc.array(fc.tuple(fc.constantFrom(...NAMED_RESOURCES), nameArb), { maxLength: 4 }),
      (text, probes) => {
        let rules;
        try {
          rules = parseRules(text);
        } catch (error) {
          assert.ok(error instanceof AclRuleError, `parseRules threw ${String(error)} for ${JSON.stringify(text)}`);
          assert.equal(error.kind, 'invalid');
          assert.ok(!error.message.includes('\n'), 'a multi-line error');
          return;
        }
        // The same rules through the JSON form decide every probe alike.
        const json: Record<string, Record<string, { policy: string }>> = Object.create(null) as Record<string, Record<string, { policy: string }>>;
        for (const r of rules.named) {
          const field = `${r.resource}${r.prefix ? '_prefix' : ''}`;
          (json[field] ??= Object.create(null) as Record<string, { policy: string }>)[r.name] = { policy: r.access };
        }
        const again = parseRules(JSON.stringify({ ...json, ...rules.global }));
        const a = compileAuthorizer([rules], 'deny');
        const b = compileAuthorizer([again], 'deny');
        for (const [resource, name] of probes) {
          for (const need of ['read', 'write', 'list'] as const) {
            assert.equal(a.allowed(resource, name, need), b.allowed(resource, name, need), `${resource} ${name} ${need}`);
          }
        }
      },
    );
    return { property, teardown: async () => undefined };
  },
};

export const encryptedSnapshotTarget: FuzzTarget = {
  name: 'encrypted-snapshot',
  description: 'ArchiveDecryptor: sealed archives mutated, cut or random, fed in any chunking; the plaintext exactly, or a SnapshotCryptoError and no unauthenticated byte given out',
  testRuns: 1500,
  async setup() {
    const key = randomBytes(32);
    const sealedArb = fc.uint8Array({ maxLength: 300 }).map((plain) => ({ plain: Buffer.from(plain), sealed: encryptArchive(Buffer.from(plain), key) }));
    const property = fc.property(
      sealedArb,
      fc.oneof(fc.constant(undefined), fc.nat()),
      fc.array(fc.integer({ min: 1, max: 64 }), { maxLength: 6 }),
      (sample, mutationSeed, cuts) => {
        // Mutate (or not) with fast-check's own mutation helper, seeded from the case.
        const bytes = mutationSeed === undefined
          ? sample.sealed
          : fc.sample(hostileBytes(fc.constant(sample.sealed), 60), { numRuns: 1, seed: mutationSeed })[0]!;
        const d = new ArchiveDecryptor(key);
        const out: Buffer[] = [];
        let at = 0;
        try {
          for (const n of cuts) {
            out.push(...d.push(bytes.subarray(at, at + n)));
            at += n;
          }
          out.push(...d.push(bytes.subarray(at)));
          d.end();
        } catch (error) {
          assert.ok(error instanceof SnapshotCryptoError, `threw ${String(error)}`);
          // What was given out before the error is a prefix of the real plaintext: authenticated chunks only.
          const given = Buffer.concat(out);
          assert.ok(sample.plain.subarray(0, given.length).equals(given), 'unauthenticated plaintext was given out');
          return;
        }
        assert.ok(Buffer.concat(out).equals(sample.plain), 'a changed file decrypted to other plaintext');
      },
    );
    return { property, teardown: async () => undefined };
  },
};
