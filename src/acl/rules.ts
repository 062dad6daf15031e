// Consul's ACL rule language: the HCL subset Consul policies are written in
// (`key_prefix "app/" { policy = "write" }`, `operator = "read"`) and its JSON form, parsed into rules.
//
// Bad rules throw AclRuleError with one line naming what is wrong; nothing here throws anything else.

import { KonsulError } from '../errors.js';

/** What a rule grants: deny beats write beats read beats list when rules meet (Consul's precedence). */
export type AclAccess = 'deny' | 'list' | 'read' | 'write';
/** Resources with a name (exact rule or prefix rule). */
export type NamedResource = 'key' | 'service' | 'node' | 'session' | 'agent' | 'event' | 'query';
/** Resources with one level for the whole cluster. */
export type GlobalResource = 'operator' | 'acl' | 'keyring' | 'mesh' | 'peering';
export type AclResource = NamedResource | GlobalResource;

export const NAMED_RESOURCES: readonly NamedResource[] = ['key', 'service', 'node', 'session', 'agent', 'event', 'query'];
export const GLOBAL_RESOURCES: readonly GlobalResource[] = ['operator', 'acl', 'keyring', 'mesh', 'peering'];

export interface NamedRule { resource: NamedResource; name: string; prefix: boolean; access: AclAccess }

export interface ParsedRules {
  named: NamedRule[];
  global: Partial<Record<GlobalResource, AclAccess>>;
}

export class AclRuleError extends KonsulError {
  constructor(message: string) {
    super('KONSUL_ERR_BAD_ACL_RULES', `invalid ACL rules: ${message}`.replace(/[\r\n]+/g, ' '), 'invalid');
    this.name = 'AclRuleError';
  }
}

/** Longest rules text accepted (Consul's policies are small; this bounds the parser's work). */
export const MAX_RULES_BYTES = 64 * 1024;
const MAX_DEPTH = 6;

const RANK: Record<AclAccess, number> = { list: 1, read: 2, write: 3, deny: 4 };

/** The access that wins when two rules name the same thing: deny > write > read > list. */
export function stronger(a: AclAccess, b: AclAccess): AclAccess {
  return RANK[a] >= RANK[b] ? a : b;
}

// ------------------------------------------------------------ HCL subset

type Value = string | number | boolean | Value[] | { [k: string]: Value };

interface Token { kind: 'ident' | 'string' | 'number' | 'punct'; text: string; at: number }

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i]!;
    if (c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\ufeff') { i++; continue; }
    if (c === '#' || (c === '/' && src[i + 1] === '/')) {
      while (i < n && src[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && src[i + 1] === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new AclRuleError(`unterminated comment at offset ${i}`);
      i = end + 2;
      continue;
    }
    if ('{}[]=,:'.includes(c)) { out.push({ kind: 'punct', text: c, at: i }); i++; continue; }
    if (c === '"') {
      const start = i++;
      let text = '';
      for (;;) {
        if (i >= n) throw new AclRuleError(`unterminated string at offset ${start}`);
        const d = src[i]!;
        if (d === '"') { i++; break; }
        if (d === '\n') throw new AclRuleError(`line break inside a string at offset ${i}`);
        if (d === '\\') {
          const e = src[i + 1];
          const simple: Record<string, string> = { '"': '"', '\\': '\\', n: '\n', t: '\t', r: '\r', '/': '/' };
          if (e !== undefined && e in simple) { text += simple[e]; i += 2; continue; }
          if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(src.slice(i + 2, i + 6))) {
            text += String.fromCharCode(parseInt(src.slice(i + 2, i + 6), 16));
            i += 6;
            continue;
          }
          throw new AclRuleError(`bad escape in a string at offset ${i}`);
        }
        text += d;
        i++;
      }
      out.push({ kind: 'string', text, at: start });
      continue;
    }
    if (/[0-9-]/.test(c)) {
      const m = /^-?[0-9]+(\.[0-9]+)?/.exec(src.slice(i, i + 32));
      if (!m) throw new AclRuleError(`unexpected "${c}" at offset ${i}`);
      out.push({ kind: 'number', text: m[0], at: i });
      i += m[0].length;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      const start = i;
      while (i < n && /[A-Za-z0-9_.-]/.test(src[i]!)) i++;
      out.push({ kind: 'ident', text: src.slice(start, i), at: start });
      continue;
    }
    throw new AclRuleError(`unexpected character ${JSON.stringify(c)} at offset ${i}`);
  }
  return out;
}

class HclParser {
  private at = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token | undefined {
    return this.tokens[this.at];
  }
  private next(what: string): Token {
    const t = this.tokens[this.at++];
    if (!t) throw new AclRuleError(`unexpected end of rules, expected ${what}`);
    return t;
  }

  /** Items up to `}` (nested) or the end (top level). */
  body(depth: number, nested: boolean): Record<string, Value> {
    if (depth > MAX_DEPTH) throw new AclRuleError('rules nest too deeply');
    const obj: Record<string, Value> = Object.create(null) as Record<string, Value>;
    for (;;) {
      const t = this.peek();
      if (!t) {
        if (nested) throw new AclRuleError('unexpected end of rules, expected "}"');
        return obj;
      }
      if (t.kind === 'punct' && t.text === '}' && nested) { this.at++; return obj; }
      if (t.kind === 'punct' && t.text === ',') { this.at++; continue; }
      if (t.kind !== 'ident' && t.kind !== 'string') throw new AclRuleError(`expected a name at offset ${t.at}, got ${JSON.stringify(t.text)}`);
      this.at++;
      const labels: string[] = [];
      while (this.peek()?.kind === 'string') labels.push(this.next('a label').text);
      let value: Value;
      const p = this.next('"=" or "{"');
      if (p.kind === 'punct' && (p.text === '=' || p.text === ':') && labels.length === 0) value = this.value(depth + 1);
      else if (p.kind === 'punct' && p.text === '{') value = this.body(depth + 1, true);
      else throw new AclRuleError(`expected "=" or "{" after ${JSON.stringify(t.text)} at offset ${p.at}`);
      // `key_prefix "a" { ... }` is `key_prefix = { "a" = { ... } }`.
      for (let i = labels.length - 1; i >= 0; i--) value = { [labels[i]!]: value };
      merge(obj, t.text, value);
    }
  }

