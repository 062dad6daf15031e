// `konsul acl role create|list|read|update|delete`: ACL roles (/v1/acl/role[s]), named sets of
// policies that tokens link to (Consul's `consul acl role`).

import { Command, Option, UsageError } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';

interface RoleJson {
  ID: string;
  Name: string;
  Description: string;
  Policies: Array<{ ID: string; Name: string }>;
}

function links(names: string[], ids: string[]): Array<{ Name?: string; ID?: string }> {
  return [...names.map((Name) => ({ Name })), ...ids.map((ID) => ({ ID }))];
}

abstract class RoleCommand extends HttpCommand {
  printRoleJson(r: RoleJson): void {
    if (this.json) {
      this.printJson(r);
      return;
    }
    this.out([
      `ID:           ${r.ID}`,
      `Name:         ${r.Name}`,
      `Description:  ${r.Description}`,
      `Policies:${r.Policies.length === 0 ? '     (none)' : ''}`,
      ...r.Policies.map((p) => `   ${p.ID} - ${p.Name}`),
    ].join('\n'));
  }
}

export class AclRoleCreateCommand extends RoleCommand {
  static override paths = [['acl', 'role', 'create']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'Create a role: a named set of policies tokens can link to',
    details: 'A token linked to a role has the role\'s policies, as they are now and as they change.',
    examples: [['A role of two policies', '$0 acl role create --name deployer --policy-name app --policy-name ops']],
  });

  name = Option.String('--name', { required: true, description: 'The role\'s name' });
  description = Option.String('--description', '', { description: 'What it is for' });
  policyName = Option.Array('--policy-name', [], { description: 'A policy to link, by name (repeatable)' });
  policyId = Option.Array('--policy-id', [], { description: 'A policy to link, by id (repeatable)' });

  protected async run(client: AgentClient): Promise<number> {
    const body = { Name: this.name, Description: this.description, Policies: links(this.policyName, this.policyId) };
    this.printRoleJson((await client.call('PUT', '/v1/acl/role', { body: JSON.stringify(body) })).json<RoleJson>());
    return EXIT.ok;
  }
}

export class AclRoleUpdateCommand extends RoleCommand {
  static override paths = [['acl', 'role', 'update']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'Change a role\'s name, description or policies',
    details: 'Policies given replace the role\'s links; every token linked to the role follows at once.',
    examples: [['Replace its policies', '$0 acl role update --id 5e0c1a2b-7d3e-4f5a-8b9c-0d1e2f3a4b5c --policy-name ops']],
  });

  id = Option.String('--id', { required: true, description: 'The role\'s ID' });
  name = Option.String('--name', { description: 'A new name' });
  description = Option.String('--description', { description: 'A new description' });
  policyName = Option.Array('--policy-name', [], { description: 'Link this policy, by name (repeatable; replaces the links)' });
  policyId = Option.Array('--policy-id', [], { description: 'Link this policy, by id (repeatable; replaces the links)' });

  protected async run(client: AgentClient): Promise<number> {
    const body: Record<string, unknown> = {};
    if (this.name !== undefined) body.Name = this.name;
    if (this.description !== undefined) body.Description = this.description;
    if (this.policyName.length + this.policyId.length > 0) body.Policies = links(this.policyName, this.policyId);
    if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give --name, --description, --policy-name or --policy-id');
    const answer = await client.call('PUT', `/v1/acl/role/${encodeURIComponent(this.id)}`, { body: JSON.stringify(body) });
    this.printRoleJson(answer.json<RoleJson>());
    return EXIT.ok;
  }
}

export class AclRoleReadCommand extends RoleCommand {
  static override paths = [['acl', 'role', 'read']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'Show a role and its policies (by --id or --name)',
    details: 'Prints the role\'s id, name, description and linked policies.',
    examples: [['By name', '$0 acl role read --name deployer']],
  });

  id = Option.String('--id', { description: 'The role\'s ID' });
  name = Option.String('--name', { description: 'The role\'s name' });

  protected async run(client: AgentClient): Promise<number> {
    if ((this.id === undefined) === (this.name === undefined)) throw new UsageError('give exactly one of --id or --name');
    const path = this.id !== undefined ? `/v1/acl/role/${encodeURIComponent(this.id)}` : `/v1/acl/role/name/${encodeURIComponent(this.name!)}`;
    this.printRoleJson((await client.call('GET', path)).json<RoleJson>());
    return EXIT.ok;
  }
}

export class AclRoleListCommand extends HttpCommand {
  static override paths = [['acl', 'role', 'list']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'List the roles',
    details: 'Every role, one per line: id, name, and the names of its policies.',
    examples: [['All roles', '$0 acl role list']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const roles = (await client.call('GET', '/v1/acl/roles')).json<RoleJson[]>();
    if (this.json) this.printJson(roles);
    else for (const r of roles) this.out(`${r.ID}  ${r.Name}  ${r.Policies.map((p) => p.Name).join(',') || '(no policies)'}`);
    return EXIT.ok;
  }
}

export class AclRoleDeleteCommand extends HttpCommand {
  static override paths = [['acl', 'role', 'delete']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'Delete a role',
    details: 'Tokens linked to it lose its policies (their own policies stay).',
    examples: [['Delete one', '$0 acl role delete --id 5e0c1a2b-7d3e-4f5a-8b9c-0d1e2f3a4b5c']],
  });

  id = Option.String('--id', { required: true, description: 'The role\'s ID' });

  protected async run(client: AgentClient): Promise<number> {
    const deleted = (await client.call('DELETE', `/v1/acl/role/${encodeURIComponent(this.id)}`)).json<boolean>();
    if (this.json) this.printJson({ id: this.id, deleted });
    else this.out(deleted ? `Role "${this.id}" deleted` : `No role "${this.id}"`);
    return deleted ? EXIT.ok : EXIT.failed;
  }
}
