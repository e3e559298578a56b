/**
 * Files the client reads and writes: the last-known-good snapshot and a bootstrap file. Node's
 * fs is imported only when a file is used, so the client still loads where there is none
 * (browsers, edge runtimes).
 */
import type { ClientOptions, SnapshotStore, StoredSnapshot } from './types.js';

const isNode = () => typeof process !== 'undefined' && typeof process.versions?.node === 'string';

/** FNV-1a: a short, stable name part (not a secret, only tells files apart). */
function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (const byte of new TextEncoder().encode(text)) h = Math.imul(h ^ byte, 0x01000193);
  return (h >>> 0).toString(36);
}

const safe = (part: string) => part.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 50);

/** The store `options.lastKnownGood` asks for, or undefined when there is none. */
export function lastKnownGoodStore(options: ClientOptions): SnapshotStore | undefined {
  const choice = options.lastKnownGood ?? true;
  if (choice === false) return undefined;
  if (typeof choice === 'object') return choice;
  if (typeof choice === 'string') return new FileSnapshotStore(choice);
  if (!isNode()) return undefined;
  const identity = [options.url, options.tenant, options.environment, options.clientId ?? ''];
  const name =
    `config-service-${safe(options.tenant)}-${safe(options.environment)}-` +
    `${shortHash(identity.join('\n'))}.json`;
  return new FileSnapshotStore(name, true);
}

/** A snapshot in a JSON file, replaced atomically (written aside, then renamed), mode 0600. */
export class FileSnapshotStore implements SnapshotStore {
  constructor(
    private readonly file: string,
    /** The file name is relative to the OS temp directory. */
    private readonly inTemp = false,
  ) {}

  private async path(): Promise<string> {
    if (!this.inTemp) return this.file;
    const [os, path] = await Promise.all([import('node:os'), import('node:path')]);
    return path.join(os.tmpdir(), this.file);
  }

  async load(): Promise<StoredSnapshot | undefined> {
    const fs = await import('node:fs/promises');
    let text: string;
    try {
      text = await fs.readFile(await this.path(), 'utf8');
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return undefined;
      throw error;
    }
    const stored = JSON.parse(text) as StoredSnapshot;
    if (stored.format !== 1 || typeof stored.configs !== 'object' || stored.configs === null) {
      throw new Error(`${await this.path()} is not a last-known-good snapshot`);
    }
    return stored;
  }

  async save(snapshot: StoredSnapshot): Promise<void> {
    const [fs, path] = await Promise.all([import('node:fs/promises'), import('node:path')]);
    const file = await this.path();
    await fs.mkdir(path.dirname(file), { recursive: true });
    const aside = `${file}.${process.pid}.tmp`;
    // Values may be secrets (sensitive configs are served as they are to apps): owner only.
    await fs.writeFile(aside, JSON.stringify(snapshot), { mode: 0o600 });
    await fs.rename(aside, file);
  }
}

/**
 * Values from a bootstrap file: a flat object of key → value, or the environment route's answer
 * (it has an `environment` string and a `configs` object), e.g. saved by `cfgctl get --json`.
 */
export async function readBootstrapFile(file: string): Promise<Record<string, unknown>> {
  const fs = await import('node:fs/promises');
  const parsed = JSON.parse(await fs.readFile(file, 'utf8')) as unknown;
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${file}: a bootstrap file holds a JSON object`);
  }
  const body = parsed as Record<string, unknown>;
  const configs = body.configs;
  if (
    typeof body.environment === 'string' &&
    typeof configs === 'object' &&
    configs !== null &&
    !Array.isArray(configs)
  ) {
    return configs as Record<string, unknown>;
  }
  return body;
}
