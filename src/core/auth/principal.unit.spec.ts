import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import { toPrincipal } from './auth.js';
import {
  apiKeyPrincipal,
  authorize,
  canReveal,
  environmentsIn,
  userPrincipal,
  type Principal,
  type Role,
} from './principal.js';

const exp = Math.floor(Date.now() / 1000) + 3600;
const person = (tenants: Record<string, Role[]>, environments: string[] | null = null) =>
  userPrincipal({
    userId: 'alice',
    platformAdmin: false,
    tenants: new Map(
      Object.entries(tenants).map(([t, roles]) => [t, { roles: new Set(roles), environments }]),
    ),
    expiresAt: exp * 1000,
  });
const status = (f: () => void) => {
  try {
    f();
    return 200;
  } catch (error) {
    return (error as { status: number }).status;
  }
};

describe('principal', function () {
  describe('canReveal', function () {
    it('platform-admin and tenant-admin may reveal; editors, approvers and readers may not', function () {
      const admin = userPrincipal({
        userId: 'root',
        platformAdmin: true,
        tenants: new Map(),
        expiresAt: 0,
      });
      expect(canReveal(admin, 'acme', 'Production')).to.equal(true);
      expect(canReveal(person({ acme: ['tenant-admin'] }), 'acme', 'Production')).to.equal(true);
      for (const role of ['editor', 'approver', 'reader'] as const) {
        expect(canReveal(person({ acme: [role] }), 'acme', 'Production'), role).to.equal(false);
      }
    });

    it("a tenant-admin of one tenant may not reveal another's, nor outside its environments", function () {
      expect(canReveal(person({ acme: ['tenant-admin'] }), 'globex', 'Production')).to.equal(false);
      const limited = person({ acme: ['tenant-admin'] }, ['Staging']);
      expect(canReveal(limited, 'acme', 'Staging')).to.equal(true);
      expect(canReveal(limited, 'acme', 'Production')).to.equal(false);
    });

    it('an API key reveals only with the reveal scope, in its tenant and environments', function () {
      const key = (scopes: ('read' | 'reveal')[], environments: string[] | null = null) =>
        apiKeyPrincipal({ keyId: 'k1', tenantId: 'acme', scopes, environments, expiresAt: 0 });
      expect(canReveal(key(['read']), 'acme', 'Production')).to.equal(false);
      expect(canReveal(key(['read', 'reveal']), 'acme', 'Production')).to.equal(true);
      expect(canReveal(key(['read', 'reveal']), 'globex', 'Production')).to.equal(false);
      expect(canReveal(key(['reveal'], ['Staging']), 'acme', 'Production')).to.equal(false);
    });
  });

  it('an API key may do what its scopes say and nothing else', function () {
    const p: Principal = apiKeyPrincipal({
      keyId: 'k1',
      tenantId: 'acme',
      scopes: ['report-metrics'],
      environments: ['Production'],
      expiresAt: 0,
    });
    expect(status(() => authorize(p, 'report-metrics', 'acme', 'Production'))).to.equal(200);
    expect(status(() => authorize(p, 'read', 'acme', 'Production'))).to.equal(403);
    expect(status(() => authorize(p, 'report-metrics', 'acme', 'Staging'))).to.equal(403);
    expect(status(() => authorize(p, 'report-metrics', 'globex'))).to.equal(404);
  });

  it('a person holds different roles in several tenants', function () {
    const p = person({ acme: ['tenant-admin'], globex: ['reader'] });
    expect(status(() => authorize(p, 'admin', 'acme'))).to.equal(200);
    expect(status(() => authorize(p, 'read', 'globex'))).to.equal(200);
    expect(status(() => authorize(p, 'write', 'globex'))).to.equal(403);
    expect(status(() => authorize(p, 'read', 'initech'))).to.equal(404);
  });

  describe('claims', function () {
    it('reads roles by tenant from an object claim, and roles from a dotted path', function () {
      const p = toPrincipal(
        {
          sub: 'bob',
          exp,
          realm_access: { roles: ['reader'] },
          tenants: { acme: ['tenant-admin'], globex: ['reader', 'platform-admin'] },
        } as jwt.JwtPayload,
        { rolesClaim: 'realm_access.roles', tenantsClaim: 'tenants' },
      );
      expect(p.platformAdmin).to.equal(false);
      expect([...p.tenants.keys()]).to.deep.equal(['acme', 'globex']);
      expect([...p.tenants.get('acme')!.roles]).to.deep.equal(['tenant-admin']);
      expect([...p.tenants.get('globex')!.roles]).to.deep.equal(['reader']);
    });

    it('applies the roles claim to each tenant of a list, limited to the environments claim', function () {
      const p = toPrincipal({
        sub: 'carol',
        exp,
        roles: ['editor'],
        tenant_id: ['acme', 'globex'],
        environments: ['Staging'],
      });
      expect(environmentsIn(p, 'globex')).to.deep.equal(['Staging']);
      expect(status(() => authorize(p, 'write', 'globex', 'Staging'))).to.equal(200);
      expect(status(() => authorize(p, 'write', 'globex', 'Production'))).to.equal(403);
    });

    it('refuses a token with neither a tenant nor platform-admin', function () {
      expect(() => toPrincipal({ sub: 'dave', exp, roles: ['reader'] })).to.throw(/tenant_id/);
    });
  });
});
