// The fields a filter may select on each endpoint: the JSON shapes konsul
// answers with, which are Consul's (the selectors of Consul's filtering docs).

import { T, type FieldType } from './evaluate.js';

const weights = T.struct({ Passing: T.int, Warning: T.int });
const serviceAddress = T.struct({ Address: T.string, Port: T.int });
const proxy = T.struct({
  DestinationServiceName: T.string, DestinationServiceID: T.string, LocalServiceAddress: T.string,
  LocalServicePort: T.int, LocalServiceSocketPath: T.string, Mode: T.string,
});
const connect = T.struct({ Native: T.bool });
const locality = T.struct({ Region: T.string, Zone: T.string });

export const NODE_SCHEMA: FieldType = T.struct({
  ID: T.string, Node: T.string, Address: T.string, Datacenter: T.string, TaggedAddresses: T.map, Meta: T.map,
  CreateIndex: T.uint, ModifyIndex: T.uint,
});

/** A service as /v1/catalog/node/:node and /v1/health/service show it (and /v1/agent/services, with Datacenter). */
export const SERVICE_SCHEMA: FieldType = T.struct({
  Kind: T.string, ID: T.string, Service: T.string, Tags: T.strings, Address: T.string, Meta: T.map, Port: T.int,
  SocketPath: T.string, TaggedAddresses: T.mapOf(serviceAddress), Weights: weights, EnableTagOverride: T.bool,
  Proxy: proxy, Connect: connect, Locality: locality, Datacenter: T.string, CreateIndex: T.uint, ModifyIndex: T.uint,
});

export const CHECK_SCHEMA: FieldType = T.struct({
  Node: T.string, CheckID: T.string, Name: T.string, Status: T.string, Notes: T.string, Output: T.string,
  ServiceID: T.string, ServiceName: T.string, ServiceTags: T.strings, Type: T.string, Interval: T.string, Timeout: T.string,
  CreateIndex: T.uint, ModifyIndex: T.uint,
});

/** /v1/catalog/service/:service: the node's fields and the service's, prefixed with "Service". */
export const CATALOG_SERVICE_SCHEMA: FieldType = T.struct({
  ID: T.string, Node: T.string, Address: T.string, Datacenter: T.string, TaggedAddresses: T.map, NodeMeta: T.map,
  ServiceKind: T.string, ServiceID: T.string, ServiceName: T.string, ServiceTags: T.strings, ServiceAddress: T.string,
  ServiceTaggedAddresses: T.mapOf(serviceAddress), ServiceWeights: weights, ServiceMeta: T.map, ServicePort: T.int,
  ServiceSocketPath: T.string, ServiceEnableTagOverride: T.bool, ServiceProxy: proxy, ServiceConnect: connect,
  ServiceLocality: locality, CreateIndex: T.uint, ModifyIndex: T.uint,
});

/** /v1/health/service/:service: one entry per instance. */
export const HEALTH_SERVICE_SCHEMA: FieldType = T.struct({
  Node: NODE_SCHEMA, Service: SERVICE_SCHEMA, Checks: T.list(CHECK_SCHEMA),
});

export const MEMBER_SCHEMA: FieldType = T.struct({
  Name: T.string, Addr: T.string, Port: T.int, Tags: T.map, Status: T.int,
  ProtocolMin: T.int, ProtocolMax: T.int, ProtocolCur: T.int,
});
