/** Time travel: an environment as apps were served it at a chosen time (from the event log). */
import { useState } from 'preact/hooks';
import { api, unwrap } from '../api';
import type { Session } from '../session';
import { Empty, ProblemBanner, sortEnvironments, useAction, useAsync } from '../components';
import { allConfigs } from './configs';

type AsOf = Awaited<ReturnType<typeof replay>>;

const replay = (tenantId: string, environment: string, at: string) =>
  unwrap(
    api.GET('/api/v1/tenants/{tenantId}/environments/{environment}/replay', {
      params: { path: { tenantId, environment }, query: { at } },
    }),
  );

export function TimeTravel({ tenantId }: { session: Session; tenantId: string }) {
  const envs = useAsync(
    async () => sortEnvironments((await allConfigs(tenantId)).map((c) => c.environment)),
    [tenantId],
  );
  const [environment, setEnvironment] = useState('');
  const [at, setAt] = useState('');
  const [result, setResult] = useState<AsOf | null>(null);
  const action = useAction();
  const env = environment || envs.data?.[0] || 'Production';
  const show = () =>
    action.run(async () => {
      setResult(null);
      setResult(await replay(tenantId, env, new Date(at).toISOString()));
    });
  const keys = result ? Object.keys(result.configs).sort() : [];
  return (
    <section>
      <h1>Time travel</h1>
      <p class="help">
        What did an environment serve at a given moment? Answered from the event log itself.
      </p>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          void show();
        }}
      >
        <label>
          Environment
          <select
            value={env}
            onChange={(e) => setEnvironment((e.target as HTMLSelectElement).value)}
          >
            {sortEnvironments([...(envs.data ?? []), 'Development', 'Staging', 'Production']).map(
              (e) => (
                <option key={e} value={e}>
                  {e}
                </option>
              ),
            )}
          </select>
        </label>
        <label>
          As of
          <input
            type="datetime-local"
            step={1}
            required
            value={at}
            onInput={(e) => setAt((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit" class="primary" disabled={!at || action.busy}>
          Show
        </button>
      </form>
      <ProblemBanner error={action.error ?? envs.error} />
      {result ? (
        keys.length === 0 ? (
          <Empty>
            <p>{env} had no keys then.</p>
          </Empty>
        ) : (
          <div class="table-scroll">
            <table aria-label={`${env} as of ${at}`}>
              <caption>
                {env} as of {new Date(at).toLocaleString()} (event position {result.position})
              </caption>
              <thead>
                <tr>
                  <th scope="col">Key</th>
                  <th scope="col">Value</th>
                  <th scope="col">Version</th>
                </tr>
              </thead>
              <tbody>
                {keys.map((k) => (
                  <tr key={k}>
                    <td class="key">{k}</td>
                    <td class="value">
                      <code>{JSON.stringify(result.configs[k])}</code>
                    </td>
                    <td>v{result.versions[k]}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      ) : null}
    </section>
  );
}
