/** Configurations: keys × environments side by side, search and tag filter, live; and create. */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, unwrap, type Config, type ConfigType } from '../api';
import { can, environmentsOf, type Session } from '../session';
import {
  Badge,
  Empty,
  Loading,
  ProblemBanner,
  Switch,
  TYPES,
  ValueEditor,
  enc,
  navigate,
  sortEnvironments,
  typedValue,
  useAction,
  useAsync,
} from '../components';
import { watchEnvironment } from '../live';

interface Props {
  session: Session;
  tenantId: string;
}

/** Every live configuration of the tenant (all pages). */
export async function allConfigs(tenantId: string, includeDeleted = false): Promise<Config[]> {
  const items: Config[] = [];
  for (let page = 1; ; page++) {
    const p = await unwrap(
      api.GET('/api/v1/configs', {
        params: {
          query: {
            tenantId,
            page,
            pageSize: 500,
            includeDeleted: includeDeleted ? 'true' : 'false',
          },
        },
      }),
    );
    items.push(...p.items);
    if (items.length >= p.total || p.items.length === 0) return items;
  }
}

/**
 * The tenant's declared environments, each with the approvals its changes need: the grid's
 * columns and the choices of a new configuration (an environment with no key yet included).
 */
export async function approvalPolicy(tenantId: string): Promise<Record<string, number>> {
  const p = await unwrap(
    api.GET('/api/v1/tenants/{tenantId}/environments', { params: { path: { tenantId } } }),
  );
  return Object.fromEntries(p.environments.map((e) => [e.name, e.requiredApprovals]));
}

