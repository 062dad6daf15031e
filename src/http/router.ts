// A small table-driven router: routes are (method, path pattern, handler)
// rows; a path that matches with another method yields 405 with Allow.

import { badRequest } from './errors.js';
import type { RouteHandler, RouteSpec } from './types.js';

interface Segment {
  kind: 'literal' | 'param' | 'rest';
  /** The literal text, or the parameter's name. */
  text: string;
}

interface CompiledRoute {
  method: string;
  segments: Segment[];
  handler: RouteHandler;
  spec: RouteSpec;
}

export type RouteMatch =
  | { kind: 'found'; handler: RouteHandler; spec: RouteSpec; params: Record<string, string> }
  | { kind: 'method-not-allowed'; allowed: string[] }
  | { kind: 'not-found' };

function compile(spec: RouteSpec): CompiledRoute {
  if (!spec.path.startsWith('/')) throw new Error(`route pattern must start with "/": ${spec.path}`);
  const parts = spec.path.slice(1).split('/');
  const segments = parts.map((part, i): Segment => {
    if (part.startsWith('*')) {
      if (i !== parts.length - 1) throw new Error(`"${part}" must be the last segment: ${spec.path}`);
      return { kind: 'rest', text: part.slice(1) };
    }
    if (part.startsWith(':')) return { kind: 'param', text: part.slice(1) };
    return { kind: 'literal', text: part };
  });
  return { method: spec.method, segments, handler: spec.handler, spec };
}

function decode(raw: string, name: string): string {
  if (!raw.includes('%')) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw badRequest(`invalid percent-encoding in the path (${name})`);
  }
}

/** Raw (still encoded) parameters when `parts` fits the route, else undefined. */
function fit(route: CompiledRoute, parts: readonly string[]): Record<string, string> | undefined {
  const params: Record<string, string> = {};
  const { segments } = route;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i];
    if (seg.kind === 'rest') {
      if (parts.length <= i) return undefined;
      params[seg.text] = parts.slice(i).join('/');
      return params;
    }
    if (i >= parts.length) return undefined;
    if (seg.kind === 'literal') {
      if (parts[i] !== seg.text) return undefined;
    } else {
      if (parts[i] === '') return undefined;
      params[seg.text] = parts[i];
    }
  }
  return parts.length === segments.length ? params : undefined;
}

export class Router {
  private readonly routes: CompiledRoute[] = [];

  constructor(specs: readonly RouteSpec[] = []) {
    for (const spec of specs) this.add(spec);
  }

  /** Every route, in matching order. */
  get specs(): RouteSpec[] {
    return this.routes.map((r) => r.spec);
  }

  add(spec: RouteSpec): this {
    this.routes.push(compile(spec));
    return this;
  }

  /** HEAD is served by the GET route (node:http leaves the body out). Throws HttpError 400 on bad percent-encoding. */
  match(method: string, path: string): RouteMatch {
    const wanted = method === 'HEAD' ? 'GET' : method;
    const parts = path.slice(1).split('/');
    const allowed: string[] = [];
    for (const route of this.routes) {
      const raw = fit(route, parts);
      if (raw === undefined) continue;
      if (route.method !== wanted) {
        if (!allowed.includes(route.method)) allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      for (const [name, value] of Object.entries(raw)) params[name] = decode(value, name);
      return { kind: 'found', handler: route.handler, spec: route.spec, params };
    }
    if (allowed.length > 0) {
      if (allowed.includes('GET')) allowed.push('HEAD');
      return { kind: 'method-not-allowed', allowed };
    }
    return { kind: 'not-found' };
  }
}
