// clipanion, loaded with require: importing a CommonJS package from ESM makes
// Node run its CommonJS export lexer (6-9 MB more memory for three such imports
// in a bare node; 1.8 MB less RSS in an idle client agent once none is left:
// docs/clients-at-scale.md, "Memory of an idle client"). Every module of the
// CLI takes clipanion from here; type-only imports of 'clipanion' are fine
// anywhere (they compile away).

import { createRequire } from 'node:module';
import type * as Clipanion from 'clipanion';

const clipanion = createRequire(import.meta.url)('clipanion') as typeof Clipanion;

export const { Builtins, Cli, Command, Option, UsageError } = clipanion;
export type Cli<Context extends Clipanion.BaseContext = Clipanion.BaseContext> = Clipanion.Cli<Context>;
export type Command<Context extends Clipanion.BaseContext = Clipanion.BaseContext> = Clipanion.Command<Context>;
export type UsageError = Clipanion.UsageError;
export type { BaseContext, CommandClass } from 'clipanion';
