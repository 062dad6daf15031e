// The replicated state machine's public face: the commands, their encoding,
// and the StateMachine that applies them and serves reads from the replica.

export {
  type Command, encodeCommand, decodeCommand, CommandDecodeError, InvalidCommandError, KeyTooLargeError,
  UnsupportedCommandError, versionCommand, commandVersion, COMMAND_VERSION, LEGACY_COMMAND_VERSION,
} from './command.js';
export {
  StateMachine, CommandTooNewError, STATE_TABLES, KV_TABLE, MEMBERS_TABLE, META_TABLE,
  type KvEntry, type MemberRecord, type ApplyItem, type ApplyResult,
} from './machine.js';
export {
  Catalog, CATALOG_TABLES, NODE_ALIVE_OUTPUT, NODE_DEAD_OUTPUT, catalogOpProblem, catalogSyncDiffers, catalogDelta,
  groupCatalogOps, MAX_CATALOG_CHANGES, type CatalogDeltaOp, type CatalogOp, type LocalCatalogView, type NodeInput, type ServiceInput, type CheckInput,
} from './catalog.js';
export * from './catalog-types.js';
// ---- coord: sessions, locks, transactions
export {
  type SessionRecord, type SessionInput, type SessionBehavior, type KvLock, sessionJson, isSessionId, sessionCreateProblem,
  MIN_SESSION_TTL_MS, MAX_SESSION_TTL_MS, MAX_LOCK_DELAY_MS, DEFAULT_LOCK_DELAY_MS, SESSION_TTL_MULTIPLIER, listSessions, readSession,
} from './sessions.js';
export { type TxnOp, type TxnVerb, type TxnOutcome, type TxnResultEntry, TXN_VERBS, WRITE_VERBS, MAX_TXN_OPS, txnOpProblem } from './txn.js';
export { type SessionEvent } from './coordination.js';
// api branch (issue 18)
export { EVENT_BUFFER, MAX_EVENT_NAME_BYTES, MAX_EVENT_PAYLOAD_BYTES, type AppliedEvent, type UserEvent } from './events.js';
export {
  PREPARED_QUERIES_TABLE, PreparedQueries, REDACTED_TOKEN, TEMPLATE_TYPE, isTemplate, preparedQueryProblem, renderTemplate,
  type PreparedQuery, type PreparedQueryInput, type PreparedQueryOp, type PreparedQueryReader, type QueryTemplate, type ServiceQuery,
} from './prepared-queries.js';
export { executeQuery, type ExecuteOptions } from './query-exec.js';
// ---- ops2: the replicated autopilot configuration
export {
  type AutopilotConfig, type AutopilotConfigRecord, AUTOPILOT_CONFIG_FIELDS, autopilotConfigProblem, pickAutopilotConfig,
} from './autopilot-config.js';
// cli (issue 15): members that left, until the reconnect timeout
export { LEFT_MEMBERS_TABLE, type LeftMemberRecord } from './left-members.js';
