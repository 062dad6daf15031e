// Consul's rule language (HCL and JSON) and the decisions made from it: exact
// beats prefix, longest prefix wins, deny wins between policies, default policy otherwise.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileAuthorizer } from '../../src/acl/authorizer.js';
import { AclRuleError, parseRules } from '../../src/acl/rules.js';

describe('ACL rules: parsing', () => {
  it('reads the HCL Consul documents, comments included', () => {
    const rules = parseRules(`
      # the app's keys
      key_prefix "app/" {
        policy = "write"
      }
      key "app/secret" { policy = "deny" }   // one key closed
      service_prefix "" { policy = "read" }
      node_prefix "" { policy = "read" }
      session_prefix "" { policy = "write" }
      agent "n1" { policy = "read" }
      /* cluster-wide */
      operator = "read"
      service "web" {
        policy = "write"
        intentions = "read"
      }
    `);
    assert.deepEqual(rules.global, { operator: 'read' });
    const find = (resource: string, name: string, prefix: boolean) =>
      rules.named.find((r) => r.resource === resource && r.name === name && r.prefix === prefix)?.access;
    assert.equal(find('key', 'app/', true), 'write');
    assert.equal(find('key', 'app/secret', false), 'deny');
    assert.equal(find('service', '', true), 'read');
    assert.equal(find('session', '', true), 'write');
    assert.equal(find('agent', 'n1', false), 'read');
    assert.equal(find('service', 'web', false), 'write');
  });

  it('reads the JSON form to the same rules', () => {
    const hcl = parseRules('key_prefix "app/" { policy = "write" }\nservice "web" { policy = "read" }\noperator = "write"');
    const json = parseRules(JSON.stringify({
      key_prefix: { 'app/': { policy: 'write' } }, service: { web: { policy: 'read' } }, operator: 'write',
    }));
    assert.deepEqual(json, hcl);
  });

  it('refuses what is not a rule, with one line naming it', () => {
    const bad: Array<[string, RegExp]> = [
      ['key_prefix "" { policy = "rwx" }', /policy must be read, write, list or deny, got "rwx"/],
      ['service "" { policy = "list" }', /policy must be read, write or deny/],
      ['kee_prefix "" { policy = "read" }', /unknown rule "kee_prefix"/],
      ['key_prefix "" { policy = "read" ', /expected "}"/],
      ['key_prefix "" { polcy = "read" }', /unknown field "polcy"/],
      ['key_prefix "" {}', /has no policy/],
      ['operator = "list"', /operator: policy must be read, write or deny/],
      ['key "a" { policy = "read" }\nkey "a" { policy = "write" }', /given twice/],
      ['key_prefix "unterminated { policy = "read" }', /unterminated string|line break inside a string|unexpected/],
      ['{"key_prefix": "app/"}', /must be a block/],
      ['a'.repeat(70_000), /longer than/],
    ];
    for (const [text, message] of bad) {
      assert.throws(() => parseRules(text), (error: unknown) => {
        assert.ok(error instanceof AclRuleError, `${text.slice(0, 40)}: ${String(error)}`);
        assert.match(error.message, message);
        assert.ok(!error.message.includes('\n'));
        assert.equal(error.kind, 'invalid');
        return true;
      });
    }
  });

  it('takes empty rules as no rules', () => {
    assert.deepEqual(parseRules('  \n# nothing\n'), { named: [], global: {} });
  });
});

describe('ACL rules: decisions', () => {
  const deny = (text: string) => compileAuthorizer([parseRules(text)], 'deny');

  it('an exact rule beats a prefix; the longest prefix wins', () => {
    const a = deny('key_prefix "" { policy = "read" }\nkey_prefix "app/" { policy = "write" }\nkey "app/secret" { policy = "deny" }\nkey_prefix "app/ro/" { policy = "read" }');
    assert.equal(a.allowed('key', 'other', 'read'), true);
    assert.equal(a.allowed('key', 'other', 'write'), false);
    assert.equal(a.allowed('key', 'app/x', 'write'), true);
    assert.equal(a.allowed('key', 'app/secret', 'read'), false);
    assert.equal(a.allowed('key', 'app/secret2', 'write'), true);
    assert.equal(a.allowed('key', 'app/ro/x', 'write'), false);
    assert.equal(a.allowed('key', 'app/ro/x', 'read'), true);
  });

  it('a recursive write needs write on everything under the prefix', () => {
    const a = deny('key_prefix "app/" { policy = "write" }\nkey "app/keep" { policy = "read" }');
    assert.equal(a.allowedPrefixWrite('key', 'app/tmp/'), true);
    assert.equal(a.allowedPrefixWrite('key', 'app/'), false);
    assert.equal(a.allowedPrefixWrite('key', ''), false);
  });

  it('with no rule, the default policy answers', () => {
    assert.equal(deny('').allowed('service', 'web', 'read'), false);
    assert.equal(compileAuthorizer([parseRules('')], 'allow').allowed('service', 'web', 'write'), true);
    assert.equal(compileAuthorizer([parseRules('service "web" { policy = "read" }')], 'allow').allowed('service', 'web', 'write'), false);
  });

  it('between policies, deny beats write beats read', () => {
    const a = compileAuthorizer([parseRules('key_prefix "x/" { policy = "write" }'), parseRules('key_prefix "x/" { policy = "deny" }')], 'allow');
    assert.equal(a.allowed('key', 'x/1', 'read'), false);
    const b = compileAuthorizer([parseRules('service "web" { policy = "read" }'), parseRules('service "web" { policy = "write" }')], 'deny');
    assert.equal(b.allowed('service', 'web', 'write'), true);
  });

  it('list grants only listing; read and write grant it too', () => {
    const a = deny('key_prefix "l/" { policy = "list" }\nkey_prefix "r/" { policy = "read" }');
    assert.equal(a.allowed('key', 'l/a', 'list'), true);
    assert.equal(a.allowed('key', 'l/a', 'read'), false);
    assert.equal(a.allowed('key', 'r/a', 'list'), true);
  });

  it('operator and acl are one level for the cluster', () => {
    const a = deny('operator = "read"\nacl = "write"');
    assert.equal(a.allowed('operator', '', 'read'), true);
    assert.equal(a.allowed('operator', '', 'write'), false);
    assert.equal(a.allowed('acl', '', 'write'), true);
  });
});
