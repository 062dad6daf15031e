// The replicated state machine's public face: the commands, their encoding,
// and the StateMachine that applies them and serves reads from the replica.

export {
  type Command, encodeCommand, decodeCommand, CommandDecodeError, InvalidCommandError, KeyTooLargeError,
} from './command.js';
export {
  StateMachine, STATE_TABLES, KV_TABLE, MEMBERS_TABLE, META_TABLE,
  type KvEntry, type MemberRecord, type ApplyItem, type ApplyResult,
} from './machine.js';
export {
  Catalog, CATALOG_TABLES, NODE_ALIVE_OUTPUT, NODE_DEAD_OUTPUT, catalogOpProblem, catalogSyncDiffers, catalogDelta,
  type CatalogOp, type LocalCatalogView, type NodeInput, type ServiceInput, type CheckInput,
} from './catalog.js';
export * from './catalog-types.js';
