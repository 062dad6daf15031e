// Consul's filter expression language (go-bexpr's grammar), parsed by hand:
// `Service.Tags contains "v2" and not (ServiceMeta.env == prod or Node.Meta.rack is empty)`.
// A recursive-descent parser over characters, one rule per grammar rule, that
// remembers the farthest point it reached so a bad expression is answered
// with where it broke and what was expected there.

/** `contains` is `in` with its operands swapped; both are held as 'in'. */
export type MatchOp = '==' | '!=' | 'in' | 'not in' | 'matches' | 'not matches' | 'is empty' | 'is not empty';

export type FilterExpr =
  | { kind: 'or' | 'and'; left: FilterExpr; right: FilterExpr }
  | { kind: 'not'; operand: FilterExpr }
  | { kind: 'match'; selector: string[]; op: MatchOp; value?: string };

/** A bad expression: Consul answers it with a 400 whose text starts with this message's prefix. */
export class FilterSyntaxError extends Error {
  constructor(readonly offset: number, readonly reason: string, input: string) {
    const before = input.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    super(`${line}:${column} (${offset}): ${reason}`);
    this.name = 'FilterSyntaxError';
  }
}

/** Longest expression taken: a filter is a query parameter, not a program. */
export const MAX_FILTER_LENGTH = 4096;
/** Deepest nesting of `not` and parentheses (the parser recurses on them). */
const MAX_DEPTH = 64;

const IDENT_START = /[A-Za-z]/;
const IDENT_PART = /[A-Za-z0-9_]/;
const WS = /[ \t\r\n]/;
const POINTER_CHAR = /[\p{L}\p{N}\-_.~|]/u;

interface Ok<T> { value: T; end: number }

class Parser {
  private farthest = 0;
  private expected = new Set<string>();
  /** An error a grammar predicate raised (Unmatched parentheses, ...): it wins over "no match found". */
  private raised: { offset: number; reason: string } | undefined;

  constructor(private readonly text: string) {}

