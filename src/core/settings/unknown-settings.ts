/**
 * Settings nobody reads: a misspelt `ConfigService__RedisPrefix` would otherwise be ignored in
 * silence and the shared default used. Every environment variable under a prefix the service
 * owns, and every key of an appsettings file, that is not a known setting gets a warning naming
 * the closest known one.
 */

/** Prefixes of the service's own environment variables (other variables are not ours). */
export const KNOWN_PREFIXES = [
  'ConfigService__',
  'ConnectionStrings__',
  'JWT__',
  'RateLimiting__',
  'OpenTelemetry__',
  'Logging__',
  'ASPNETCORE_',
  'METRICS_',
  'Encryption__',
  'Vault__',
];

/** Log levels per category (`Logging__LogLevel__Microsoft.AspNetCore`) are .NET's, and harmless. */
const OPEN_ENDED = /^Logging__LogLevel__./i;

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = prev[j]!;
      prev[j] = Math.min(above + 1, prev[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return prev[b.length]!;
}

/** The known name closest to `name` (case-insensitive edit distance). */
export function closestSetting(name: string, known: readonly string[]): string {
  let best = known[0]!;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function warning(where: string, name: string, known: readonly string[]): string {
  const closest = closestSetting(name, known);
  const why =
    closest.toLowerCase() === name.toLowerCase()
      ? `names are case-sensitive: write ${closest}`
      : `did you mean ${closest}?`;
  return `${where}${name} is not a known setting and is ignored (${why})`;
}

const unknown = (name: string, known: readonly string[]) =>
  !known.includes(name) && !OPEN_ENDED.test(name);

/** Warnings for environment variables under our prefixes that are not settings. */
export function unknownVariables(
  env: Record<string, string | undefined>,
  known: readonly string[],
): string[] {
  return Object.keys(env)
    .filter((name) => KNOWN_PREFIXES.some((p) => name.toLowerCase().startsWith(p.toLowerCase())))
    .filter((name) => unknown(name, known))
    .sort()
    .map((name) => warning('environment variable ', name, known));
}

/** Warnings for keys of an appsettings file (flattened to `A__B`) that are not settings. */
export function unknownFileKeys(
  file: string,
  keys: readonly string[],
  known: readonly string[],
): string[] {
  return keys
    .filter((name) => unknown(name, known))
    .map((name) => warning(`${file}: `, name, known));
}