export function ConfigGrid({ session, tenantId }: Props) {
  const [showDeleted, setShowDeleted] = useState(false);
  const configs = useAsync(() => allConfigs(tenantId, showDeleted), [tenantId, showDeleted]);
  const policy = useAsync(() => approvalPolicy(tenantId), [tenantId]);
  const [search, setSearch] = useState('');
  const [tag, setTag] = useState('');
  const [updated, setUpdated] = useState<Set<string>>(new Set());

  const environments = useMemo(
    () =>
      sortEnvironments([
        ...Object.keys(policy.data ?? {}),
        ...(configs.data ?? []).map((c) => c.environment),
      ]).filter((e) => {
        const allowed = environmentsOf(session, tenantId);
        return !allowed || allowed.includes(e);
      }),
    [configs.data, policy.data, session],
  );

  // Live: a snapshot whose versions differ from what the grid shows reloads it.
  const shown = useRef<Config[] | undefined>(undefined);
  shown.current = configs.data;
  const reload = configs.reload;
  // Only environments with keys: an empty one has no stream yet (404) and gains one on reload.
  const watched = sortEnvironments((configs.data ?? []).map((c) => c.environment)).join('\n');
  useEffect(() => {
    const stops = (watched ? watched.split('\n') : []).map((env) =>
      watchEnvironment(tenantId, env, (snapshot) => {
        const current = (shown.current ?? []).filter((c) => c.environment === env && !c.deleted);
        const versions = snapshot.versions ?? {};
        const changed = Object.keys(versions).filter(
          (key) => current.find((c) => c.key === key)?.version !== versions[key],
        );
        const removed = current.filter((c) => !(c.key in versions)).map((c) => c.key);
        if (changed.length || removed.length) {
          for (const k of changed) expected.current.set(`${env}\u0000${k}`, versions[k]!);
          for (const k of removed) expected.current.set(`${env}\u0000${k}`, null);
          setUpdated(new Set([...changed, ...removed].map((k) => `${env}\u0000${k}`)));
          retries.current = 0;
          reload();
        }
      }),
    );
    return () => stops.forEach((stop) => stop());
  }, [tenantId, watched, reload]);

  // The stream can be ahead of the list (another projection): read again until it has caught up.
  const expected = useRef(new Map<string, number | null>());
  const retries = useRef(0);
  useEffect(() => {
    if (!configs.data || configs.loading || expected.current.size === 0) return;
    for (const [id, version] of expected.current) {
      const [env, key] = id.split('\u0000');
      const c = configs.data.find((x) => x.environment === env && x.key === key);
      if (version === null ? !c || c.deleted : (c?.version ?? 0) >= version) {
        expected.current.delete(id);
      }
    }
    if (expected.current.size === 0 || retries.current++ >= 40) {
      expected.current.clear();
      return;
    }
    const timer = setTimeout(reload, 250);
    return () => clearTimeout(timer);
  }, [configs.data, configs.loading, reload]);

  const tags = useMemo(
    () => [...new Set((configs.data ?? []).flatMap((c) => c.tags))].sort(),
    [configs.data],
  );
  const rows = useMemo(() => {
    const byKey = new Map<string, Map<string, Config>>();
    for (const c of configs.data ?? []) {
      if (search && !c.key.toLowerCase().includes(search.toLowerCase())) continue;
      if (tag && !c.tags.includes(tag)) continue;
      if (!byKey.has(c.key)) byKey.set(c.key, new Map());
      byKey.get(c.key)!.set(c.environment, c);
    }
    return [...byKey.entries()].sort(([a], [b]) => a.localeCompare(b));
  }, [configs.data, search, tag]);

  const writer = can(session, tenantId, 'write');
  return (
    <section>
      <div class="page-head">
        <h1>Configurations</h1>
        {writer ? (
          <a class="button primary" href={`#/t/${enc(tenantId)}/configs/new`}>
            New configuration
          </a>
        ) : null}
      </div>
      <div class="filters" role="search">
        <label>
          Search keys
          <input
            type="search"
            value={search}
            placeholder="checkout."
            onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
          />
        </label>
        <label>
          Tag
          <select value={tag} onChange={(e) => setTag((e.target as HTMLSelectElement).value)}>
            <option value="">All tags</option>
            {tags.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        <label class="inline">
          <input
            type="checkbox"
            checked={showDeleted}
            onChange={(e) => setShowDeleted((e.target as HTMLInputElement).checked)}
          />{' '}
          Deleted ones too
        </label>
        <span class="live" title="Changes made elsewhere appear here without a reload">
          ● live
        </span>
      </div>
      <ProblemBanner error={configs.error ?? policy.error} />
      {configs.data === undefined ? (
        configs.error ? null : (
          <Loading what="configurations" />
        )
      ) : rows.length === 0 ? (
        <Empty>
          {configs.data.length === 0 ? (
            <>
              <p>This tenant has no configurations yet.</p>
              {writer ? (
                <a class="button primary" href={`#/t/${enc(tenantId)}/configs/new`}>
                  Create the first one
                </a>
              ) : null}
            </>
          ) : (
            <p>No key matches the filter.</p>
          )}
        </Empty>
      ) : (
        <div class="table-scroll">
          <table class="grid" aria-label="Configurations by key and environment">
            <thead>
              <tr>
                <th scope="col">Key</th>
                {environments.map((env) => (
                  <th scope="col" key={env}>
                    {env}
                    {(policy.data?.[env] ?? 0) > 0 ? (
                      <Badge kind="warn">
                        {policy.data![env]} approval{policy.data![env] === 1 ? '' : 's'}
                      </Badge>
                    ) : null}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.map(([key, byEnv]) => (
                <tr key={key}>
                  <th scope="row">
                    <span class="key">{key}</span>
                  </th>
                  {environments.map((env) => {
                    const c = byEnv.get(env);
                    const flash = updated.has(`${env}\u0000${key}`);
                    if (!c) {
                      return (
                        <td key={env} class="cell-empty">
                          {writer ? (
                            <a
                              href={`#/t/${enc(tenantId)}/configs/new?key=${enc(key)}&environment=${enc(env)}&type=${(byEnv.values().next().value as Config).type}`}
                              aria-label={`Add ${key} to ${env}`}
                            >
                              + add
                            </a>
                          ) : (
                            <span class="muted">—</span>
                          )}
                        </td>
                      );
                    }
                    return (
                      <td key={env} class={flash ? 'flash' : ''} data-env={env} data-key={key}>
                        <a
                          href={`#/t/${enc(tenantId)}/c/${enc(c.configId)}`}
                          class="cell"
                          aria-label={`${key} in ${env}: ${c.isSensitive ? 'hidden' : c.value}, version ${c.version}`}
                        >
                          <span class="value">{c.value}</span>
                          <span class="meta">
                            <Badge>{c.type}</Badge> v{c.version}
                            {c.deleted ? <Badge kind="danger">deleted</Badge> : null}
                            {c.activeDeploymentId ? <Badge kind="info">rolling out</Badge> : null}
                          </span>
                          <span class="meta muted">
                            {c.updatedBy ?? c.createdBy}
                            {c.updatedAt ? ` · ${new Date(c.updatedAt).toLocaleString()}` : ''}
                          </span>
                        </a>
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

/** Create a configuration; where the environment needs approval, it becomes a change request. */
export function NewConfig({ session, tenantId, path }: Props & { path: string }) {
  const q = new URLSearchParams(path.split('?')[1] ?? '');
  const policy = useAsync(() => approvalPolicy(tenantId), [tenantId]);
  const [key, setKey] = useState(q.get('key') ?? '');
  const [environment, setEnvironment] = useState(q.get('environment') ?? 'Development');
  const [type, setType] = useState<ConfigType>((q.get('type') as ConfigType) ?? 'String');
  const [text, setText] = useState('');
  const [description, setDescription] = useState('');
  const [tags, setTags] = useState('');
  const [sensitive, setSensitive] = useState(false);
  const action = useAction();
  const needsApproval = (policy.data?.[environment] ?? 0) > 0;
  // The declared ones once known (a tenant may have removed a default or added its own).
  const environments = sortEnvironments(
    policy.data ? Object.keys(policy.data) : ['Development', 'Staging', 'Production'],
  );

  const submit = () =>
    action.run(async () => {
      const parsed = typedValue(type, type === 'Boolean' && text === '' ? 'false' : text);
      if ('error' in parsed) throw new Error(parsed.error);
      const tagList = tags
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean);
      if (needsApproval) {
        const cr = await unwrap(
          api.POST('/api/v1/approvals', {
            body: {
              tenantId,
              key,
              environment,
              type,
              value: parsed.value,
              description: description || null,
              tags: tagList,
              isSensitive: sensitive,
            },
          }),
        );
        navigate(`/t/${enc(tenantId)}/changes?created=${enc(cr.approvalId)}`);
      } else {
        const created = await unwrap(
          api.POST('/api/v1/configs', {
            body: {
              tenantId,
              key,
              environment,
              type,
              value: parsed.value,
              description: description || null,
              tags: tagList,
              isSensitive: sensitive,
            },
          }),
        );
        navigate(`/t/${enc(tenantId)}/c/${enc(created.configId)}`);
      }
    });

  return (
    <section class="narrow">
      <h1>New configuration</h1>
      <form
        class="form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label for="new-key">Key</label>
        <input
          id="new-key"
          required
          value={key}
          placeholder="checkout.timeout"
          onInput={(e) => setKey((e.target as HTMLInputElement).value)}
        />
        <label for="new-env">Environment</label>
        <input
          id="new-env"
          required
          list="known-environments"
          value={environment}
          onInput={(e) => setEnvironment((e.target as HTMLInputElement).value)}
        />
        <datalist id="known-environments">
          {environments.map((e) => (
            <option key={e} value={e} />
          ))}
        </datalist>
        <label for="new-type">Type</label>
        <select
          id="new-type"
          value={type}
          onChange={(e) => {
            setType((e.target as HTMLSelectElement).value as ConfigType);
            setText('');
          }}
        >
          {TYPES.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
        <label for="new-value">Value</label>
        <ValueEditor id="new-value" type={type} text={text} onChange={setText} />
        <label for="new-description">Description</label>
        <input
          id="new-description"
          value={description}
          onInput={(e) => setDescription((e.target as HTMLInputElement).value)}
        />
        <label for="new-tags">Tags (comma-separated)</label>
        <input
          id="new-tags"
          value={tags}
          onInput={(e) => setTags((e.target as HTMLInputElement).value)}
        />
        <Switch
          checked={sensitive}
          label="Sensitive (masked in lists and history)"
          onChange={setSensitive}
        />
        {needsApproval ? (
          <p class="notice">
            {environment} needs {policy.data![environment]} approval(s): this creates a change
            request.
          </p>
        ) : null}
        <ProblemBanner error={action.error} />
        <div class="actions">
          <a class="button" href={`#/t/${enc(tenantId)}/configs`}>
            Cancel
          </a>
          <button
            type="submit"
            class="primary"
            disabled={action.busy || !can(session, tenantId, 'write', environment)}
          >
            {needsApproval ? 'Request approval' : 'Create'}
          </button>
        </div>
      </form>
    </section>
  );
}
