/**
 * What a command runs with: the terminal, the resolved settings (flags, then CFGCTL_*
 * variables, then the saved profile) and a client for the service's management API.
 */
import type { ClientOptions } from '@config-service/client';
import { refresh, causeOf } from './device-flow.js';
import { ApiError, CliError, EXIT } from './errors.js';
import {
  configPath,
  profileName,
  readConfig,
  writeConfig,
  type Credential,
  type Profile,
} from './profile.js';

export interface Io {
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
  env: NodeJS.ProcessEnv;
  /** Aborted on Ctrl-C: ends `watch` and `follow`. */
  signal?: AbortSignal;
  fetch?: typeof fetch;
  /** Reads standard input (for `login --token-stdin`). */
  readStdin?: () => Promise<string>;
}

export interface GlobalFlags {
  url?: string;
  tenant?: string;
  env?: string;
  token?: string;
  'api-key'?: string;
  profile?: string;
  json?: boolean;
}

export class Context {
  readonly json: boolean;
  readonly configFile: string;
  private settings: Promise<{ profile: Profile; name: string }> | undefined;
  private credential: Credential | undefined;

  constructor(
    readonly io: Io,
    readonly flags: GlobalFlags,
  ) {
    this.json = flags.json === true;
    this.configFile = configPath(io.env);
  }

  get fetch(): typeof fetch {
    return this.io.fetch ?? fetch;
  }

  /** The saved profile this invocation uses (empty if none). */
  profile(): Promise<{ profile: Profile; name: string }> {
    this.settings ??= readConfig(this.configFile).then((file) => {
      const name = profileName(this.flags.profile, this.io.env, file);
      return { name, profile: file.profiles[name] ?? {} };
    });
    return this.settings;
  }

  async url(): Promise<string> {
    const url = this.flags.url ?? this.io.env.CFGCTL_URL ?? (await this.profile()).profile.url;
    if (!url)
      throw new CliError('no service URL: sign in with `cfgctl login --url …` or pass --url');
    return url.replace(/\/+$/, '');
  }

  async tenant(): Promise<string> {
    const t =
      this.flags.tenant ?? this.io.env.CFGCTL_TENANT ?? (await this.profile()).profile.tenant;
    if (!t)
      throw new CliError('no tenant: pass --tenant or save one with `cfgctl login --tenant …`');
    return t;
  }

  async environment(): Promise<string> {
    const e =
      this.flags.env ?? this.io.env.CFGCTL_ENV ?? (await this.profile()).profile.environment;
    if (!e)
      throw new CliError('no environment: pass --env or save one with `cfgctl login --env …`');
    return e;
  }

  /** The bearer credential to send, renewing a signed-in OIDC token when it has expired. */
  async bearer(): Promise<string> {
    const flag = this.flags['api-key'] ?? this.flags.token;
    if (flag) return flag;
    const fromEnv = this.io.env.CFGCTL_API_KEY ?? this.io.env.CFGCTL_TOKEN;
    if (fromEnv) return fromEnv;
    this.credential ??= (await this.profile()).profile.credential;
    const c = this.credential;
    if (!c) throw new CliError('not signed in: run `cfgctl login` (or pass --token / --api-key)');
    if (c.type === 'token') return c.token;
    if (c.type === 'apiKey') return c.apiKey;
    if (c.expiresAt !== undefined && c.expiresAt < Date.now() + 30_000) {
      if (!c.refreshToken)
        throw new CliError('the sign-in has expired: run `cfgctl login --oidc` again');
      const t = await refresh(c.tokenEndpoint, c.clientId, c.refreshToken, this.fetch);
      Object.assign(c, {
        accessToken: c.useIdToken && t.idToken ? t.idToken : t.accessToken,
        refreshToken: t.refreshToken,
        expiresAt: t.expiresAt,
      });
      await this.saveProfile({ credential: c });
    }
    return c.accessToken;
  }

  /** Merges `changes` into this invocation's profile in the config file. */
  async saveProfile(changes: Profile, makeCurrent = false): Promise<string> {
    const file = await readConfig(this.configFile);
    const name = profileName(this.flags.profile, this.io.env, file);
    file.profiles[name] = { ...file.profiles[name], ...changes };
    if (makeCurrent || !file.current) file.current = name;
    await writeConfig(this.configFile, file);
    this.settings = undefined;
    return name;
  }

  /** Options for @config-service/client (watch). */
  async clientOptions(): Promise<ClientOptions> {
    return {
      url: await this.url(),
      tenant: await this.tenant(),
      environment: await this.environment(),
      token: () => this.bearer(),
      lastKnownGood: false,
      fetch: this.io.fetch,
    };
  }

