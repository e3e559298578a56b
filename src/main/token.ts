// Prints a signed token for local use:
//   npm run token -- --sub alice --role editor --tenant acme [--role approver] [--env Production] [--expires 12h] [--console]
import { ROLES, signToken, type Role } from '../core/auth/auth.js';
import { cliArgs, runCli, settingsOrExit, usageError } from './run.js';
import { CONSOLE_PATH } from '../features/console/console.assets.js';

const USAGE = `usage: npm run token -- --sub <user> --role <${ROLES.join('|')}> [--role …] [--tenant <id>] [--env <environment> …] [--expires 12h] [--console]
Prints a token signed with JWT__Secret (for local use; --tenant is required unless the role is
platform-admin; --expires takes 30m, 12h, 7d …). --console prints a link to the web console that
signs in with it instead.`;

const { values } = cliArgs(
  {
    sub: { type: 'string' },
    role: { type: 'string', multiple: true },
    tenant: { type: 'string' },
    env: { type: 'string', multiple: true },
    expires: { type: 'string', default: '12h' },
    console: { type: 'boolean', default: false },
  },
  USAGE,
);
const roles = (values.role ?? []) as Role[];
const bad = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
if (!values.sub || roles.length === 0) usageError('--sub and --role are required', USAGE);
if (bad.length) usageError(`unknown role(s): ${bad.join(', ')}`, USAGE);
if (!values.tenant && !roles.includes('platform-admin')) {
  usageError('--tenant is required unless the role is platform-admin', USAGE);
}
if (!/^\d+(\.\d+)?\s*(ms|s|m|h|d|w|y)$/.test(values.expires)) {
  usageError(`--expires '${values.expires}' is not a time span such as 30m, 12h or 7d`, USAGE);
}
const settings = settingsOrExit();
await runCli('token', async () => {
  const token = signToken(
    settings.jwt,
    {
      sub: values.sub!,
      roles,
      ...(values.tenant ? { tenant_id: values.tenant } : {}),
      ...(values.env ? { environments: values.env } : {}),
    },
    values.expires as `${number}h`,
  );
  // The token goes in the fragment: browsers never send it to the server (nor to its logs).
  console.log(
    values.console
      ? `http://localhost:${settings.port}${CONSOLE_PATH}/#/signin?token=${token}`
      : token,
  );
});