  private value(depth: number): Value {
    if (depth > MAX_DEPTH) throw new AclRuleError('rules nest too deeply');
    const t = this.next('a value');
    if (t.kind === 'string') return t.text;
    if (t.kind === 'number') return Number(t.text);
    if (t.kind === 'ident' && (t.text === 'true' || t.text === 'false')) return t.text === 'true';
    if (t.kind === 'punct' && t.text === '{') return this.body(depth, true);
    if (t.kind === 'punct' && t.text === '[') {
      const list: Value[] = [];
      for (;;) {
        const u = this.peek();
        if (!u) throw new AclRuleError('unexpected end of rules, expected "]"');
        if (u.kind === 'punct' && u.text === ']') { this.at++; return list; }
        if (u.kind === 'punct' && u.text === ',') { this.at++; continue; }
        list.push(this.value(depth + 1));
      }
    }
    throw new AclRuleError(`unexpected ${JSON.stringify(t.text)} at offset ${t.at}`);
  }
}

function isObject(v: unknown): v is Record<string, Value> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Blocks of one kind merge (`key_prefix "a" {}` and `key_prefix "b" {}`); the same label twice is an error. */
function merge(obj: Record<string, Value>, key: string, value: Value): void {
  if (!Object.hasOwn(obj, key)) { obj[key] = value; return; }
  const existing = obj[key];
  if (isObject(existing) && isObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (Object.hasOwn(existing, k) && !(isObject(existing[k]) && isObject(v))) throw new AclRuleError(`${key} ${JSON.stringify(k)} is given twice`);
      merge(existing, k, v);
    }
    return;
  }
  throw new AclRuleError(`${JSON.stringify(key)} is given twice`);
}

// ------------------------------------------------------------ to rules

const ACCESS_WORDS: readonly string[] = ['read', 'write', 'deny', 'list'];
/** Fields a Consul resource block may hold that konsul accepts and does not use. */
const IGNORED_BLOCK_FIELDS = new Set(['intentions']);

function access(v: unknown, where: string, allowList: boolean): AclAccess {
  if (typeof v !== 'string' || !ACCESS_WORDS.includes(v) || (v === 'list' && !allowList)) {
    const words = allowList ? 'read, write, list or deny' : 'read, write or deny';
    throw new AclRuleError(`${where}: policy must be ${words}, got ${JSON.stringify(v)}`);
  }
  return v as AclAccess;
}

function rulesFromObject(doc: Record<string, unknown>): ParsedRules {
  const named = new Map<string, NamedRule>();
  const global: Partial<Record<GlobalResource, AclAccess>> = {};
  for (const [field, value] of Object.entries(doc)) {
    if ((GLOBAL_RESOURCES as readonly string[]).includes(field)) {
      const a = access(value, field, false);
      const r = field as GlobalResource;
      global[r] = global[r] === undefined ? a : stronger(global[r]!, a);
      continue;
    }
    const prefix = field.endsWith('_prefix');
    const resource = (prefix ? field.slice(0, -'_prefix'.length) : field) as NamedResource;
    if (!NAMED_RESOURCES.includes(resource)) throw new AclRuleError(`unknown rule "${field}"`);
    // Consul's JSON form may give a list of one-entry objects as well as one object.
    const entries = Array.isArray(value) ? value : [value];
    for (const entry of entries) {
      if (!isObject(entry)) throw new AclRuleError(`${field} must be a block: ${field} "name" { policy = "read" }`);
      for (const [name, block] of Object.entries(entry)) {
        const where = `${field} ${JSON.stringify(name)}`;
        if (!isObject(block)) throw new AclRuleError(`${where} must be a block holding policy = "..."`);
        for (const k of Object.keys(block)) {
          if (k !== 'policy' && !IGNORED_BLOCK_FIELDS.has(k)) throw new AclRuleError(`${where}: unknown field "${k}"`);
        }
        if (!Object.hasOwn(block, 'policy')) throw new AclRuleError(`${where} has no policy`);
        const a = access(block.policy, where, resource === 'key');
        const id = `${resource}\0${prefix ? 'p' : 'e'}\0${name}`;
        const seen = named.get(id);
        named.set(id, { resource, name, prefix, access: seen ? stronger(seen.access, a) : a });
      }
    }
  }
  return { named: [...named.values()], global };
}

/** Parses Consul rules, HCL or JSON (text starting with "{" that parses as JSON). Throws AclRuleError. */
export function parseRules(text: string): ParsedRules {
  if (typeof text !== 'string') throw new AclRuleError('rules must be a string');
  if (Buffer.byteLength(text, 'utf8') > MAX_RULES_BYTES) throw new AclRuleError(`rules are longer than ${MAX_RULES_BYTES} bytes`);
  const trimmed = text.trim();
  if (trimmed === '') return { named: [], global: {} };
  let doc: unknown;
  if (trimmed.startsWith('{')) {
    try {
      doc = JSON.parse(trimmed);
    } catch {
      doc = undefined;
    }
  }
  if (doc === undefined) doc = new HclParser(tokenize(text)).body(0, false);
  if (!isObject(doc)) throw new AclRuleError('rules must be an object of rules');
  return rulesFromObject(doc);
}
