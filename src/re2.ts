// re2js, the RE2 engine behind filter `matches`, event filters and prepared
// query templates, loaded on first use: most agents never compile a regular
// expression, and loading it at start cost every agent its 263 KB of source
// and the objects its module builds (docs/clients-at-scale.md, "Memory of an
// idle client"). Loaded with require (its CommonJS build), so loading stays
// synchronous where a pattern is compiled. Only this file may load 're2js'
// (the layering check says so); type-only imports are fine anywhere.

import { createRequire } from 'node:module';
import type { RE2JS } from 're2js';

export type { RE2JS };

let engine: typeof RE2JS | undefined;

/** Compiles an RE2 pattern (throws on a bad one, with RE2's message), loading the engine the first time. */
export function compileRe2(pattern: string): RE2JS {
  engine ??= (createRequire(import.meta.url)('re2js') as { RE2JS: typeof RE2JS }).RE2JS;
  return engine.compile(pattern);
}