  // ---- the management API --------------------------------------------------------------------

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    return (await this.send(method, path, body, headers)).parsed as T;
  }

  /** A GET whose answer is text (an export file), not JSON. */
  async getText(path: string): Promise<string> {
    return (await this.send('GET', path, undefined, { Accept: 'text/plain' })).text;
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    headers: Record<string, string>,
  ): Promise<{ text: string; parsed: unknown }> {
    const base = await this.url();
    const { profile } = await this.profile();
    // Read your own writes: only positions of the service the profile is for.
    const position = profile.url === base ? profile.position : undefined;
    let res: Response;
    try {
      res = await this.fetch(`${base}/api/v1${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${await this.bearer()}`,
          Accept: 'application/json',
          ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
          // Routes that read the read side (GETs, promote) wait for it; the others ignore it.
          ...(position ? { 'X-Min-Position': position } : {}),
          ...headers,
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: this.io.signal,
      });
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(`cannot reach ${await this.url()}: ${causeOf(error)}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) throw apiError(res.status, parsed);
    const written = res.headers.get('x-event-position');
    if (method !== 'GET' && written && profile.url === base && later(written, profile.position)) {
      await this.saveProfile({ position: written });
    }
    return { text, parsed };
  }

  /**
   * POSTs a file as the raw body, asking for NDJSON progress: each progress line goes to
   * `progress`, the last line is the answer (or its problem, refused after progress began).
   */
  async upload<T = Record<string, unknown>>(
    path: string,
    body: Uint8Array,
    contentType: string,
    progress: (line: Record<string, unknown>) => void,
  ): Promise<T> {
    const base = await this.url();
    const { profile } = await this.profile();
    const position = profile.url === base ? profile.position : undefined;
    let res: Response;
    try {
      res = await this.fetch(`${base}/api/v1${path}`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${await this.bearer()}`,
          Accept: 'application/x-ndjson, application/json',
          'Content-Type': contentType,
          ...(position ? { 'X-Min-Position': position } : {}),
        },
        body,
        signal: this.io.signal,
      });
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(`cannot reach ${await this.url()}: ${causeOf(error)}`);
    }
    const parse = (text: string): unknown => {
      try {
        return text ? JSON.parse(text) : undefined;
      } catch {
        return undefined;
      }
    };
    if (!res.ok || !res.headers.get('content-type')?.startsWith('application/x-ndjson')) {
      const parsed = parse(await res.text());
      if (!res.ok) throw apiError(res.status, parsed);
      return parsed as T;
    }
    // Progress lines as they come; the last line is the answer.
    let last: Record<string, unknown> | undefined;
    let rest = '';
    const decoder = new TextDecoder();
    const take = (text: string) => {
      const lines = (rest + text).split('\n');
      rest = lines.pop()!;
      for (const line of lines.filter(Boolean)) {
        if (last) progress(last);
        last = parse(line) as Record<string, unknown>;
      }
    };
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      take(decoder.decode(chunk, { stream: true }));
    }
    take(`${decoder.decode()}\n`);
    if (typeof last?.status === 'number' && typeof last.title === 'string') {
      throw apiError(last.status, last);
    }
    const written = typeof last?.position === 'string' ? last.position : undefined;
    if (written && profile.url === base && later(written, profile.position)) {
      await this.saveProfile({ position: written });
    }
    return last as T;
  }

  get = <T = Record<string, unknown>>(path: string) => this.call<T>('GET', path);
  post = <T = Record<string, unknown>>(
    path: string,
    body: unknown = {},
    h?: Record<string, string>,
  ) => this.call<T>('POST', path, body, h);

  // ---- output ---------------------------------------------------------------------------------

  /** `human` on a terminal, `data` as JSON with --json. */
  print(human: string | string[], data: unknown): void {
    if (this.json) this.io.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    else {
      const lines = Array.isArray(human) ? human : [human];
      if (lines.length) this.io.stdout.write(`${lines.join('\n')}\n`);
    }
  }

  /** A note for people (stderr, so stdout stays the data). */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }
}

const later = (a: string, b: string | undefined) =>
  /^\d+$/.test(a) && (b === undefined || !/^\d+$/.test(b) || BigInt(a) > BigInt(b));

function apiError(status: number, body: unknown): ApiError {
  const p = (typeof body === 'object' && body !== null ? body : undefined) as
    Record<string, unknown> | undefined;
  const detail = typeof p?.detail === 'string' ? p.detail : undefined;
  const title = typeof p?.title === 'string' ? p.title : undefined;
  const hint =
    status === 401
      ? ' (sign in again: `cfgctl login`)'
      : p?.code === 'approval_required'
        ? ' (propose it instead: `cfgctl request`)'
        : '';
  const message = `${status} ${detail ?? title ?? 'error'}${hint}`;
  // Something changed since it was read (the detail names each key that moved): exit 4.
  if (status === 409 && (p?.code === 'stale' || p?.code === 'version_conflict')) {
    return new ApiError(status, message, p, EXIT.conflict);
  }
  return new ApiError(status, message, p);
}
