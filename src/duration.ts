// konsul's one duration parser: Go's format (`300ms`, `1.5h`, `2h45m`, `0`),
// which Consul uses in query strings, registration bodies and settings, and
// the settings' variant of it (also a bare number of milliseconds, never
// negative, whole ms). Shared by the HTTP layer, the check definitions, the
// agent's settings and the CLI.

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6, us: 1e-3, 'µs': 1e-3, 'μs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000,
};
const DURATION_PART = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/y;

/**
 * Parse a Go duration (`300ms`, `1.5h`, `2h45m`, `0`) into milliseconds.
 * Returns undefined when the text is not one.
 */
export function parseDuration(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest[0] === '-') sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  let at = 0;
  while (at < rest.length) {
    DURATION_PART.lastIndex = at;
    const m = DURATION_PART.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[2]];
    at = DURATION_PART.lastIndex;
  }
  return Number.isFinite(total) ? sign * total : undefined;
}

/**
 * A setting's duration: Go's format or a bare number of milliseconds
 * (`300ms`, `1.5s`, `1m30s`, `250`), rounded to whole ms; no sign.
 */
export function parseSettingDuration(text: string): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  if (/^[-+]/.test(text)) return undefined;
  const ms = parseDuration(text);
  return ms === undefined ? undefined : Math.round(ms);
}
