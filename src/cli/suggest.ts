// "Did you mean …?" for a mistyped command. Pure.

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

/** The known names closest to `typed` (edit distance ≤ 2, or a prefix), best first. */
export function suggest(typed: string, known: readonly string[]): string[] {
  const t = typed.toLowerCase();
  return known
    .map((k) => ({ k, d: k.startsWith(t) && t.length >= 2 ? 0.5 : distance(t, k) }))
    .filter((x) => x.d <= Math.min(2, Math.max(1, Math.floor(t.length / 3))) || x.d === 0.5)
    .sort((x, y) => x.d - y.d)
    .map((x) => x.k);
}
