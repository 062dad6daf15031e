// `konsul acl token create|list|read|update|delete`: ACL tokens (/v1/acl/token[s]).

import { Command, Option, UsageError } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { printToken, type TokenJson } from './common.js';

function links(names: string[], ids: string[]): Array<{ Name?: string; ID?: string }> {
  return [...names.map((Name) => ({ Name })), ...ids.map((ID) => ({ ID }))];
}

export class AclTokenCreateCommand extends HttpCommand {
  static override paths = [['acl', 'token', 'create']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'Create an ACL token linked to policies',
    details: 'Links the token to policies by name or id; prints its AccessorID (its public name) and SecretID (what clients send as --token, X-Consul-Token or KONSUL_HTTP_TOKEN).',
    examples: [['A token for the web app', '$0 acl token create --description web --policy-name web']],
  });

  description = Option.String('--description', '', { description: 'What the token is for' });
  policyName = Option.Array('--policy-name', [], { description: 'A policy to link, by name (repeatable)' });
  policyId = Option.Array('--policy-id', [], { description: 'A policy to link, by id (repeatable)' });
  secret = Option.String('--secret', { description: 'Choose the SecretID instead of a random UUID' });
  roleName = Option.Array('--role-name', [], { description: 'A role to link, by name (repeatable)' });
  roleId = Option.Array('--role-id', [], { description: 'A role to link, by id (repeatable)' });
  expiresTtl = Option.String('--expires-ttl', { description: 'The token stops working after this long (1m to 24h, e.g. 8h), as Consul\'s -expires-ttl' });

  protected async run(client: AgentClient): Promise<number> {
    const body = {
      Description: this.description, Policies: links(this.policyName, this.policyId), ...(this.secret ? { SecretID: this.secret } : {}),
      ...(this.expiresTtl ? { ExpirationTTL: this.expiresTtl } : {}),
      ...(this.roleName.length + this.roleId.length > 0 ? { Roles: links(this.roleName, this.roleId) } : {}),
    };
    printToken(this, (await client.call('PUT', '/v1/acl/token', { body: JSON.stringify(body) })).json<TokenJson>(), this.json);
    return EXIT.ok;
  }
}

export class AclTokenUpdateCommand extends HttpCommand {
  static override paths = [['acl', 'token', 'update']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'Change a token\'s description or policies (the anonymous token is 00000000-0000-0000-0000-000000000002)',
    details: 'Policies given replace the token\'s links. The anonymous token answers requests that carry no token, and DNS.',
    examples: [['Let anonymous requests read the catalog', '$0 acl token update --id 00000000-0000-0000-0000-000000000002 --policy-name dns']],
  });

  id = Option.String('--id', { required: true, description: 'The token\'s AccessorID' });
  description = Option.String('--description', { description: 'A new description' });
  policyName = Option.Array('--policy-name', [], { description: 'Link this policy, by name (repeatable; replaces the links)' });
  policyId = Option.Array('--policy-id', [], { description: 'Link this policy, by id (repeatable; replaces the links)' });

  protected async run(client: AgentClient): Promise<number> {
    const body: Record<string, unknown> = {};
    if (this.description !== undefined) body.Description = this.description;
    if (this.policyName.length + this.policyId.length > 0) body.Policies = links(this.policyName, this.policyId);
    if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give --description, --policy-name or --policy-id');
    const answer = await client.call('PUT', `/v1/acl/token/${encodeURIComponent(this.id)}`, { body: JSON.stringify(body) });
    printToken(this, answer.json<TokenJson>(), this.json);
    return EXIT.ok;
  }
}

export class AclTokenReadCommand extends HttpCommand {
  static override paths = [['acl', 'token', 'read']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'Show a token (by AccessorID, or --self for the one in use)',
    details: 'The SecretID is shown only to tokens with acl write (and to the token itself with --self).',
    examples: [['Which token am I using?', '$0 acl token read --self'], ['By AccessorID', '$0 acl token read --id 6a1253d2-1785-24fd-91c2-f8e78c745511']],
  });

  id = Option.String('--id', { description: 'The token\'s AccessorID' });
  self = Option.Boolean('--self', false, { description: 'The token this command runs with' });

  protected async run(client: AgentClient): Promise<number> {
    if (this.self === (this.id !== undefined)) throw new UsageError('give exactly one of --id or --self');
    const path = this.self ? '/v1/acl/token/self' : `/v1/acl/token/${encodeURIComponent(this.id!)}`;
    printToken(this, (await client.call('GET', path)).json<TokenJson>(), this.json);
    return EXIT.ok;
  }
}

export class AclTokenListCommand extends HttpCommand {
  static override paths = [['acl', 'token', 'list']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'List the tokens',
    details: 'Every token, the anonymous one included; SecretIDs are hidden unless the caller has acl write.',
    examples: [['All tokens', '$0 acl token list'], ['For a script', '$0 acl token list --json']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const tokens = (await client.call('GET', '/v1/acl/tokens')).json<TokenJson[]>();
    if (this.json) this.printJson(tokens);
    else tokens.forEach((t, i) => {
      if (i > 0) this.out('');
      printToken(this, t, false);
    });
    return EXIT.ok;
  }
}

export class AclTokenDeleteCommand extends HttpCommand {
  static override paths = [['acl', 'token', 'delete']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'Delete a token',
    details: 'Requests with the token are refused ("ACL not found") once the deletion is applied. The anonymous token cannot be deleted.',
    examples: [['Delete one', '$0 acl token delete --id 6a1253d2-1785-24fd-91c2-f8e78c745511']],
  });

  id = Option.String('--id', { required: true, description: 'The token\'s AccessorID' });

  protected async run(client: AgentClient): Promise<number> {
    const deleted = (await client.call('DELETE', `/v1/acl/token/${encodeURIComponent(this.id)}`)).json<boolean>();
    if (this.json) this.printJson({ id: this.id, deleted });
    else this.out(deleted ? `Token "${this.id}" deleted` : `No token "${this.id}"`);
    return deleted ? EXIT.ok : EXIT.failed;
  }
}
