// Start-up and shutdown as one ordered list: components start in order, and
// stop in reverse, both on a normal shutdown and when a later one fails to
// start (so nothing a failed start-up opened is left behind).

export interface Component {
  /** For the log: 'storage', 'http', ... */
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

export interface ComponentLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

export class Components {
  private readonly started: Component[] = [];
  private readonly logger: ComponentLogger;

  constructor(logger: ComponentLogger) {
    this.logger = logger;
  }

  /** Start each in order; when one fails, stop the ones already started (in reverse) and throw its error. */
  async startAll(list: readonly Component[]): Promise<void> {
    for (const c of list) {
      try {
        await c.start();
      } catch (error) {
        await this.stopAll();
        throw error;
      }
      this.started.push(c);
    }
  }

  /** Stop every started component, last started first. A failure is logged and the rest still stop. */
  async stopAll(): Promise<void> {
    while (this.started.length > 0) {
      const c = this.started.pop()!;
      try {
        await c.stop();
      } catch (error) {
        this.logger.warn({ err: error, component: c.name }, `${c.name} did not stop cleanly`);
      }
    }
  }

  /** The names of the started components, in start order. */
  names(): string[] {
    return this.started.map((c) => c.name);
  }
}
