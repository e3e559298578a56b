/**
 * Where cfgctl keeps what `login` saved: a JSON file in the user's config directory (mode 0600,
 * it holds credentials), one profile per service; and how a command's settings are resolved:
 * flags, then environment variables, then the profile.
 */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';
import { CliError } from './errors.js';

export type Credential =
  | { type: 'token'; token: string }
  | { type: 'apiKey'; apiKey: string }
  | {
      type: 'oidc';
      issuer: string;
      clientId: string;
      tokenEndpoint: string;
      accessToken: string;
      refreshToken?: string;
      /** ms since the epoch */
      expiresAt?: number;
      useIdToken?: boolean;
    };

export interface Profile {
  url?: string;
  tenant?: string;
  environment?: string;
  credential?: Credential;
  /**
   * The event position of the last change made through this profile: reads wait (bounded) until
   * the service's read side has it, so a command sees what the one before it changed.
   */
  position?: string;
}

export interface ConfigFile {
  current?: string;
  profiles: Record<string, Profile>;
}

/** `$CFGCTL_CONFIG`, else the platform's config directory (XDG on Linux). */
export function configPath(env: NodeJS.ProcessEnv): string {
  if (env.CFGCTL_CONFIG) return env.CFGCTL_CONFIG;
  const home = env.HOME || env.USERPROFILE || homedir();
  let dir: string;
  if (process.platform === 'win32') {
    dir = env.APPDATA || path.join(home, 'AppData', 'Roaming');
  } else if (process.platform === 'darwin') {
    dir = path.join(home, 'Library', 'Preferences');
  } else dir = env.XDG_CONFIG_HOME || path.join(home, '.config');
  return path.join(dir, 'cfgctl', 'config.json');
}

export async function readConfig(file: string): Promise<ConfigFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return { profiles: {} };
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text) as ConfigFile;
    if (typeof parsed.profiles !== 'object' || parsed.profiles === null) throw new Error();
    return parsed;
  } catch {
    throw new CliError(`${file} is not a cfgctl config file (remove it and sign in again)`);
  }
}

/** Written aside and renamed, owner-only: it holds tokens. */
export async function writeConfig(file: string, config: ConfigFile): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const aside = `${file}.${process.pid}.tmp`;
  await writeFile(aside, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await chmod(aside, 0o600);
  await rename(aside, file);
}

export const profileName = (flag: string | undefined, env: NodeJS.ProcessEnv, c: ConfigFile) =>
  flag ?? env.CFGCTL_PROFILE ?? c.current ?? 'default';
