// The linearizability checker's public face, for the simulator (operations
// built in memory) and for real-process suites (Jepsen-shaped history files).

export { checkOperations, formatOperation, formatViolation } from './checker.js';
export { checkHistory, HistoryFormatError, operationsFromHistory, parseHistoryJsonl } from './history.js';
export type { EventType, HistoryEvent } from './history.js';
export type {
  CheckOptions,
  CheckResult,
  Operation,
  OperationKind,
  Undecided,
  Valid,
  Value,
  Violation,
} from './types.js';
