// Filter expressions checked against the shape of what an endpoint returns
// (selectors, operators and value types, all at parse time, so a bad filter is
// a 400 before any data is read) and run over the JSON objects the endpoint
// would send. Semantics follow go-bexpr as Consul uses it.

import { compileRe2, type RE2JS } from '../../re2.js';
import { FilterSyntaxError, parseFilter, type FilterExpr, type MatchOp } from './parse.js';

/** The type of a field in an endpoint's answer. */
export type FieldType =
  | { kind: 'string' | 'int' | 'uint' | 'float' | 'bool' | 'strings' }
  /** Keys are data; values are strings unless `of` says otherwise. */
  | { kind: 'map'; of?: FieldType }
  | { kind: 'struct'; fields: Readonly<Record<string, FieldType>> }
  | { kind: 'list'; of: FieldType };

export const T = {
  string: { kind: 'string' } as FieldType,
  int: { kind: 'int' } as FieldType,
  uint: { kind: 'uint' } as FieldType,
  float: { kind: 'float' } as FieldType,
  bool: { kind: 'bool' } as FieldType,
  strings: { kind: 'strings' } as FieldType,
  map: { kind: 'map' } as FieldType,
  mapOf: (of: FieldType): FieldType => ({ kind: 'map', of }),
  struct: (fields: Record<string, FieldType>): FieldType => ({ kind: 'struct', fields }),
  list: (of: FieldType): FieldType => ({ kind: 'list', of }),
};

/** A filter that does not hold for the endpoint (a 400 with Consul's prefix). */
export class FilterError extends Error {
  constructor(message: string) {
    super(`Failed to create boolean expression evaluator: ${message}`);
    this.name = 'FilterError';
  }
}

type Leaf = 'string' | 'int' | 'uint' | 'float' | 'bool' | 'strings' | 'map' | 'struct' | 'list';

interface CompiledMatch {
  kind: 'match';
  path: string[];
  op: MatchOp;
  leaf: Leaf;
  /** The value coerced to the field's type. */
  value?: string | number | boolean;
  regex?: RE2JS;
}

type Compiled =
  | { kind: 'or' | 'and'; left: Compiled; right: Compiled }
  | { kind: 'not'; operand: Compiled }
  | CompiledMatch;

const INT = /^[+-]?[0-9]+$/;
const FLOAT = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/;

function coerce(raw: string, leaf: Leaf, selector: string): string | number | boolean {
  const bad = (what: string): never => {
    throw new FilterError(`Failed to convert match value ${JSON.stringify(raw)} to ${what} for selector ${JSON.stringify(selector)}`);
  };
  switch (leaf) {
    case 'bool':
      if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(raw)) return true;
      if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(raw)) return false;
      return bad('bool');
    case 'int':
      return INT.test(raw) && Number.isSafeInteger(Number(raw)) ? Number(raw) : bad('int');
    case 'uint':
      return /^\+?[0-9]+$/.test(raw) && Number.isSafeInteger(Number(raw)) ? Number(raw) : bad('uint');
    case 'float':
      return FLOAT.test(raw) ? Number(raw) : bad('float');
    default:
      return raw;
  }
}

const OPS_BY_LEAF: Readonly<Record<Leaf, readonly MatchOp[]>> = {
  string: ['==', '!=', 'in', 'not in', 'matches', 'not matches', 'is empty', 'is not empty'],
  int: ['==', '!='], uint: ['==', '!='], float: ['==', '!='], bool: ['==', '!='],
  strings: ['in', 'not in', 'is empty', 'is not empty'],
  map: ['in', 'not in', 'is empty', 'is not empty'],
  list: ['is empty', 'is not empty'],
  struct: [],
};

function resolve(schema: FieldType, path: readonly string[]): Leaf {
  const name = path.join('.');
  let type = schema;
  for (const part of path) {
    while (type.kind === 'list') type = type.of;
    if (type.kind === 'struct') {
      const next = type.fields[part];
      if (!next) throw new FilterError(`Selector ${JSON.stringify(name)} is not valid`);
      type = next;
    } else if (type.kind === 'map') {
      type = type.of ?? T.string;
    } else {
      throw new FilterError(`Selector ${JSON.stringify(name)} is not valid`);
    }
  }
  return type.kind;
}

