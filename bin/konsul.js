#!/usr/bin/env node
// The konsul (and konsulctl) command: runs the compiled CLI from dist/.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('konsul is not built yet: run `npm install` (it compiles TypeScript to dist/) or `npm run build`\n');
  process.exit(2);
}
const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
process.exit(code);