  parse(): FilterExpr {
    let at = this.ws(0);
    const expr = this.or(at, 0);
    if (expr) {
      at = this.ws(expr.end);
      if (at === this.text.length) return expr.value;
      this.expect(at, 'EOF');
    }
    if (this.raised) throw new FilterSyntaxError(this.raised.offset, this.raised.reason, this.text);
    const list = [...this.expected].sort();
    const tail = list.length === 0 ? '' : `, expected: ${list.length > 1 ? `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}` : list[0]}`;
    throw new FilterSyntaxError(this.farthest, `no match found${tail}`, this.text);
  }

  // ---------------------------------------------------------- helpers

  private expect(at: number, what: string): undefined {
    if (at > this.farthest) {
      this.farthest = at;
      this.expected = new Set([what]);
    } else if (at === this.farthest) this.expected.add(what);
    return undefined;
  }

  private raise(at: number, reason: string): undefined {
    if (!this.raised || at >= this.raised.offset) this.raised = { offset: at, reason };
    return undefined;
  }

  /** Optional whitespace: the position after it. */
  private ws(at: number): number {
    while (at < this.text.length && WS.test(this.text[at]!)) at++;
    return at;
  }

  /** Required whitespace: the position after it, or undefined. */
  private ws1(at: number): number | undefined {
    const end = this.ws(at);
    return end > at ? end : this.expect(at, 'whitespace');
  }

  private literal(at: number, word: string): number | undefined {
    return this.text.startsWith(word, at) ? at + word.length : this.expect(at, JSON.stringify(word));
  }

  /** `_ w1 _ w2 ... _`: words separated and surrounded by required whitespace. */
  private words(at: number, words: readonly string[], trailing: boolean): number | undefined {
    let pos: number | undefined = at;
    for (const w of words) {
      pos = this.ws1(pos);
      if (pos === undefined) return undefined;
      pos = this.literal(pos, w);
      if (pos === undefined) return undefined;
    }
    return trailing ? this.ws1(pos) : pos;
  }

  // ---------------------------------------------------------- expressions

  private or(at: number, depth: number): Ok<FilterExpr> | undefined {
    const left = this.and(at, depth);
    if (!left) return undefined;
    const after = this.words(left.end, ['or'], true);
    if (after !== undefined) {
      const right = this.or(after, depth);
      if (right) return { value: { kind: 'or', left: left.value, right: right.value }, end: right.end };
    }
    return left;
  }

  private and(at: number, depth: number): Ok<FilterExpr> | undefined {
    const left = this.not(at, depth);
    if (!left) return undefined;
    const after = this.words(left.end, ['and'], true);
    if (after !== undefined) {
      const right = this.and(after, depth);
      if (right) return { value: { kind: 'and', left: left.value, right: right.value }, end: right.end };
    }
    return left;
  }

  private not(at: number, depth: number): Ok<FilterExpr> | undefined {
    if (depth > MAX_DEPTH) return this.raise(at, `the expression nests deeper than ${MAX_DEPTH} levels`);
    const word = this.literal(at, 'not');
    const after = word === undefined ? undefined : this.ws1(word);
    if (after !== undefined) {
      const operand = this.not(after, depth + 1);
      if (operand) {
        // not not x is x, as go-bexpr simplifies it.
        const inner = operand.value;
        return { value: inner.kind === 'not' ? inner.operand : { kind: 'not', operand: inner }, end: operand.end };
      }
    }
    return this.group(at, depth);
  }

  private group(at: number, depth: number): Ok<FilterExpr> | undefined {
    if (this.text[at] === '(') {
      const inner = this.or(this.ws(at + 1), depth + 1);
      if (!inner) return undefined;
      const close = this.ws(inner.end);
      if (this.text[close] === ')') return { value: inner.value, end: close + 1 };
      this.expect(close, '")"');
      return this.raise(close, 'Unmatched parentheses');
    }
    this.expect(at, '"("');
    return this.match(at);
  }

  private match(at: number): Ok<FilterExpr> | undefined {
    const selector = this.selector(at);
    if (selector) {
      const s = selector.end;
      const ops: ReadonlyArray<readonly [MatchOp, () => number | undefined]> = [
        ['==', () => this.literal(this.ws(s), '==')],
        ['!=', () => this.literal(this.ws(s), '!=')],
        ['in', () => this.words(s, ['contains'], true)],
        ['not in', () => this.words(s, ['not', 'contains'], true)],
        ['matches', () => this.words(s, ['matches'], true)],
        ['not matches', () => this.words(s, ['not', 'matches'], true)],
      ];
      for (const [op, read] of ops) {
        let end = read();
        if (end === undefined) continue;
        if (op === '==' || op === '!=') end = this.ws(end);
        const value = this.value(end);
        if (value) return { value: { kind: 'match', selector: selector.value, op, value: value.value }, end: value.end };
      }
      const empty = this.words(s, ['is', 'empty'], false);
      if (empty !== undefined) return { value: { kind: 'match', selector: selector.value, op: 'is empty' }, end: empty };
      const notEmpty = this.words(s, ['is', 'not', 'empty'], false);
      if (notEmpty !== undefined) return { value: { kind: 'match', selector: selector.value, op: 'is not empty' }, end: notEmpty };
    }
    const value = this.value(at);
    if (value) {
      for (const [op, words] of [['in', ['in']], ['not in', ['not', 'in']]] as const) {
        const end = this.words(value.end, words, true);
        if (end === undefined) continue;
        const sel = this.selector(end);
        if (sel) return { value: { kind: 'match', selector: sel.value, op, value: value.value }, end: sel.end };
        this.raise(end, 'Invalid selector');
      }
    }
    return undefined;
  }

  // ---------------------------------------------------------- selectors and values

  private identifier(at: number): Ok<string> | undefined {
    if (at >= this.text.length || !IDENT_START.test(this.text[at]!)) return this.expect(at, '[a-zA-Z]');
    let end = at + 1;
    while (end < this.text.length && IDENT_PART.test(this.text[end]!)) end++;
    this.expect(end, '[a-zA-Z0-9_]');
    return { value: this.text.slice(at, end), end };
  }

  private selector(at: number): Ok<string[]> | undefined {
    if (this.text[at] === '"') return this.pointer(at);
    const first = this.identifier(at);
    if (!first) return undefined;
    const path = [first.value];
    let end = first.end;
    for (;;) {
      if (this.text[end] === '.') {
        const ident = this.identifier(end + 1);
        if (ident) {
          path.push(ident.value);
          end = ident.end;
          continue;
        }
        let d = end + 1;
        while (d < this.text.length && /[0-9]/.test(this.text[d]!)) d++;
        if (d > end + 1) {
          path.push(this.text.slice(end + 1, d));
          end = d;
          continue;
        }
        break;
      }
      if (this.text[end] === '[') {
        const start = this.ws(end + 1);
        const key = this.string(start);
        if (!key) {
          this.raise(start, 'Invalid index');
          break;
        }
        const close = this.ws(key.end);
        if (this.text[close] !== ']') {
          this.expect(close, '"]"');
          this.raise(close, 'Unclosed index expression');
          break;
        }
        path.push(key.value);
        end = close + 1;
        continue;
      }
      this.expect(end, '"."');
      this.expect(end, '"["');
      break;
    }
    return { value: path, end };
  }

  /** A JSON-pointer selector: `"/Service/Tags"`. */
  private pointer(at: number): Ok<string[]> | undefined {
    const path: string[] = [];
    let end = at + 1;
    while (this.text[end] === '/') {
      let e = end + 1;
      while (e < this.text.length && POINTER_CHAR.test(this.text[e]!)) e++;
      if (e === end + 1) return this.expect(e, 'a JSON pointer segment');
      path.push(this.text.slice(end + 1, e).replaceAll('~1', '/').replaceAll('~0', '~'));
      end = e;
    }
    if (this.text[end] !== '"') return this.expect(end, '"\\""');
    return { value: path, end: end + 1 };
  }

  private value(at: number): Ok<string> | undefined {
    const sel = this.text[at] === '"' ? undefined : this.selector(at);
    if (sel) return { value: sel.value.join('.'), end: sel.end };
    const number = this.number(at);
    if (number) return number;
    return this.string(at);
  }

  private number(at: number): Ok<string> | undefined {
    let end = at;
    if (this.text[end] === '-') end++;
    if (this.text[end] === '0') end++;
    else if (/[1-9]/.test(this.text[end] ?? '')) while (/[0-9]/.test(this.text[end] ?? '')) end++;
    else return this.expect(end, 'number');
    if (this.text[end] === '.' && /[0-9]/.test(this.text[end + 1] ?? '')) {
      end++;
      while (/[0-9]/.test(this.text[end] ?? '')) end++;
    }
    const next = this.text[end];
    if (next !== undefined && !WS.test(next) && next !== ')') return this.raise(end, 'Invalid number literal');
    return { value: this.text.slice(at, end), end };
  }

  private string(at: number): Ok<string> | undefined {
    const quote = this.text[at];
    if (quote !== '"' && quote !== '`') return this.expect(at, 'string');
    const close = this.text.indexOf(quote, at + 1);
    if (close < 0) return this.raise(at, 'Unterminated string literal');
    const body = this.text.slice(at + 1, close);
    if (quote === '`') return { value: body.replaceAll('\r', ''), end: close + 1 };
    const value = unquoteGo(body);
    if (value === undefined) return this.raise(at, 'invalid syntax');
    return { value, end: close + 1 };
  }
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  a: '\u0007', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', "'": "'", '"': '"',
};

