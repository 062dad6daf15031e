// `konsul acl policy create|list|read|update|delete`: ACL policies in Consul's rule language.

import { Command, Option, UsageError } from '../../clipanion.js';
import type { AgentClient } from '../../client.js';
import { HttpCommand } from '../../command.js';
import { EXIT } from '../../exit-codes.js';
import { printPolicy, rulesText, type PolicyJson } from './common.js';

export class AclPolicyCreateCommand extends HttpCommand {
  static override paths = [['acl', 'policy', 'create']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'Create a policy from Consul rules (HCL or JSON)',
    details: `
      Rules: key_prefix/key, service_prefix/service, node_prefix/node, session_prefix/session,
      event_prefix/event, agent_prefix/agent blocks with policy = "read" | "write" | "deny" ("list" for keys), and
      operator = "read" | "write" | "deny", acl = "read" | "write". The longest matching prefix wins,
      an exact rule beats a prefix, and with no rule the agents' --acl-default-policy answers.
    `,
    examples: [
      ['Read-write under app/', '$0 acl policy create --name app --rules \'key_prefix "app/" { policy = "write" }\''],
      ['From a file', '$0 acl policy create --name web --rules @web.hcl'],
    ],
  });

  name = Option.String('--name', { required: true, description: 'The policy\'s name' });
  description = Option.String('--description', '', { description: 'What it is for' });
  rules = Option.String('--rules', { required: true, description: 'The rules, or @FILE' });

  protected async run(client: AgentClient): Promise<number> {
    const body = { Name: this.name, Description: this.description, Rules: rulesText(this.rules) };
    printPolicy(this, (await client.call('PUT', '/v1/acl/policy', { body: JSON.stringify(body) })).json<PolicyJson>(), this.json);
    return EXIT.ok;
  }
}

export class AclPolicyUpdateCommand extends HttpCommand {
  static override paths = [['acl', 'policy', 'update']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'Change a policy\'s rules, name or description',
    details: 'Every token linked to the policy gets the new rules at once, on every agent.',
    examples: [['Widen a policy', '$0 acl policy update --id 3c5f2e1a-0b6d-4a57-9d2e-6f1c0a9b8e77 --rules @app.hcl']],
  });

  id = Option.String('--id', { required: true, description: 'The policy\'s ID' });
  name = Option.String('--name', { description: 'A new name' });
  description = Option.String('--description', { description: 'A new description' });
  rules = Option.String('--rules', { description: 'New rules, or @FILE' });

  protected async run(client: AgentClient): Promise<number> {
    const body: Record<string, string> = {};
    if (this.name !== undefined) body.Name = this.name;
    if (this.description !== undefined) body.Description = this.description;
    if (this.rules !== undefined) body.Rules = rulesText(this.rules);
    if (Object.keys(body).length === 0) throw new UsageError('nothing to change: give --name, --description or --rules');
    const answer = await client.call('PUT', `/v1/acl/policy/${encodeURIComponent(this.id)}`, { body: JSON.stringify(body) });
    printPolicy(this, answer.json<PolicyJson>(), this.json);
    return EXIT.ok;
  }
}

export class AclPolicyReadCommand extends HttpCommand {
  static override paths = [['acl', 'policy', 'read']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'Show a policy and its rules (by --id or --name)',
    details: 'Prints the policy\'s id, name, description and rules.',
    examples: [['By name', '$0 acl policy read --name app']],
  });

  id = Option.String('--id', { description: 'The policy\'s ID' });
  name = Option.String('--name', { description: 'The policy\'s name' });

  protected async run(client: AgentClient): Promise<number> {
    if ((this.id === undefined) === (this.name === undefined)) throw new UsageError('give exactly one of --id or --name');
    const path = this.id !== undefined ? `/v1/acl/policy/${encodeURIComponent(this.id)}` : `/v1/acl/policy/name/${encodeURIComponent(this.name!)}`;
    printPolicy(this, (await client.call('GET', path)).json<PolicyJson>(), this.json);
    return EXIT.ok;
  }
}

export class AclPolicyListCommand extends HttpCommand {
  static override paths = [['acl', 'policy', 'list']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'List the policies',
    details: 'Every policy, the built-in global-management included, one per line: id, name, description.',
    examples: [['All policies', '$0 acl policy list']],
  });

  protected async run(client: AgentClient): Promise<number> {
    const policies = (await client.call('GET', '/v1/acl/policies')).json<PolicyJson[]>();
    if (this.json) this.printJson(policies);
    else for (const p of policies) this.out(`${p.ID}  ${p.Name}${p.Description ? `  ${p.Description}` : ''}`);
    return EXIT.ok;
  }
}

export class AclPolicyDeleteCommand extends HttpCommand {
  static override paths = [['acl', 'policy', 'delete']];
  static override usage = Command.Usage({
    category: 'Security',
    description: 'Delete a policy',
    details: 'Tokens linked to it lose its rules. The global-management policy cannot be deleted.',
    examples: [['Delete one', '$0 acl policy delete --id 3c5f2e1a-0b6d-4a57-9d2e-6f1c0a9b8e77']],
  });

  id = Option.String('--id', { required: true, description: 'The policy\'s ID' });

  protected async run(client: AgentClient): Promise<number> {
    const deleted = (await client.call('DELETE', `/v1/acl/policy/${encodeURIComponent(this.id)}`)).json<boolean>();
    if (this.json) this.printJson({ id: this.id, deleted });
    else this.out(deleted ? `Policy "${this.id}" deleted` : `No policy "${this.id}"`);
    return deleted ? EXIT.ok : EXIT.failed;
  }
}
