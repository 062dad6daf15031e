// Human output helpers: aligned tables for lists, and nested objects as
// `a.b: value` lines.

/** Rows under a header, each column as wide as its widest cell, two spaces apart; no trailing spaces. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    header.map((_, i) => (cells[i] ?? '').padEnd(widths[i])).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** `key: value` lines for every leaf of `value`; nested keys joined with '.', array items as [i]. */
export function flattenLines(value: unknown, prefix = ''): string[] {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value)
      ? value.map((v, i) => [`${prefix}[${i}]`, v] as const)
      : Object.entries(value).map(([k, v]) => [prefix ? `${prefix}.${k}` : k, v] as const);
    if (entries.length === 0) return prefix ? [`${prefix}: ${Array.isArray(value) ? '[]' : '{}'}`] : [];
    return entries.flatMap(([k, v]) => flattenLines(v, k));
  }
  return [`${prefix}: ${value === null ? 'null' : String(value)}`];
}

/**
 * A JSON object key in Consul's style: `modifyIndex` → `ModifyIndex`,
 * `nodeId` → `NodeID`, `id` → `ID`. Keys already in that style stay as they are.
 */
export function consulKey(key: string): string {
  if (!/^[a-z][A-Za-z0-9]*$/.test(key)) return key;
  const pascal = key.charAt(0).toUpperCase() + key.slice(1);
  return pascal.replace(/Id(?=[A-Z]|$)/g, 'ID').replace(/Uuid(?=[A-Z]|$)/g, 'UUID');
}

/** Fields whose object keys are data (table names, meta keys), not field names: kept as they are. */
const DATA_KEYED = new Set(['Tables', 'Meta', 'TaggedAddresses']);

/** Every object key of `value` (nested, in arrays too) in Consul's style: what every --json prints. */
export function consulStyle(value: unknown, keysAreData = false): unknown {
  if (Array.isArray(value)) return value.map((v) => consulStyle(v));
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => {
      const key = keysAreData ? k : consulKey(k);
      return [key, keysAreData ? v : consulStyle(v, DATA_KEYED.has(key))];
    }));
  }
  return value;
}