/** The body of a Go double-quoted string literal (strconv.Unquote), or undefined when Go would refuse it. */
export function unquoteGo(body: string): string | undefined {
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === '\n') return undefined;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e === undefined) return undefined;
    if (e in SIMPLE_ESCAPES) {
      out += SIMPLE_ESCAPES[e];
      continue;
    }
    const hexLength = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
    if (hexLength > 0) {
      const hex = body.slice(i + 1, i + 1 + hexLength);
      if (!new RegExp(`^[0-9A-Fa-f]{${hexLength}}$`).test(hex)) return undefined;
      const code = parseInt(hex, 16);
      if (e === 'x') out += String.fromCharCode(code);
      else {
        if (code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return undefined;
        out += String.fromCodePoint(code);
      }
      i += hexLength;
      continue;
    }
    if (/[0-7]/.test(e)) {
      const oct = body.slice(i, i + 3);
      if (!/^[0-7]{3}$/.test(oct) || parseInt(oct, 8) > 255) return undefined;
      out += String.fromCharCode(parseInt(oct, 8));
      i += 2;
      continue;
    }
    return undefined;
  }
  return out;
}

/** Parses a filter expression; throws FilterSyntaxError. */
export function parseFilter(text: string): FilterExpr {
  if (text.length > MAX_FILTER_LENGTH) throw new FilterSyntaxError(0, `the expression is ${text.length} characters, at most ${MAX_FILTER_LENGTH}`, '');
  return new Parser(text).parse();
}
