/** Human output: tables, values, a line diff, a progress bar. */

/** A value as a person reads it: strings as they are, everything else as JSON. */
export const show = (value: unknown): string =>
  typeof value === 'string' ? value : JSON.stringify(value);

/** Left-aligned columns; `null`/`undefined` shown as `-`. */
export function table(headers: string[], rows: unknown[][]): string[] {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : show(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)];
}

/** A value as lines to compare: JSON pretty-printed, text as its lines. */
export const linesOf = (value: unknown): string[] =>
  (typeof value === 'string' ? value : JSON.stringify(value, null, 2)).split('\n');

/** A line diff (longest common subsequence): `-` removed, `+` added, ` ` kept. */
export function diffLines(a: string[], b: string[]): string[] {
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] =
        a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push(`  ${a[i]}`);
      i++;
      j++;
    } else if (i < n && (j === m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  return out;
}

/** `[█████░░░░░]  50 %` */
export function bar(percent: number, width = 30): string {
  const p = Math.max(0, Math.min(100, percent));
  const full = Math.round((p / 100) * width);
  return `[${'█'.repeat(full)}${'░'.repeat(width - full)}] ${String(Math.round(p)).padStart(3)} %`;
}
