/**
 * The KurrentDB/EventStoreDB connection-string schemes the adapter takes, and the spelling the
 * client parses without warnings. Kept apart from the adapter so that the settings check can
 * use it without loading the client.
 */
export const KURRENTDB_SCHEMES: ReadonlyMap<string, string> = new Map([
  // The client still accepts `esdb`, but warns on every parse; the native reader gets the same
  // string, so both understand the `kurrentdb` spelling.
  ['esdb', 'kurrentdb'],
  ['esdb+discover', 'kurrentdb+discover'],
  ['kurrentdb', 'kurrentdb'],
  ['kurrentdb+discover', 'kurrentdb+discover'],
  ['kurrent', 'kurrent'],
  ['kurrent+discover', 'kurrent+discover'],
  ['kdb', 'kdb'],
  ['kdb+discover', 'kdb+discover'],
]);

/** The scheme of a connection string, if it is one of ours (case-insensitive). */
export function kurrentDbScheme(connectionString: string): string | undefined {
  const match = /^([a-z+]+):\/\//i.exec(connectionString.trim());
  return match ? KURRENTDB_SCHEMES.get(match[1]!.toLowerCase()) : undefined;
}