function compile(expr: FilterExpr, schema: FieldType): Compiled {
  switch (expr.kind) {
    case 'or':
    case 'and':
      return { kind: expr.kind, left: compile(expr.left, schema), right: compile(expr.right, schema) };
    case 'not':
      return { kind: 'not', operand: compile(expr.operand, schema) };
    case 'match': {
      const name = expr.selector.join('.');
      const leaf = resolve(schema, expr.selector);
      if (!OPS_BY_LEAF[leaf].includes(expr.op)) {
        throw new FilterError(`Invalid match operator ${JSON.stringify(expr.op)} for selector ${JSON.stringify(name)} (a ${leaf} field takes ${OPS_BY_LEAF[leaf].map((o) => `"${o}"`).join(', ') || 'no operator'})`);
      }
      const m: CompiledMatch = { kind: 'match', path: expr.selector, op: expr.op, leaf };
      if (expr.value !== undefined) {
        const elementLeaf = leaf === 'strings' || leaf === 'map' ? 'string' : leaf;
        m.value = coerce(expr.value, elementLeaf, name);
      }
      if (expr.op === 'matches' || expr.op === 'not matches') {
        try {
          m.regex = compileRe2(expr.value!);
        } catch (error) {
          throw new FilterError(`Failed to compile regular expression ${JSON.stringify(expr.value)}: ${(error as Error).message}`);
        }
      }
      return m;
    }
  }
}

const MISSING = Symbol('missing');

/**
 * The values a selector reaches in `datum`: one, or several when the path
 * crosses a list (`Checks.Status`), or MISSING for an absent map key.
 */
function reach(datum: unknown, path: readonly string[]): unknown[] {
  let current: unknown[] = [datum];
  for (const part of path) {
    const next: unknown[] = [];
    for (const value of current) {
      // A list of objects (the schema allows no other list mid-path): the selector goes on into every element.
      for (const item of Array.isArray(value) ? value : [value]) {
        if (item === MISSING || item === null || typeof item !== 'object') next.push(MISSING);
        else next.push(Object.prototype.hasOwnProperty.call(item, part) ? (item as Record<string, unknown>)[part] : MISSING);
      }
    }
    current = next;
  }
  return current;
}

/** go-bexpr's answer for a missing map key: positive operators false, negated ones true. */
const NOT_PRESENT: Readonly<Record<MatchOp, boolean>> = {
  '==': false, '!=': true, in: false, 'not in': true, matches: false, 'not matches': true, 'is empty': true, 'is not empty': false,
};

function positive(m: CompiledMatch, value: unknown): boolean {
  switch (m.op) {
    case '==':
    case '!=':
      return value === m.value || (typeof value === 'bigint' && String(value) === String(m.value));
    case 'in':
    case 'not in':
      if (typeof value === 'string') return value.includes(m.value as string);
      if (Array.isArray(value)) return value.includes(m.value);
      if (value !== null && typeof value === 'object') return Object.prototype.hasOwnProperty.call(value, m.value as string);
      return false;
    case 'matches':
    case 'not matches':
      return typeof value === 'string' && m.regex!.matcher(value).find();
    case 'is empty':
    case 'is not empty':
      if (value === null || value === undefined) return true;
      if (typeof value === 'string' || Array.isArray(value)) return value.length === 0;
      if (typeof value === 'object') return Object.keys(value).length === 0;
      return false;
  }
}

const NEGATED: ReadonlySet<MatchOp> = new Set(['!=', 'not in', 'not matches', 'is not empty']);

function run(c: Compiled, datum: unknown): boolean {
  switch (c.kind) {
    case 'or':
      return run(c.left, datum) || run(c.right, datum);
    case 'and':
      return run(c.left, datum) && run(c.right, datum);
    case 'not':
      return !run(c.operand, datum);
    case 'match': {
      const values = reach(datum, c.path);
      if (values.length === 0) return NOT_PRESENT[c.op];
      // Across a list of objects, the match holds when it holds for any element;
      // a negated operator is the negation of its positive form, as in go-bexpr.
      const present = values.filter((v) => v !== MISSING);
      if (present.length === 0) return NOT_PRESENT[c.op];
      const hit = present.some((v) => positive(c, v));
      return NEGATED.has(c.op) ? !hit : hit;
    }
  }
}

export interface Filter {
  readonly text: string;
  matches(datum: unknown): boolean;
}

/** Parses and checks `text` against `schema`; throws FilterError (Consul's message) for a bad one. */
export function compileFilter(text: string, schema: FieldType): Filter {
  let expr: FilterExpr;
  try {
    expr = parseFilter(text);
  } catch (error) {
    if (error instanceof FilterSyntaxError) throw new FilterError(error.message);
    throw error;
  }
  const compiled = compile(expr, schema);
  return { text, matches: (datum) => run(compiled, datum) };
}
