// `konsul services register`: register a service with this agent, from flags
// (with at most one health check) or from a Consul service definition file.

import { Command, Option, UsageError } from '../../clipanion.js';
import { DefinitionError, parseServiceRegistration } from '../../../agent/local/definitions.js';
import type { AgentClient } from '../../client.js';
import { QuietHttpCommand } from '../../command.js';
import { AgentHttpError, CliError } from '../../errors.js';
import { EXIT } from '../../exit-codes.js';
import { readServiceFile, type ServiceBody } from './file.js';

/** The flags that describe the service itself; none of them goes with a FILE. */
const SERVICE_FLAGS = [
  ['name', '--name'], ['id', '--id'], ['address', '--address'], ['port', '--port'], ['tags', '--tag'], ['meta', '--meta'],
  ['checkHttp', '--check-http'], ['checkTcp', '--check-tcp'], ['checkTtl', '--check-ttl'], ['checkScript', '--check-script'],
  ['checkInterval', '--check-interval'], ['checkTimeout', '--check-timeout'],
] as const;

const DEFAULT_CHECK_INTERVAL = '10s';

/** The flag behind each field of the body built from flags, to name it in the agent parser's errors. */
const FIELD_FLAGS: Readonly<Record<string, string>> = {
  Name: '--name', ID: '--id', Tags: '--tag', Address: '--address', Port: '--port', Meta: '--meta',
  'Check.HTTP': '--check-http', 'Check.TCP': '--check-tcp', 'Check.TTL': '--check-ttl', 'Check.Args': '--check-script',
  'Check.Interval': '--check-interval', 'Check.Timeout': '--check-timeout',
};

/** `Check.Interval: "0s" must be more than 0` as `--check-interval: "0s" must be more than 0`. */
function flagError(error: DefinitionError): UsageError {
  const m = /^(Check\.\w+|\w+)([^:]*): (.*)$/.exec(error.message);
  const flag = m ? FIELD_FLAGS[m[1]] : undefined;
  return new UsageError(m && flag ? `${flag}${m[2]}: ${m[3]}` : error.message);
}

function portFlag(value: string): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port <= 65535)) throw new UsageError(`--port: "${value}" is not a port number (0 to 65535)`);
  return port;
}

