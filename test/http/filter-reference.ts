// For the filter tests and the filter fuzz target: a small record type, random
// expression trees over it printed as text in varied layouts, and a reference
// evaluator written as plainly as the rules read (no compile step, no schema
// walk), to compare the real parser and evaluator against.

import fc from 'fast-check';
import { T, type FieldType } from '../../src/http/filter/evaluate.js';
import type { FilterExpr, MatchOp } from '../../src/http/filter/parse.js';

export interface Item {
  Name: string;
  Port: number;
  Enabled: boolean;
  Tags: string[];
  Meta: Record<string, string>;
  Checks: Array<{ Status: string; Output: string }>;
}

export const ITEM_SCHEMA: FieldType = T.struct({
  Name: T.string, Port: T.int, Enabled: T.bool, Tags: T.strings, Meta: T.map,
  Checks: T.list(T.struct({ Status: T.string, Output: T.string })),
});

const WORDS = ['web', 'db', 'v1', 'v2', 'prod', 'eu', 'passing', 'critical', '', 'we', 'a b', 'x"y'];
const word = fc.constantFrom(...WORDS);

export const itemArb: fc.Arbitrary<Item> = fc.record({
  Name: word,
  Port: fc.constantFrom(0, 80, 8080, -1),
  Enabled: fc.boolean(),
  Tags: fc.uniqueArray(word, { maxLength: 3 }),
  Meta: fc.dictionary(fc.constantFrom('env', 'rack', 'zone'), word, { maxKeys: 2 }),
  Checks: fc.array(fc.record({ Status: fc.constantFrom('passing', 'warning', 'critical'), Output: word }), { maxLength: 3 }),
});

type Leaf = 'string' | 'int' | 'bool' | 'strings' | 'map' | 'list';
const SELECTORS: ReadonlyArray<readonly [string[], Leaf]> = [
  [['Name'], 'string'], [['Port'], 'int'], [['Enabled'], 'bool'], [['Tags'], 'strings'], [['Meta'], 'map'],
  [['Meta', 'env'], 'string'], [['Meta', 'rack'], 'string'], [['Checks'], 'list'], [['Checks', 'Status'], 'string'],
  [['Checks', 'Output'], 'string'],
];
const OPS: Readonly<Record<Leaf, readonly MatchOp[]>> = {
  string: ['==', '!=', 'in', 'not in', 'matches', 'not matches', 'is empty', 'is not empty'],
  int: ['==', '!='], bool: ['==', '!='],
  strings: ['in', 'not in', 'is empty', 'is not empty'],
  map: ['in', 'not in', 'is empty', 'is not empty'],
  list: ['is empty', 'is not empty'],
};

function valueFor(leaf: Leaf, op: MatchOp): fc.Arbitrary<string> {
  if (op === 'matches' || op === 'not matches') return fc.constantFrom('^w', 'b$', 'v[0-9]', '.*', 'pro?d', '^$');
  if (leaf === 'int') return fc.constantFrom('0', '80', '8080', '-1', '7');
  if (leaf === 'bool') return fc.constantFrom('true', 'false');
  if (leaf === 'map') return fc.constantFrom('env', 'rack', 'zone', 'other');
  return word;
}

const matchArb: fc.Arbitrary<FilterExpr> = fc.constantFrom(...SELECTORS).chain(([selector, leaf]) =>
  fc.constantFrom(...OPS[leaf]).chain((op) => (op === 'is empty' || op === 'is not empty'
    ? fc.constant<FilterExpr>({ kind: 'match', selector, op })
    : valueFor(leaf, op).map((value): FilterExpr => ({ kind: 'match', selector, op, value })))));

export const exprArb: fc.Arbitrary<FilterExpr> = fc.letrec<{ expr: FilterExpr }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    matchArb,
    fc.record({ kind: fc.constantFrom('and' as const, 'or' as const), left: tie('expr'), right: tie('expr') }),
    // `not not x` parses as x: generate single nots only.
    tie('expr').filter((e) => e.kind !== 'not').map((operand): FilterExpr => ({ kind: 'not', operand })),
  ),
})).expr;

/** Layout choices for printing: extra spaces, quoting style, `contains` for `in`, redundant parentheses. */
export interface Layout { spaces: boolean; backticks: boolean; contains: boolean; parens: boolean; pointer: boolean }
export const layoutArb: fc.Arbitrary<Layout> = fc.record({
  spaces: fc.boolean(), backticks: fc.boolean(), contains: fc.boolean(), parens: fc.boolean(), pointer: fc.boolean(),
});

