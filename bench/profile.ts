/**
 * A V8 CPU profile (.cpuprofile, as `node --cpu-prof` or the inspector writes it) summed up:
 * self time per function, the top n, so that a benchmark can say where its thread's time went.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export function summarizeProfile(profile: CpuProfile, top: number): string {
  const hits = new Map<string, number>();
  let total = 0;
  for (const n of profile.nodes) {
    const h = n.hitCount ?? 0;
    if (!h) continue;
    const f = n.callFrame;
    const where = f.url
      ? `${f.url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${f.lineNumber + 1}`
      : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    hits.set(key, (hits.get(key) ?? 0) + h);
    total += h;
  }
  const msPerHit = total ? (profile.endTime - profile.startTime) / 1000 / total : 0;
  return [...hits]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(
      ([k, h]) =>
        `  ${((100 * h) / total).toFixed(1).padStart(5)} %  ${(h * msPerHit).toFixed(0).padStart(6)} ms  ${k}`,
    )
    .join('\n');
}
