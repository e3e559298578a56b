/** A line diff (longest common subsequence) for the side-by-side view of two values. */

export interface DiffRow {
  left: string | null;
  right: string | null;
  kind: 'same' | 'removed' | 'added' | 'changed';
}

/** JSON is pretty-printed so that a change shows on the line it is on. */
export function linesOf(value: string | null, type: string): string[] {
  if (value === null) return [];
  if (type === 'JSON') {
    try {
      return JSON.stringify(JSON.parse(value), null, 2).split('\n');
    } catch {
      // not JSON after all (a masked value): as it is
    }
  }
  return value.split('\n');
}

export function diffLines(a: string[], b: string[]): DiffRow[] {
  // Beyond this the table would be too big; compare line by line instead.
  if (a.length * b.length > 250_000) {
    return Array.from({ length: Math.max(a.length, b.length) }, (_, i) => {
      const left = a[i] ?? null;
      const right = b[i] ?? null;
      return { left, right, kind: left === right ? 'same' : 'changed' };
    });
  }
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i]![j] =
        a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const rows: DiffRow[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      rows.push({ left: a[i]!, right: b[j]!, kind: 'same' });
      i++;
      j++;
    } else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      rows.push({ left: a[i]!, right: null, kind: 'removed' });
      i++;
    } else {
      rows.push({ left: null, right: b[j]!, kind: 'added' });
      j++;
    }
  }
  // Removals followed by additions read better side by side, as changed lines.
  const merged: DiffRow[] = [];
  let k = 0;
  while (k < rows.length) {
    if (rows[k]!.kind !== 'removed') {
      merged.push(rows[k++]!);
      continue;
    }
    const removed: string[] = [];
    const added: string[] = [];
    while (k < rows.length && rows[k]!.kind === 'removed') removed.push(rows[k++]!.left!);
    while (k < rows.length && rows[k]!.kind === 'added') added.push(rows[k++]!.right!);
    for (let x = 0; x < Math.max(removed.length, added.length); x++) {
      const left = removed[x] ?? null;
      const right = added[x] ?? null;
      merged.push({
        left,
        right,
        kind: left === null ? 'added' : right === null ? 'removed' : 'changed',
      });
    }
  }
  return merged;
}