function quote(value: string, layout: Layout): string {
  // A bare word is a value too (the grammar reads it as a selector's text).
  if (layout.spaces && /^([A-Za-z][A-Za-z0-9_]*|-?(0|[1-9][0-9]*))$/.test(value)) return value;
  // The grammar ends a "..." string at the first '"', escaped or not: such values need backticks.
  if ((layout.backticks || value.includes('"')) && !value.includes('`')) return `\`${value}\``;
  return JSON.stringify(value);
}

/** Prints a tree so that it parses back to itself: and/or are parenthesized by precedence. */
export function printExpr(e: FilterExpr, layout: Layout, parent: 'or' | 'and' | 'not' | 'top' = 'top'): string {
  const sp = layout.spaces ? '  ' : ' ';
  switch (e.kind) {
    case 'or':
    case 'and': {
      // Both operators associate to the right in the grammar: a left operand of the same kind needs parentheses.
      const left = printExpr(e.left, layout, e.kind);
      const leftText = e.left.kind === e.kind ? `(${left})` : left;
      const text = `${leftText}${sp}${e.kind}${sp}${printExpr(e.right, layout, e.kind)}`;
      const needs = parent === 'not' || (parent === 'and' && e.kind === 'or') || (layout.parens && parent !== 'top');
      return needs ? `(${text})` : text;
    }
    case 'not':
      return `not${sp}${printExpr(e.operand, layout, 'not')}`;
    case 'match': {
      const sel = layout.pointer && e.selector.length > 1 ? `"/${e.selector.join('/')}"` : e.selector.join('.');
      const v = e.value === undefined ? '' : quote(e.value, layout);
      let text: string;
      switch (e.op) {
        case 'is empty': text = `${sel}${sp}is empty`; break;
        case 'is not empty': text = `${sel} is${sp}not empty`; break;
        case 'in': text = layout.contains ? `${sel}${sp}contains ${v}` : `${v} in${sp}${sel}`; break;
        case 'not in': text = layout.contains ? `${sel} not contains${sp}${v}` : `${v} not in ${sel}`; break;
        case '==': text = layout.spaces ? `${sel}==${v}` : `${sel} == ${v}`; break;
        case '!=': text = `${sel} != ${v}`; break;
        default: text = `${sel} ${e.op}${sp}${v}`;
      }
      return parent === 'not' && layout.parens ? `(${text})` : text;
    }
  }
}

// ------------------------------------------------------------ the reference evaluator

function valuesAt(item: Item, selector: readonly string[]): unknown[] | 'absent' {
  const [head, tail] = [selector[0], selector[1]];
  if (head === 'Checks') {
    if (tail === undefined) return [item.Checks];
    return item.Checks.map((c) => c[tail as 'Status' | 'Output']);
  }
  if (head === 'Meta' && tail !== undefined) return tail in item.Meta ? [item.Meta[tail]] : 'absent';
  return [(item as unknown as Record<string, unknown>)[head!]];
}

function holds(op: MatchOp, v: unknown, raw: string | undefined): boolean {
  switch (op) {
    case '==': case '!=':
      if (typeof v === 'number') return v === Number(raw);
      if (typeof v === 'boolean') return v === (raw === 'true');
      return v === raw;
    case 'in': case 'not in':
      if (typeof v === 'string') return v.includes(raw!);
      if (Array.isArray(v)) return v.includes(raw);
      return Object.keys(v as object).includes(raw!);
    case 'matches': case 'not matches':
      return new RegExp(raw!).test(v as string);
    case 'is empty': case 'is not empty':
      return typeof v === 'string' || Array.isArray(v) ? v.length === 0 : Object.keys(v as object).length === 0;
  }
}

const NEGATIVE = new Set<MatchOp>(['!=', 'not in', 'not matches', 'is not empty']);

export function referenceEval(e: FilterExpr, item: Item): boolean {
  if (e.kind !== 'match') return e.kind === 'not' ? !referenceEval(e.operand, item) : e.kind === 'and' ? referenceEval(e.left, item) && referenceEval(e.right, item) : referenceEval(e.left, item) || referenceEval(e.right, item);
  const values = valuesAt(item, e.selector);
  // An absent map key, or a list of checks with none: nothing there is empty; otherwise the positive operators fail
  // and the negated ones hold.
  if (values === 'absent' || values.length === 0) return e.op === 'is empty' || (e.op !== 'is not empty' && NEGATIVE.has(e.op));
  const any = values.some((v) => holds(e.op, v, e.value));
  return NEGATIVE.has(e.op) ? !any : any;
}
