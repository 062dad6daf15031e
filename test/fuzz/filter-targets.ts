// The filter expression parser and evaluator (?filter on the catalog, health
// and agent endpoints) fed printed expressions with bytes replaced, token soup
// and random text: a filter or a FilterError with Consul's one-line prefix,
// never another error, and a compiled filter answers true or false for any record.

import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileFilter, FilterError } from '../../src/http/filter/evaluate.js';
import { HEALTH_SERVICE_SCHEMA } from '../../src/http/filter/schemas.js';
import { exprArb, itemArb, ITEM_SCHEMA, layoutArb, printExpr } from '../http/filter-reference.js';
import type { FuzzTarget } from './runner.js';

const TOKENS = [
  ' ', '  ', '(', ')', '"', '`', '[', ']', '.', '==', '!=', 'and', 'or', 'not', 'in', 'contains', 'matches', 'is', 'empty',
  'Name', 'Tags', 'Meta', 'Checks', 'Status', 'Service', 'Node', 'env', '"/Meta/env"', '"x"', '`y`', '-', '0', '1.5', '\\', '\n',
  '\u00e9', '\ud83d\ude00', '\ud800', 'Port', '^(a+)+$', '"(?P<x>a)"', '"\\x41"', '"\\u12"',
];

const textArb: fc.Arbitrary<string> = fc.oneof(
  // A valid expression with one stretch replaced.
  fc.tuple(exprArb, layoutArb, fc.nat(), fc.nat({ max: 6 }), fc.string({ maxLength: 4 })).map(([expr, layout, at, cut, insert]) => {
    const text = printExpr(expr, layout);
    const i = at % (text.length + 1);
    return text.slice(0, i) + insert + text.slice(i + cut);
  }),
  fc.array(fc.constantFrom(...TOKENS), { maxLength: 24 }).map((parts) => parts.join('')),
  fc.string({ maxLength: 64, unit: 'binary' }),
);

export const filterTarget: FuzzTarget = {
  name: 'filter-expression',
  description: '?filter parser and evaluator: mutated valid expressions, token soup and random text; a filter or a one-line FilterError with Consul\'s prefix, and a filter answers a boolean for any record',
  testRuns: 4000,
  async setup() {
    const property = fc.property(textArb, fc.array(itemArb, { maxLength: 3 }), (text, items) => {
      for (const schema of [ITEM_SCHEMA, HEALTH_SERVICE_SCHEMA]) {
        let filter;
        try {
          filter = compileFilter(text, schema);
        } catch (error) {
          assert.ok(error instanceof FilterError, `not a FilterError for ${JSON.stringify(text)}: ${String((error as Error)?.stack ?? error)}`);
          assert.ok(error.message.startsWith('Failed to create boolean expression evaluator: '), error.message);
          continue;
        }
        for (const item of items) assert.equal(typeof filter.matches(item), 'boolean');
        assert.equal(typeof filter.matches({}), 'boolean');
      }
    });
    return { property, teardown: async () => {} };
  },
};
