// The layering rules of DESIGN.md, checked over the import graph of src/: what
// each folder may import, no cycles between folders, and no storage engine in
// the CLI's client commands. Pure over a map of file texts, so a test can run
// it on a copy of the tree with a bad import added and see it fail.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import ts from 'typescript';

/** static: loaded with the importer; type: erased at compile time; dynamic: import() when called. */
export type EdgeKind = 'static' | 'type' | 'dynamic';

export interface Edge {
  from: string;
  /** A file under src/ ('src/raft/log.ts') or a package ('node-lmdb', 'node:fs'). */
  to: string;
  kind: EdgeKind;
}

export interface Violation {
  rule: string;
  detail: string;
}

/** Every .ts file under `root`/src, by its path relative to `root` ('src/raft/raft.ts'). */
export function readSources(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.set(relative(root, path).split('\\').join('/'), readFileSync(path, 'utf8'));
    }
  };
  walk(join(root, 'src'));
  return out;
}

function isTypeOnlyImport(node: ts.ImportDeclaration): boolean {
  const clause = node.importClause;
  if (!clause) return false; // `import './x.js'` runs the module
  if (clause.isTypeOnly) return true;
  if (clause.name) return false;
  const bindings = clause.namedBindings;
  if (!bindings || ts.isNamespaceImport(bindings)) return false;
  return bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly);
}

function isTypeOnlyExport(node: ts.ExportDeclaration): boolean {
  if (node.isTypeOnly) return true;
  const clause = node.exportClause;
  return clause !== undefined && ts.isNamedExports(clause) && clause.elements.length > 0 && clause.elements.every((e) => e.isTypeOnly);
}

function isRequire(callee: ts.Expression): boolean {
  if (ts.isIdentifier(callee)) return callee.text === 'require';
  return ts.isCallExpression(callee) && ts.isIdentifier(callee.expression) && callee.expression.text === 'createRequire';
}

function resolve(from: string, specifier: string, files: ReadonlyMap<string, string>): string {
  if (!specifier.startsWith('.')) return specifier;
  const joined = posix.normalize(posix.join(posix.dirname(from), specifier));
  const candidates = [joined.replace(/\.js$/, '.ts'), `${joined}.ts`, `${joined}/index.ts`];
  return candidates.find((c) => files.has(c)) ?? joined.replace(/\.js$/, '.ts');
}

/** The import edges of every file in `files`. */
export function importGraph(files: ReadonlyMap<string, string>): Edge[] {
  const edges: Edge[] = [];
  for (const [path, text] of files) {
    const source = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true);
    const add = (specifier: string, kind: EdgeKind): void => {
      edges.push({ from: path, to: resolve(path, specifier, files), kind });
    };
    const visit = (node: ts.Node): void => {
      if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
        add(node.moduleSpecifier.text, isTypeOnlyImport(node) ? 'type' : 'static');
      } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
        add(node.moduleSpecifier.text, isTypeOnlyExport(node) ? 'type' : 'static');
      } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
        const arg = node.arguments[0];
        if (arg && ts.isStringLiteralLike(arg)) add(arg.text, 'dynamic');
      } else if (ts.isCallExpression(node) && isRequire(node.expression)) {
        // require('x') or createRequire(import.meta.url)('x'): loads a CommonJS package such as node-lmdb.
        const arg = node.arguments[0];
        if (arg && ts.isStringLiteralLike(arg)) add(arg.text, 'static');
      } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
        add(node.argument.literal.text, 'type');
      }
      ts.forEachChild(node, visit);
    };
    visit(source);
  }
  return edges;
}

/** The room a file lives in: its folder under src/ ('raft', 'agent'), or 'root' for src/*.ts. */
export function roomOf(path: string): string | undefined {
  if (!path.startsWith('src/')) return undefined;
  const parts = path.split('/');
  return parts.length === 2 ? 'root' : parts[1];
}

/** What each room may not import (DESIGN.md's table). `*` forbids every other room and every package. */
const FORBIDDEN: ReadonlyArray<{ room: string; never: readonly string[]; why: string }> = [
  { room: 'raft', never: ['*'], why: 'the Raft core is pure: it imports only raft/' },
  { room: 'state', never: ['agent', 'raft'], why: 'the state machine knows neither the agent nor Raft' },
  { room: 'http', never: ['raft', 'transport'], why: 'HTTP reaches Raft only through agent/' },
  { room: 'dns', never: ['raft', 'transport', 'agent'], why: 'DNS reads through its narrow CatalogReader' },
  { room: 'transport', never: ['state'], why: 'the transport moves bytes; it does not know the state machine' },
  { room: 'root', never: ['agent', 'cli', 'dns', 'http', 'raft', 'state', 'storage', 'transport', 'relay', 'client'], why: 'src/*.ts are shared leaves' },
  // scale (issue 13)
  { room: 'relay', never: ['agent', 'client', 'main', 'http', 'dns', 'cli'], why: 'the relay tree moves committed entries; the agents wire it in, it knows neither' },
  { room: 'client', never: ['raft', 'main', 'http', 'dns', 'cli'], why: 'a client agent has no Raft; main/ starts it and puts HTTP and DNS on its replica' },
];

