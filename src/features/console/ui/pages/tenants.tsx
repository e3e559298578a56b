/** Tenants (platform admins): list, create, tier and quotas, suspend, delete. */
import { useState } from 'preact/hooks';
import { api, unwrap, type Tenant } from '../api';
import { isPlatformAdmin, type Session } from '../session';
import {
  Badge,
  ConfirmButton,
  Empty,
  Loading,
  ProblemBanner,
  enc,
  useAction,
  useAsync,
} from '../components';

const TIERS = ['Free', 'Standard', 'Professional', 'Enterprise'] as const;
type Tier = (typeof TIERS)[number];

export function Tenants({ session }: { session: Session }) {
  const [search, setSearch] = useState('');
  const [showDeleted, setShowDeleted] = useState(false);
  const list = useAsync(
    () =>
      unwrap(
        api.GET('/api/v1/tenants', {
          params: {
            query: {
              pageSize: 500,
              ...(search ? { search } : {}),
              ...(showDeleted ? { status: 'Deleted' as const } : {}),
            },
          },
        }),
      ),
    [search, showDeleted],
  );
  if (!isPlatformAdmin(session)) {
    return (
      <section>
        <h1>Tenants</h1>
        <p>Only platform admins manage tenants.</p>
      </section>
    );
  }
  return (
    <section>
      <h1>Tenants</h1>
      <CreateTenant onDone={list.reload} />
      <div class="filters" role="search">
        <label>
          Search
          <input
            type="search"
            value={search}
            placeholder="id or name"
            onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
          />
        </label>
        <label class="inline">
          <input
            type="checkbox"
            checked={showDeleted}
            onChange={(e) => setShowDeleted((e.target as HTMLInputElement).checked)}
          />{' '}
          Deleted ones
        </label>
      </div>
      <ProblemBanner error={list.error} />
      {!list.data ? (
        list.error ? null : (
          <Loading what="tenants" />
        )
      ) : list.data.items.length === 0 ? (
        <Empty>
          <p>{search ? 'No tenant matches.' : 'No tenants yet: create the first one above.'}</p>
        </Empty>
      ) : (
        <div class="table-scroll">
          <table aria-label="Tenants">
            <thead>
              <tr>
                <th scope="col">Tenant</th>
                <th scope="col">Status</th>
                <th scope="col">Tier</th>
                <th scope="col">Quotas (configurations / environments)</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.data.items.map((t) => (
                <TenantRow key={t.tenantId} tenant={t} onDone={list.reload} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function TenantRow({ tenant: t, onDone }: { tenant: Tenant; onDone: () => void }) {
  const action = useAction();
  const [maxConfigurations, setMaxConfigurations] = useState(String(t.maxConfigurations));
  const [maxEnvironments, setMaxEnvironments] = useState(String(t.maxEnvironments));
  const patch = (body: {
    tier?: Tier;
    status?: 'Active' | 'Suspended';
    maxConfigurations?: number;
    maxEnvironments?: number;
  }) =>
    action.run(async () => {
      await unwrap(
        api.PATCH('/api/v1/tenants/{tenantId}', {
          params: { path: { tenantId: t.tenantId } },
          body,
        }),
      );
      onDone();
    });
  const remove = () =>
    action.run(async () => {
      await unwrap(
        api.DELETE('/api/v1/tenants/{tenantId}', { params: { path: { tenantId: t.tenantId } } }),
      );
      onDone();
    });
  const deleted = t.status === 'Deleted';
  const id = `tenant-${t.tenantId}`;
  return (
    <tr data-tenant={t.tenantId}>
      <th scope="row">
        {deleted ? t.tenantId : <a href={`#/t/${enc(t.tenantId)}/configs`}>{t.tenantId}</a>}
        <div class="muted small">{t.name}</div>
      </th>
      <td>
        <Badge kind={t.status === 'Active' ? 'ok' : t.status === 'Suspended' ? 'warn' : 'danger'}>
          {t.status}
        </Badge>
      </td>
      <td>
        <label class="sr-only" for={`${id}-tier`}>
          Tier of {t.tenantId}
        </label>
        <select
          id={`${id}-tier`}
          value={t.tier}
          disabled={deleted || action.busy}
          onChange={(e) => void patch({ tier: (e.target as HTMLSelectElement).value as Tier })}
        >
          {TIERS.map((tier) => (
            <option key={tier} value={tier}>
              {tier}
            </option>
          ))}
        </select>
      </td>
      <td>
        <form
          class="quotas"
          onSubmit={(e) => {
            e.preventDefault();
            void patch({
              maxConfigurations: Number(maxConfigurations),
              maxEnvironments: Number(maxEnvironments),
            });
          }}
        >
          <label class="sr-only" for={`${id}-maxc`}>
            Maximum configurations
          </label>
          <input
            id={`${id}-maxc`}
            type="number"
            min={1}
            value={maxConfigurations}
            disabled={deleted}
            onInput={(e) => setMaxConfigurations((e.target as HTMLInputElement).value)}
          />
          <span aria-hidden="true">/</span>
          <label class="sr-only" for={`${id}-maxe`}>
            Maximum environments
          </label>
          <input
            id={`${id}-maxe`}
            type="number"
            min={1}
            value={maxEnvironments}
            disabled={deleted}
            onInput={(e) => setMaxEnvironments((e.target as HTMLInputElement).value)}
          />
          <button type="submit" disabled={deleted || action.busy}>
            Set
          </button>
        </form>
        <ProblemBanner error={action.error} />
      </td>
      <td class="actions">
        {t.status === 'Active' ? (
          <ConfirmButton
            label="Suspend"
            title={`Suspend ${t.tenantId}?`}
            message="Its running roll-outs pause at their next step; apps keep reading."
            disabled={action.busy}
            onConfirm={() => void patch({ status: 'Suspended' })}
          />
        ) : null}
        {t.status === 'Suspended' ? (
          <button
            type="button"
            disabled={action.busy}
            onClick={() => void patch({ status: 'Active' })}
          >
            Activate
          </button>
        ) : null}
        {!deleted ? (
          <ConfirmButton
            label="Delete"
            title={`Delete ${t.tenantId}?`}
            message="The tenant is soft-deleted: its configurations stop being served."
            danger
            disabled={action.busy}
            onConfirm={() => void remove()}
          />
        ) : null}
      </td>
    </tr>
  );
}

function CreateTenant({ onDone }: { onDone: () => void }) {
  const [tenantId, setTenantId] = useState('');
  const [name, setName] = useState('');
  const [tier, setTier] = useState<Tier>('Standard');
  const action = useAction();
  return (
    <details class="panel">
      <summary>New tenant</summary>
      <form
        class="form row"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(async () => {
            await unwrap(api.POST('/api/v1/tenants', { body: { tenantId, name, tier } }));
            setTenantId('');
            setName('');
            onDone();
          });
        }}
      >
        <label>
          Id
          <input
            required
            value={tenantId}
            placeholder="acme"
            onInput={(e) => setTenantId((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Name
          <input
            required
            value={name}
            placeholder="Acme Inc."
            onInput={(e) => setName((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Tier
          <select
            value={tier}
            onChange={(e) => setTier((e.target as HTMLSelectElement).value as Tier)}
          >
            {TIERS.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" class="primary" disabled={action.busy}>
          Create tenant
        </button>
      </form>
      <ProblemBanner error={action.error} />
    </details>
  );
}
