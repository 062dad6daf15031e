// Consul's filter language: the grammar (precedence, quoting, errors with
// Consul's message), go-bexpr's semantics (missing keys, lists, regexes), and
// a differential test of parser + evaluator against a plain reference
// evaluator over generated expressions and records.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { compileFilter, FilterError } from '../../src/http/filter/evaluate.js';
import { parseFilter, type FilterExpr } from '../../src/http/filter/parse.js';
import { exprArb, itemArb, ITEM_SCHEMA, layoutArb, printExpr, referenceEval, type Item } from './filter-reference.js';

const web: Item = {
  Name: 'web', Port: 8080, Enabled: true, Tags: ['v2', 'prod'], Meta: { env: 'prod' },
  Checks: [{ Status: 'passing', Output: 'ok' }, { Status: 'critical', Output: 'down' }],
};
const db: Item = { Name: 'db', Port: 5432, Enabled: false, Tags: [], Meta: {}, Checks: [] };

function matches(text: string, item: Item): boolean {
  return compileFilter(text, ITEM_SCHEMA).matches(item);
}

function refused(text: string): string {
  try {
    compileFilter(text, ITEM_SCHEMA);
  } catch (error) {
    assert.ok(error instanceof FilterError, `not a FilterError: ${String(error)}`);
    return error.message;
  }
  assert.fail(`${JSON.stringify(text)} was accepted`);
}

describe('filter grammar', () => {
  test('and binds tighter than or; not tighter than both; parentheses regroup', () => {
    const tree = parseFilter('Name == a or Name == b and not Port == 1');
    assert.ok(tree.kind === 'or');
    assert.equal(tree.right.kind, 'and');
    assert.equal(parseFilter('(Name == a or Name == b) and Port == 1').kind, 'and');
    assert.equal(parseFilter('not not Name == a').kind, 'match');
  });

  test('every operator, quoted, backquoted and bare values, index and JSON-pointer selectors', () => {
    assert.equal(matches('Name == "web"', web), true);
    assert.equal(matches('Name == web', web), true);
    assert.equal(matches('Name == `web`', web), true);
    assert.equal(matches('Name != web', web), false);
    assert.equal(matches('"v2" in Tags', web), true);
    assert.equal(matches('Tags contains v2', web), true);
    assert.equal(matches('Tags not contains v2', web), false);
    assert.equal(matches('"v3" not in Tags', web), true);
    assert.equal(matches('Name matches "^w.b$"', web), true);
    assert.equal(matches('Name not matches "^d"', web), true);
    assert.equal(matches('Tags is empty', db), true);
    assert.equal(matches('Tags is not empty', web), true);
    assert.equal(matches('Meta.env == prod and Meta["env"] == prod and "/Meta/env" == prod', web), true);
    assert.equal(matches('env in Meta', web), true);
    assert.equal(matches('Port == 8080 and Enabled == true', web), true);
    assert.equal(matches('Name contains "e"', web), true, 'contains on a string is a substring test');
    assert.equal(matches('Name == "w\\x65b"', web), true, 'Go escapes in double quotes');
  });

  test('a missing map key: positive operators false, negated ones true (go-bexpr)', () => {
    assert.equal(matches('Meta.env == prod', db), false);
    assert.equal(matches('Meta.env != prod', db), true);
    assert.equal(matches('Meta.env is empty', db), true);
    assert.equal(matches('Meta.env matches "."', db), false);
  });

  test('a selector through a list holds when any element matches', () => {
    assert.equal(matches('Checks.Status == critical', web), true);
    assert.equal(matches('Checks.Status == warning', web), false);
    assert.equal(matches('Checks.Status != passing', web), false, '!= is the negation of ==');
    assert.equal(matches('Checks is empty', db), true);
  });

  test("bad expressions: Consul's message prefix, where it broke, what was expected", () => {
    const msg = refused('Name == ');
    assert.match(msg, /^Failed to create boolean expression evaluator: 1:9 \(8\): no match found, expected: /);
    assert.match(refused('Node == host-name'), /^Failed to create boolean expression evaluator: 1:/);
    assert.match(refused('(Name == a'), /Unmatched parentheses/);
    assert.match(refused('Name == "web'), /Unterminated string literal/);
    assert.match(refused('Port == 1.2.3'), /Invalid number literal/);
    assert.match(refused('Nope == a'), /Selector "Nope" is not valid/);
    assert.match(refused('Port matches "1"'), /Invalid match operator "matches" for selector "Port"/);
    assert.match(refused('Port == abc'), /Failed to convert match value "abc" to int/);
    assert.match(refused('Name matches "("'), /Failed to compile regular expression/);
    assert.match(refused('Tags == a'), /Invalid match operator "==" for selector "Tags"/);
    assert.match(refused('Name == a or'), /no match found/);
    assert.match(refused('x'.repeat(5000)), /at most 4096/);
    assert.match(refused(`${'not '.repeat(100)}Name == a`), /nests deeper than 64/);
  });

  test('a regex is RE2: no backreferences, and matching time stays linear', () => {
    assert.match(refused('Name matches "(a)\\\\1"'), /Failed to compile regular expression/);
    const long: Item = { ...web, Name: `${'a'.repeat(5000)}!` };
    const started = performance.now();
    assert.equal(matches('Name matches "^(a+)+$"', long), false);
    // Not a timing assertion on speed: a backtracking engine takes longer than the test's life here.
    assert.ok(performance.now() - started < 60_000);
  });
});

describe('filter differential test against a reference evaluator', () => {
  test('printed trees parse back to themselves', () => {
    fc.assert(fc.property(exprArb, layoutArb, (expr, layout) => {
      const text = printExpr(expr, layout);
      assert.deepEqual(parseFilter(text), JSON.parse(JSON.stringify(expr)), text);
    }), { numRuns: 1500, seed: 18 });
  });

  test('parser + evaluator agree with the reference on generated expressions and records', () => {
    let hits = 0;
    let total = 0;
    fc.assert(fc.property(exprArb, layoutArb, fc.array(itemArb, { minLength: 1, maxLength: 4 }), (expr, layout, items) => {
      const text = printExpr(expr, layout);
      const filter = compileFilter(text, ITEM_SCHEMA);
      for (const item of items) {
        const got = filter.matches(item);
        assert.equal(got, referenceEval(expr, item), `${text} on ${JSON.stringify(item)}`);
        total++;
        if (got) hits++;
      }
    }), { numRuns: 1500, seed: 1818 });
    // The generated cases exercise both answers, not one.
    assert.ok(hits > total / 10 && hits < total * 0.9, `${hits} of ${total} matched`);
  });

  test('the differential test catches an evaluator that gets one rule wrong', () => {
    // A broken variant: a missing map key answered as an empty string instead of "not present".
    const broken = (expr: FilterExpr, item: Item): boolean => compileFilter(printExpr(expr, { spaces: false, backticks: false, contains: false, parens: false, pointer: false }), ITEM_SCHEMA)
      .matches({ ...item, Meta: { env: '', rack: '', zone: '', ...item.Meta } });
    const outcome = fc.check(fc.property(exprArb, itemArb, (expr, item) => broken(expr, item) === referenceEval(expr, item)), { numRuns: 3000, seed: 7 });
    assert.equal(outcome.failed, true, 'the broken evaluator went unnoticed');
  });
});
