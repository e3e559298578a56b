/** Signing in and out: a token, an API key, or an OIDC device flow; saved per profile. */
import type { Command } from '../command.js';
import { Context } from '../context.js';
import { deviceLogin } from '../device-flow.js';
import { ApiError, CliError, UsageError } from '../errors.js';
import { readConfig, writeConfig, profileName, type Credential } from '../profile.js';

const login: Command = {
  name: 'login',
  args: '',
  summary: 'save the service, tenant, environment and a credential for later commands',
  details: [
    'One of: --token <jwt>, --token-stdin, --api-key <cfgk_…>, or --oidc with --issuer and',
    '--client-id (the OAuth device flow, RFC 8628: open the link shown, enter the code).',
    'The credential is checked against the service (skip with --no-verify) and saved in the',
    'config file ($CFGCTL_CONFIG, else cfgctl/config.json in the user config directory), mode 0600.',
  ],
  options: {
    'token-stdin': { type: 'boolean', description: 'read the token from standard input' },
    oidc: { type: 'boolean', description: 'sign in through the OIDC issuer (device flow)' },
    issuer: { type: 'string', value: '<url>', description: 'OIDC issuer (with --oidc)' },
    'client-id': { type: 'string', value: '<id>', description: 'OIDC client id (with --oidc)' },
    scope: {
      type: 'string',
      value: '<scopes>',
      description: 'OIDC scopes (default: openid offline_access)',
    },
    'id-token': { type: 'boolean', description: 'send the ID token instead of the access token' },
    'no-verify': { type: 'boolean', description: 'save without asking the service' },
  },
  async run(ctx, _args, o) {
    const credential = await credentialOf(ctx, o);
    const url = ctx.flags.url ?? ctx.io.env.CFGCTL_URL ?? (await ctx.profile()).profile.url;
    if (!url) throw new UsageError('missing --url');
    const changes = {
      url: url.replace(/\/+$/, ''),
      ...(ctx.flags.tenant ? { tenant: ctx.flags.tenant } : {}),
      ...(ctx.flags.env ? { environment: ctx.flags.env } : {}),
      credential,
      position: undefined, // positions of another sign-in may not apply
    };
    if (!o['no-verify'])
      await verify(
        ctx,
        changes.url,
        changes.tenant ?? (await ctx.profile()).profile.tenant,
        credential,
      );
    const name = await ctx.saveProfile(changes, true);
    const what =
      credential.type === 'apiKey'
        ? 'API key'
        : credential.type === 'oidc'
          ? 'OIDC sign-in'
          : 'token';
    ctx.print(`saved ${what} for ${changes.url} as profile '${name}' in ${ctx.configFile}`, {
      profile: name,
      url: changes.url,
      tenant: changes.tenant ?? null,
      environment: changes.environment ?? null,
      credential: credential.type,
      file: ctx.configFile,
    });
  },
};

async function credentialOf(ctx: Context, o: Record<string, unknown>): Promise<Credential> {
  const given = [ctx.flags.token, ctx.flags['api-key'], o['token-stdin'], o.oidc].filter(Boolean);
  if (given.length !== 1) {
    throw new UsageError('give one of --token, --token-stdin, --api-key or --oidc');
  }
  if (ctx.flags.token) return { type: 'token', token: ctx.flags.token };
  if (ctx.flags['api-key']) return { type: 'apiKey', apiKey: ctx.flags['api-key'] };
  if (o['token-stdin']) {
    const token = (await ctx.io.readStdin?.())?.trim();
    if (!token) throw new CliError('no token on standard input');
    return { type: 'token', token };
  }
  const issuer = o.issuer as string | undefined;
  const clientId = o['client-id'] as string | undefined;
  if (!issuer || !clientId) throw new UsageError('--oidc needs --issuer and --client-id');
  const tokens = await deviceLogin({
    issuer,
    clientId,
    scope: (o.scope as string | undefined) ?? 'openid offline_access',
    fetch: ctx.io.fetch,
    signal: ctx.io.signal,
    prompt: (uri, code, complete) =>
      ctx.note(`To sign in, open ${complete ?? uri} and enter the code ${code}`),
  });
  const useIdToken = o['id-token'] === true;
  if (useIdToken && !tokens.idToken) throw new CliError('the issuer gave no ID token');
  return {
    type: 'oidc',
    issuer,
    clientId,
    tokenEndpoint: tokens.tokenEndpoint,
    accessToken: useIdToken ? tokens.idToken! : tokens.accessToken,
    refreshToken: tokens.refreshToken,
    expiresAt: tokens.expiresAt,
    useIdToken,
  };
}

/** A 401 means the service does not take the credential; any other answer means it does. */
async function verify(ctx: Context, url: string, tenant: string | undefined, c: Credential) {
  const bearer = c.type === 'token' ? c.token : c.type === 'apiKey' ? c.apiKey : c.accessToken;
  const probe = new Context(ctx.io, { url, token: bearer });
  try {
    await probe.get(tenant ? `/tenants/${encodeURIComponent(tenant)}` : '/tenants/-');
  } catch (error) {
    if (error instanceof ApiError && error.status !== 401) return;
    if (error instanceof ApiError) throw new CliError(`${url} refused the credential (401)`);
    throw error;
  }
}

const logout: Command = {
  name: 'logout',
  args: '',
  summary: "forget the profile's credential (the service, tenant and environment stay)",
  async run(ctx) {
    const file = await readConfig(ctx.configFile);
    const name = profileName(ctx.flags.profile, ctx.io.env, file);
    const profile = file.profiles[name];
    if (profile?.credential) {
      delete profile.credential;
      await writeConfig(ctx.configFile, file);
    }
    ctx.print(`signed out of profile '${name}'`, { profile: name });
  },
};

export const sessionCommands = [login, logout];
