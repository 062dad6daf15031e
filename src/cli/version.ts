// konsul's version for the CLI: the one reader is src/version.ts (the agent reports it too).

export { packageVersion } from '../version.js';
