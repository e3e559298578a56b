// Prints a signed token for local use:
//   npm run token -- --sub alice --role editor --tenant acme [--role approver] [--env Production] [--expires 12h]
import { parseArgs } from 'node:util';
import { ROLES, signToken, type Role } from '../api/auth.js';
import { settingsOrExit } from './run.js';

const { values } = parseArgs({
  options: {
    sub: { type: 'string' },
    role: { type: 'string', multiple: true },
    tenant: { type: 'string' },
    env: { type: 'string', multiple: true },
    expires: { type: 'string', default: '12h' },
  },
});
const roles = (values.role ?? []) as Role[];
const bad = roles.filter((r) => !(ROLES as readonly string[]).includes(r));
if (!values.sub || roles.length === 0 || bad.length) {
  console.error(
    `usage: npm run token -- --sub <user> --role <${ROLES.join('|')}> [--role …] [--tenant <id>] [--env <environment> …] [--expires 12h]` +
      (bad.length ? `\nunknown role(s): ${bad.join(', ')}` : ''),
  );
  process.exit(2);
}
if (!values.tenant && !roles.includes('platform-admin')) {
  console.error('--tenant is required unless the role is platform-admin');
  process.exit(2);
}
const settings = settingsOrExit();
console.log(
  signToken(
    settings.jwt,
    {
      sub: values.sub,
      roles,
      ...(values.tenant ? { tenant_id: values.tenant } : {}),
      ...(values.env ? { environments: values.env } : {}),
    },
    values.expires as `${number}h`,
  ),
);
