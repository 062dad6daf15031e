// The simulator's replicated state machine: a small key-value store with
// put, compare-and-set and delete, its command encoding, and its image.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export type KvCommand =
  | { op: 'put'; key: string; value: string }
  | { op: 'cas'; key: string; expected: string | null; value: string }
  | { op: 'delete'; key: string };

export type KvResult = { ok: true } | { ok: boolean };

export function encodeCommand(cmd: KvCommand): Uint8Array {
  return encoder.encode(JSON.stringify(cmd));
}

export function decodeCommand(data: Uint8Array): KvCommand {
  return JSON.parse(decoder.decode(data)) as KvCommand;
}

export class KvStateMachine {
  data = new Map<string, string>();
  applied = 0;

  apply(index: number, cmd: KvCommand): KvResult {
    this.applied = index;
    switch (cmd.op) {
      case 'put':
        this.data.set(cmd.key, cmd.value);
        return { ok: true };
      case 'cas': {
        const current = this.data.get(cmd.key) ?? null;
        if (current !== cmd.expected) return { ok: false };
        this.data.set(cmd.key, cmd.value);
        return { ok: true };
      }
      case 'delete':
        this.data.delete(cmd.key);
        return { ok: true };
    }
  }

  get(key: string): string | null {
    return this.data.get(key) ?? null;
  }

  image(): Uint8Array {
    return encoder.encode(JSON.stringify({ applied: this.applied, data: [...this.data] }));
  }

  static fromImage(image: Uint8Array | undefined, index: number): KvStateMachine {
    const sm = new KvStateMachine();
    sm.applied = index;
    if (image && image.length > 0) {
      const raw = JSON.parse(decoder.decode(image)) as { applied: number; data: Array<[string, string]> };
      sm.data = new Map(raw.data);
    }
    return sm;
  }
}
