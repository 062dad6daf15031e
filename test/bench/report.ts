// The side-by-side table: each figure for konsul, for the reference (etcd,
// dnsmasq, the disk), their ratio, the target and whether it is met;
// rendered as text for the terminal and Markdown for the README, and kept as
// JSON.

/** A goal for konsul's figure: against the reference's (ratio), or an absolute bound. */
export type Target =
  | { kind: 'ratioAtLeast'; value: number }
  | { kind: 'ratioAtMost'; value: number }
  | { kind: 'below'; value: number }
  | { kind: 'atMost'; value: number };

export interface Row {
  figure: string;
  unit: string;
  konsul: number | null;
  reference: number | null;
  /** What the reference is (etcd, dnsmasq, disk). */
  referenceName: string;
  target?: Target;
  note?: string;
}

/** konsul ÷ reference, or null when either is missing or the reference is 0. */
export function ratio(row: Row): number | null {
  if (row.konsul === null || row.reference === null || !Number.isFinite(row.konsul) || !Number.isFinite(row.reference) || row.reference === 0) return null;
  return row.konsul / row.reference;
}

/** Whether the target is met; null when there is no target or not enough figures to tell. */
export function met(row: Row): boolean | null {
  const t = row.target;
  if (!t || row.konsul === null || !Number.isFinite(row.konsul)) return null;
  switch (t.kind) {
    case 'below':
      return row.konsul < t.value;
    case 'atMost':
      return row.konsul <= t.value;
    case 'ratioAtLeast':
    case 'ratioAtMost': {
      const r = ratio(row);
      if (r === null) return null;
      return t.kind === 'ratioAtLeast' ? r >= t.value : r <= t.value;
    }
  }
}

export function targetText(row: Row): string {
  const t = row.target;
  if (!t) return '';
  switch (t.kind) {
    case 'ratioAtLeast':
      return `≥ ${t.value}× ${row.referenceName}`;
    case 'ratioAtMost':
      return t.value === 1 ? `≤ ${row.referenceName}` : `≤ ${t.value}× ${row.referenceName}`;
    case 'below':
      return `< ${t.value} ${row.unit}`;
    case 'atMost':
      return `≤ ${t.value} ${row.unit}`;
  }
}

/** A figure with up to three significant decimals, no trailing zeros; "-" when missing. */
export function formatNumber(n: number | null): string {
  if (n === null || !Number.isFinite(n)) return '-';
  const abs = Math.abs(n);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return Number(n.toFixed(digits)).toLocaleString('en-US', { maximumFractionDigits: digits });
}

export const HEADER = ['figure', 'konsul', 'reference', 'ratio', 'target', 'met'] as const;

/** The cells of each row, as both renderings show them. */
export function cells(rows: readonly Row[]): string[][] {
  return rows.map((row) => {
    const r = ratio(row);
    const m = met(row);
    return [
      `${row.figure} (${row.unit})`,
      formatNumber(row.konsul),
      row.reference === null ? `- (${row.referenceName})` : `${formatNumber(row.reference)} (${row.referenceName})`,
      r === null ? '-' : `${formatNumber(r)}×`,
      targetText(row),
      m === null ? '' : m ? 'yes' : 'NO',
    ];
  });
}

/** Columns padded to their widest cell, two spaces apart. */
export function renderText(rows: readonly Row[]): string {
  const body = cells(rows);
  const widths = HEADER.map((h, i) => Math.max(h.length, ...body.map((c) => [...c[i]].length)));
  const line = (c: readonly string[]): string => c.map((x, i) => x + ' '.repeat(widths[i] - [...x].length)).join('  ').trimEnd();
  return [line(HEADER), ...body.map(line)].join('\n');
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/** A GitHub Markdown table, with the notes of rows that have one as footnotes. */
export function renderMarkdown(rows: readonly Row[]): string {
  const body = cells(rows);
  const lines = [
    `| ${HEADER.join(' | ')} |`,
    `| ${HEADER.map((_, i) => (i === 0 || i === 4 ? '---' : '---:')).join(' | ')} |`,
    ...body.map((c) => `| ${c.map(escapeCell).join(' | ')} |`),
  ];
  const notes = rows.filter((r) => r.note).map((r) => `- ${r.figure}: ${r.note}`);
  return notes.length > 0 ? `${lines.join('\n')}\n\n${notes.join('\n')}` : lines.join('\n');
}
