#!/usr/bin/env node
// The konsul (and konsulctl) command: runs the compiled CLI in dist/ and exits
// with its code (0 ok, 1 failed, 2 usage, 3 agent unreachable).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('Error: konsul is not built: run `npm install` in the konsul directory (it compiles to dist/ via prepare)\n');
  process.exit(2);
}

// `konsul kv get --recurse x | head -1`: a closed pipe is the reader's choice, not an error to report.
process.stdout.on('error', (error) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});

const { main } = await import(entry.href);
const code = await main(process.argv.slice(2));
process.exit(code);