function metaFlags(pairs: readonly string[]): Record<string, string> {
  const meta: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--meta: "${pair}" is not key=value`);
    const key = pair.slice(0, at);
    if (Object.hasOwn(meta, key)) throw new UsageError(`--meta: the key "${key}" is given twice`);
    meta[key] = pair.slice(at + 1);
  }
  return meta;
}

/** How long `services register` waits for the agent's catalog to list what it registered. */
const CATALOG_WAIT_MS = 10_000;

export class ServicesRegisterCommand extends QuietHttpCommand {
  static override paths = [['services', 'register']];
  static override usage = Command.Usage({
    category: 'Services',
    description: 'Register a service (and its health check) with this agent',
    details: `
      The agent keeps the service in the catalog and runs its check until the service is
      deregistered (\`konsul services deregister\`). Registering an ID again replaces that service.
      It returns once the agent's catalog lists the service (up to 10 s), so DNS and catalog
      queries on the next line of a script find it.

      From flags: --name is required; the ID defaults to the name. At most one check: an HTTP check
      with --check-http (GET the URL: 2xx is passing, 429 warning, anything else critical), a TCP
      check with --check-tcp (connect to HOST:PORT) or a script with --check-script (run by
      /bin/sh -c: exit 0 is passing, 1 warning, anything else critical; the agent must run with the
      flag --enable-script-checks), each run every --check-interval (default ${DEFAULT_CHECK_INTERVAL}); or a TTL check with
      the flag --check-ttl, which the service itself must report passing within. A new check is
      critical until it first passes.

      From a file: a Consul service definition in JSON, {"service": {...}} or {"services": [...]},
      with Consul's field names in either spelling ("Name" or "name", "EnableTagOverride" or
      "enable_tag_override"). "-" reads it from stdin. The whole file is checked before anything is
      registered.
    `,
    examples: [
      ['A service with an HTTP check', '$0 services register --name web --port 8080 --check-http http://localhost:8080/health'],
      ['Two instances on one node, told apart by ID', '$0 services register --name web --id web-2 --port 8081 --tag v2 --meta version=2.1'],
      ['A service that reports its own health', '$0 services register --name worker --check-ttl 30s'],
      ['A check script', '$0 services register --name db --port 5432 --check-script "pg_isready -q" --check-interval 30s'],
      ['From a definition file', '$0 services register web.json'],
      ['From stdin', 'generate-services | $0 services register -'],
    ],
  });

  name = Option.String('--name', { description: 'The service\'s name (required unless a FILE is given)' });
  id = Option.String('--id', { description: 'Its ID, unique on this agent (default: the name)' });
  address = Option.String('--address', { description: 'The address it listens on (default: the node\'s address)' });
  port = Option.String('--port', { description: 'The port it listens on' });
  tags = Option.Array('--tag', { description: 'A tag (repeat for several)' });
  meta = Option.Array('--meta', { description: 'Metadata as key=value (repeat for several)' });
  checkHttp = Option.String('--check-http', { description: 'Check: GET this URL; 2xx is passing, 429 warning, else critical' });
  checkTcp = Option.String('--check-tcp', { description: 'Check: connect to HOST:PORT' });
  checkTtl = Option.String('--check-ttl', { description: 'Check: the service reports passing at least this often (e.g. 30s)' });
  checkScript = Option.String('--check-script', { description: 'Check: run CMD with /bin/sh -c; exit 0 is passing, 1 warning, else critical' });
  checkInterval = Option.String('--check-interval', { description: `How often the HTTP, TCP or script check runs (default ${DEFAULT_CHECK_INTERVAL})` });
  checkTimeout = Option.String('--check-timeout', { description: 'How long one run of the check may take (default: the agent\'s, 10s; 30s for scripts)' });
  file = Option.String({ required: false, name: 'file' });

  protected async run(client: AgentClient): Promise<number> {
    const services = this.file !== undefined ? await this.servicesFromFile(this.file) : [this.serviceFromFlags()];
    const registered: string[] = [];
    for (const service of services) {
      try {
        await client.call('PUT', '/v1/agent/service/register', { body: JSON.stringify(service.body) });
      } catch (error) {
        if (!(error instanceof AgentHttpError) || services.length === 1) throw error;
        const before = registered.length > 0 ? `; registered before it: ${registered.join(', ')}` : '';
        throw new CliError(`service "${service.id}" not registered: ${error.message}${before}`, error.exitCode);
      }
      registered.push(service.id);
    }
    await this.untilInCatalog(client, services);
    if (this.json) this.printJson({ registered });
    else this.say(services.map((s) => `Registered service: ${s.name}${s.id === s.name ? '' : ` (ID ${s.id})`}`).join('\n'));
    return EXIT.ok;
  }

  /**
   * Returns once this agent's catalog replica lists every service registered (what its DNS and
   * catalog answers read), so the next line of a script finds them; at most CATALOG_WAIT_MS.
   */
  private async untilInCatalog(client: AgentClient, services: readonly ServiceBody[]): Promise<void> {
    const deadline = Date.now() + CATALOG_WAIT_MS;
    for (const s of services) {
      for (;;) {
        const answer = await client.call('GET', `/v1/catalog/service/${encodeURIComponent(s.name)}?stale`, { allow: [404] });
        if (answer.status === 404) return; // an agent without the endpoint: nothing to wait for
        if (answer.json<Array<{ ServiceID?: string }>>().some((i) => i.ServiceID === s.id)) break;
        if (Date.now() > deadline) {
          this.context.stderr.write(`note: ${s.id} is registered with the agent but not in its catalog after ${CATALOG_WAIT_MS / 1000}s (is the cluster without a leader?)\n`);
          return;
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  private async servicesFromFile(path: string): Promise<ServiceBody[]> {
    const flag = SERVICE_FLAGS.find(([field]) => this[field] !== undefined)?.[1];
    if (flag) throw new UsageError(`${flag} cannot be used with a FILE: the file defines the services`);
    return readServiceFile(path, this.context.stdin);
  }

  /**
   * Consul's registration body from the flags, with only the fields given,
   * checked by the agent's own parser so that a mistake names its flag.
   */
  private serviceFromFlags(): ServiceBody {
    if (this.name === undefined || this.name === '') {
      throw new UsageError('--name is required: the service\'s name (or give a FILE of service definitions)');
    }
    if (this.id === '') throw new UsageError('--id: cannot be empty (leave it out to use the name)');
    if (this.tags?.includes('')) throw new UsageError('--tag: a tag cannot be empty');
    const check = this.check();
    const body = {
      Name: this.name,
      ...(this.id !== undefined ? { ID: this.id } : {}),
      ...(this.tags !== undefined ? { Tags: this.tags } : {}),
      ...(this.address !== undefined ? { Address: this.address } : {}),
      ...(this.port !== undefined ? { Port: portFlag(this.port) } : {}),
      ...(this.meta !== undefined ? { Meta: metaFlags(this.meta) } : {}),
      ...(check !== undefined ? { Check: check } : {}),
    };
    try {
      parseServiceRegistration(body);
    } catch (error) {
      throw error instanceof DefinitionError ? flagError(error) : error;
    }
    return { id: this.id ?? this.name, name: this.name, body };
  }

  /** Consul's Check object for the one check flag given, or undefined when there is none. */
  private check(): Record<string, unknown> | undefined {
    const kinds = [
      ['--check-http', this.checkHttp], ['--check-tcp', this.checkTcp], ['--check-ttl', this.checkTtl], ['--check-script', this.checkScript],
    ] as const;
    const given = kinds.flatMap(([flag, value]) => (value === undefined ? [] : [[flag, value] as const]));
    if (given.length > 1) {
      throw new UsageError(`${given.map(([flag]) => flag).join(' and ')} cannot be used together: a service registered by flags has one check`);
    }
    const schedule = [['--check-interval', this.checkInterval], ['--check-timeout', this.checkTimeout]] as const;
    const scheduleFlag = schedule.find(([, value]) => value !== undefined)?.[0];

    if (given.length === 0) {
      if (scheduleFlag) throw new UsageError(`${scheduleFlag} needs a check: --check-http, --check-tcp or --check-script`);
      return undefined;
    }
    const [flag, value] = given[0];
    if (flag === '--check-ttl') {
      if (scheduleFlag) throw new UsageError(`${scheduleFlag} does not go with --check-ttl: the service reports a TTL check's status itself`);
      return { TTL: value };
    }
    if (value.trim() === '') throw new UsageError(`${flag}: cannot be empty`);
    const kind = flag === '--check-http' ? { HTTP: value } : flag === '--check-tcp' ? { TCP: value } : { Args: ['/bin/sh', '-c', value] };
    return {
      ...kind,
      Interval: this.checkInterval ?? DEFAULT_CHECK_INTERVAL,
      ...(this.checkTimeout !== undefined ? { Timeout: this.checkTimeout } : {}),
    };
  }
}