/** The storage engine: no CLI client command may load it. */
export const STORAGE_ENGINE = 'node-lmdb';

/** CLI files allowed to load the storage engine (none: `konsul agent` loads the agent with import()). */
const CLI_MAY_LOAD_STORAGE: ReadonlySet<string> = new Set<string>();

export function checkLayers(files: ReadonlyMap<string, string>): Violation[] {
  const edges = importGraph(files);
  const violations: Violation[] = [];

  for (const e of edges) {
    const from = roomOf(e.from);
    if (from === undefined) continue;
    for (const rule of FORBIDDEN) {
      if (rule.room !== from) continue;
      const to = roomOf(e.to);
      const bad = rule.never.includes('*')
        ? to !== from // another room or a package
        : to !== undefined && rule.never.includes(to);
      if (bad) violations.push({ rule: `${from}/ imports`, detail: `${e.from} imports ${e.to} (${e.kind}): ${rule.why}` });
    }
  }

  // Cycles between rooms: every edge that loads or names another room counts, dynamic ones included.
  const roomEdges = new Map<string, Map<string, Edge>>();
  for (const e of edges) {
    const a = roomOf(e.from);
    const b = roomOf(e.to);
    if (a === undefined || b === undefined || a === b) continue;
    if (!roomEdges.has(a)) roomEdges.set(a, new Map());
    if (!roomEdges.get(a)!.has(b)) roomEdges.get(a)!.set(b, e);
  }
  for (const cycle of roomCycles(roomEdges)) {
    const witnesses = cycle.map((room, i) => {
      const e = roomEdges.get(room)!.get(cycle[(i + 1) % cycle.length])!;
      return `${e.from} -> ${e.to}`;
    });
    violations.push({ rule: 'cycle', detail: `${[...cycle, cycle[0]].join(' -> ')} (${witnesses.join('; ')})` });
  }

  // The CLI's client commands never load the storage engine: follow only what loads with a file (static edges).
  const statics = new Map<string, string[]>();
  for (const e of edges) {
    if (e.kind !== 'static') continue;
    if (!statics.has(e.from)) statics.set(e.from, []);
    statics.get(e.from)!.push(e.to);
  }
  for (const path of files.keys()) {
    if (roomOf(path) !== 'cli' || CLI_MAY_LOAD_STORAGE.has(path)) continue;
    const chain = pathTo(path, STORAGE_ENGINE, statics);
    if (chain) violations.push({ rule: 'cli loads storage', detail: chain.join(' -> ') });
  }
  // A client agent runs no Raft: its start-up never loads the Raft implementation (memory on every host).
  const raftChain = pathTo(CLIENT_START, RAFT_IMPLEMENTATION, statics);
  if (files.has(CLIENT_START) && raftChain) violations.push({ rule: 'client loads raft', detail: raftChain.join(' -> ') });
  // The RE2 engine loads on first use, through one module: a static import of it anywhere else loads it
  // with the agent (1.1-1.7 MB of every idle agent's memory).
  for (const e of edges) {
    if (e.kind === 'static' && e.to === LAZY_PACKAGE && e.from !== LAZY_PACKAGE_LOADER) {
      violations.push({ rule: 're2js loaded eagerly', detail: `${e.from} imports ${e.to}: use ${LAZY_PACKAGE_LOADER}` });
    }
  }
  return violations;
}

/** The client agent's start-up, and the module it must never load (raft/types.ts, enums and shapes, is fine). */
export const CLIENT_START = 'src/main/client.ts';
export const RAFT_IMPLEMENTATION = 'src/raft/raft.ts';
/** A package loaded on first use, and the one module that loads it. */
export const LAZY_PACKAGE = 're2js';
export const LAZY_PACKAGE_LOADER = 'src/re2.ts';

/** Elementary cycles of the room graph, each reported once (starting at its smallest room). */
function roomCycles(graph: ReadonlyMap<string, ReadonlyMap<string, Edge>>): string[][] {
  const found: string[][] = [];
  const rooms = [...graph.keys()].sort();
  for (const start of rooms) {
    const stack: string[] = [start];
    const walk = (room: string): void => {
      for (const next of [...(graph.get(room)?.keys() ?? [])].sort()) {
        if (next === start) found.push([...stack]);
        else if (next > start && !stack.includes(next)) {
          stack.push(next);
          walk(next);
          stack.pop();
        }
      }
    };
    walk(start);
  }
  return found;
}

/** A chain of static imports from `from` to `target`, breadth first (shortest), or undefined. */
function pathTo(from: string, target: string, statics: ReadonlyMap<string, readonly string[]>): string[] | undefined {
  const parent = new Map<string, string>([[from, '']]);
  const queue = [from];
  while (queue.length > 0) {
    const at = queue.shift()!;
    if (at === target) {
      const chain: string[] = [];
      for (let n = at; n !== ''; n = parent.get(n)!) chain.unshift(n);
      return chain;
    }
    for (const next of statics.get(at) ?? []) {
      if (parent.has(next)) continue;
      parent.set(next, at);
      queue.push(next);
    }
  }
  return undefined;
}

/** The repository this file was compiled from (dist/test/layering → the root). */
export function repoRoot(): string {
  let dir = dirname(new URL(import.meta.url).pathname);
  while (!statSafe(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

function statSafe(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
