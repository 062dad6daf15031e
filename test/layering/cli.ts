// `npm run layers`: prints every layering violation of src/ (see check.ts) and
// exits 1 when there is one.

import { checkLayers, readSources, repoRoot } from './check.js';

const violations = checkLayers(readSources(repoRoot()));
for (const v of violations) console.log(`${v.rule}: ${v.detail}`);
console.log(violations.length === 0 ? 'layering: no violations' : `layering: ${violations.length} violation(s)`);
process.exit(violations.length === 0 ? 0 : 1);
