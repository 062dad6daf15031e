// Every fuzz target, in the order the suite and the CLI run them.

import type { FuzzTarget } from './runner.js';
import { dnsForwardTarget, dnsHandlerTarget, dnsServerTarget } from './dns-targets.js';
import { definitionsTarget, httpRawTarget, httpTarget } from './http-targets.js';
import { configTarget } from './config-targets.js';
import { filterTarget } from './filter-targets.js';
import { snapshotTarget } from './snapshot-targets.js';
import { commandTarget } from './state-targets.js';
import { aclRulesTarget, encryptedSnapshotTarget } from './sec-targets.js';
import { framePayloadTarget, frameStreamTarget, listenerTarget } from './transport-targets.js';

export const TARGETS: readonly FuzzTarget[] = [
  frameStreamTarget,
  framePayloadTarget,
  listenerTarget,
  commandTarget,
  snapshotTarget,
  dnsHandlerTarget,
  dnsServerTarget,
  dnsForwardTarget,
  definitionsTarget,
  httpTarget,
  httpRawTarget,
  configTarget,
  // sec
  aclRulesTarget,
  encryptedSnapshotTarget,
  // api branch (issue 18)
  filterTarget,
];
