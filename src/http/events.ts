// Consul's user events: PUT /v1/event/fire/:name and GET /v1/event/list. An
// event goes to every agent through the Raft log; each agent lists the events
// whose node, service and tag filters (RE2 expressions) match it, as Consul's
// agents keep only the events meant for them.

import { randomUUID } from 'node:crypto';
import { compileRe2, type RE2JS } from '../re2.js';
import type { AppliedEvent } from '../state/index.js';
import { MAX_EVENT_PAYLOAD_BYTES } from '../state/index.js';
import { parseBlocking } from './blocking.js';
import { readBody } from './body.js';
import { badRequest } from './errors.js';
import { sendJson } from './respond.js';
import { aclList, aclParam } from './acl-check.js';
import type { RequestContext, RouteSpec } from './types.js';

function compile(pattern: string, what: string): RE2JS | undefined {
  if (pattern === '') return undefined;
  try {
    return compileRe2(pattern);
  } catch (error) {
    throw badRequest(`Invalid ?${what} expression ${JSON.stringify(pattern)}: ${(error as Error).message}`);
  }
}

/** Compiled event filters, so listing 256 events does not compile their patterns on every request. */
const compiled = new Map<string, RE2JS | null>();
const MAX_COMPILED = 1024;

function matches(pattern: string, text: string): boolean {
  if (pattern === '') return true;
  let re = compiled.get(pattern);
  if (re === undefined) {
    try {
      re = compileRe2(pattern);
    } catch {
      re = null;
    }
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(pattern, re);
  }
  return re !== null && re.matcher(text).find();
}

/** Consul's JSON for an event. */
function eventJson(e: AppliedEvent | (Omit<AppliedEvent, 'ltime'> & { ltime: 0 })): Record<string, unknown> {
  return {
    ID: e.id, Name: e.name, Payload: e.payload.length === 0 ? null : e.payload.toString('base64'),
    NodeFilter: e.nodeFilter, ServiceFilter: e.serviceFilter, TagFilter: e.tagFilter, Version: 1, LTime: e.ltime,
  };
}

async function fire(ctx: RequestContext): Promise<void> {
  const name = ctx.params.name;
  if (Buffer.byteLength(name, 'utf8') > 256) throw badRequest('the event name is over 256 bytes');
  const nodeFilter = ctx.query.get('node') ?? '';
  const serviceFilter = ctx.query.get('service') ?? '';
  const tagFilter = ctx.query.get('tag') ?? '';
  compile(nodeFilter, 'node');
  compile(serviceFilter, 'service');
  compile(tagFilter, 'tag');
  if (tagFilter !== '' && serviceFilter === '') throw badRequest('Cannot provide tag filter without service filter');
  const payload = await readBody(ctx.req, ctx.res, {
    maxBytes: MAX_EVENT_PAYLOAD_BYTES,
    tooLarge: (max) => `User event payload exceeds the limit of ${max} bytes`,
  });
  const event = { id: randomUUID(), name, payload: Buffer.from(payload), nodeFilter, serviceFilter, tagFilter };
  await ctx.agent.fireEvent(event);
  sendJson(ctx.res, 200, eventJson({ ...event, ltime: 0 }));
}

/** Is the event meant for this agent: its node name, and one of its services (with the tag, when one is given)? */
function forThisAgent(ctx: RequestContext, e: AppliedEvent): boolean {
  if (!matches(e.nodeFilter, ctx.agent.nodeId)) return false;
  if (e.serviceFilter === '') return true;
  return ctx.agent.local.listServices().some((s) => matches(e.serviceFilter, s.name)
    && (e.tagFilter === '' || s.tags.some((t) => matches(e.tagFilter, t))));
}

async function list(ctx: RequestContext): Promise<void> {
  const name = ctx.query.get('name');
  const node = ctx.query.get('node');
  const service = ctx.query.get('service');
  const tag = ctx.query.get('tag');
  const blocking = parseBlocking(ctx.query, ctx.limits);
  const events = ctx.agent.state.events;
  if (blocking) {
    await events.wait(blocking.index, blocking.waitMs, ctx.signal);
    if (ctx.signal.aborted) return;
  }
  // Consul keeps out the events the token may not read (event:read on the name).
  const out = events.list().filter((e) => ctx.authz.allowed('event', e.name, 'read') && forThisAgent(ctx, e)
    && (name === null || name === '' || e.name === name)
    && (node === null || node === '' || matches(e.nodeFilter, node))
    && (service === null || service === '' || matches(e.serviceFilter, service))
    && (tag === null || tag === '' || matches(e.tagFilter, tag)));
  sendJson(ctx.res, 200, out.map(eventJson), { 'X-Consul-Index': String(events.index()) });
}

export const eventRoutes: readonly RouteSpec[] = [
  {
    method: 'PUT', path: '/v1/event/fire/:name', handler: fire, acl: aclParam('event', 'write', 'name'), params: ['dc', 'node', 'service', 'tag'],
    consulParams: ['dc', 'node', 'service', 'tag', ...['ns', 'partition']],
    note: 'sent through the Raft log, not gossip; the last 256 kept in each agent\'s memory, as in Consul',
  },
  {
    method: 'GET', path: '/v1/event/list', handler: list, acl: aclList('event'), params: ['name', 'node', 'service', 'tag', 'index', 'wait'],
    consulParams: ['name', 'node', 'service', 'tag', 'index', 'wait', ...['ns', 'partition']],
    note: 'X-Consul-Index is the newest event\'s LTime (Consul: a hash of its ID); blocking works the same way',
  },
];
