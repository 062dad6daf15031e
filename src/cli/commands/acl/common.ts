// What the acl commands share: Consul's token and policy shapes and how they print.

import { readFileSync } from 'node:fs';
import { UsageError } from '../../clipanion.js';

export interface TokenJson {
  AccessorID: string;
  SecretID: string;
  Description: string;
  Policies: Array<{ ID: string; Name: string }>;
  Local: boolean;
  CreateTime: string;
  ExpirationTime?: string;
  Roles?: Array<{ ID: string; Name: string }>;
}

export interface PolicyJson {
  ID: string;
  Name: string;
  Description: string;
  Rules?: string;
}

interface Printer { printJson(value: unknown): void; out(text: string): void }

export function printToken(cmd: unknown, t: TokenJson, json: boolean): void {
  const p = cmd as Printer;
  if (json) return p.printJson(t);
  p.out([
    `AccessorID:       ${t.AccessorID}`,
    `SecretID:         ${t.SecretID}`,
    `Description:      ${t.Description}`,
    `Local:            ${t.Local}`,
    `Create Time:      ${t.CreateTime}`,
    ...(t.ExpirationTime ? [`Expiration Time:  ${t.ExpirationTime}`] : []),
    `Policies:${t.Policies.length === 0 ? '         (none)' : ''}`,
    ...t.Policies.map((x) => `   ${x.ID} - ${x.Name}`),
    ...(t.Roles && t.Roles.length > 0 ? ['Roles:', ...t.Roles.map((x) => `   ${x.ID} - ${x.Name}`)] : []),
  ].join('\n'));
}

export function printPolicy(cmd: unknown, p: PolicyJson, json: boolean): void {
  const out = cmd as Printer;
  if (json) return out.printJson(p);
  out.out([`ID:           ${p.ID}`, `Name:         ${p.Name}`, `Description:  ${p.Description}`, ...(p.Rules === undefined ? [] : ['Rules:', p.Rules])].join('\n'));
}

/** Consul's -rules: the text itself, @FILE for a file, or - for stdin (read by the caller). */
export function rulesText(value: string): string {
  if (!value.startsWith('@')) return value;
  try {
    return readFileSync(value.slice(1), 'utf8');
  } catch (error) {
    throw new UsageError(`--rules: cannot read ${value.slice(1)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
