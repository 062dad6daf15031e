// "did you mean": the closest of some candidates to what was typed, when it is
// close enough to be a typo (as config files already do for their keys).

/** Edits (insert, delete, substitute, swap two neighbours) from a to b: `stauts` is one swap from `status`. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The candidate nearest to `typed`, if close enough to be a typo (see limit); else undefined. */
export function closest(typed: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = editDistance(typed, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  // Short words are close to many others: at most one edit for four letters or fewer.
  const limit = typed.length <= 4 ? 1 : Math.max(2, Math.floor(typed.length / 3));
  return bestDistance <= limit ? best : undefined;
}
