/**
 * Deployments: the tenant's list, and one deployment followed live with its steps, error rates
 * per side, and pause/resume/promote/roll back. Both follow the API's server-sent events
 * (`/events`, fed by the read model): no polling.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, unwrap, type Deployment, type RunningDeployments } from '../api';
import { useDeploymentStream, type StreamState } from '../live';
import { can, type Session } from '../session';
import {
  Badge,
  ConfirmButton,
  Empty,
  Loading,
  ProblemBanner,
  Time,
  enc,
  useAction,
  useAsync,
} from '../components';

const STATUS_KIND: Record<Deployment['status'], string> = {
  InProgress: 'info',
  Paused: 'warn',
  Completed: 'ok',
  RolledBack: 'danger',
};

const running = (d: Deployment | undefined) => d?.status === 'InProgress' || d?.status === 'Paused';

/** Says whether the page is following the stream (and keeps its place: no layout jump). */
function LiveBadge({ state, active }: { state: StreamState; active: boolean }) {
  if (!active) return null;
  const text =
    state === 'live' ? '● live' : state === 'reconnecting' ? '○ reconnecting…' : '○ connecting…';
  return (
    <span class={state === 'live' ? 'live' : 'live off'} role="status" data-testid="live-state">
      {' '}
      {text}
    </span>
  );
}

export function Deployments({ tenantId }: { session: Session; tenantId: string }) {
  const [status, setStatus] = useState<'' | Deployment['status']>('');
  const list = useAsync(
    () =>
      unwrap(
        api.GET('/api/v1/deployments', {
          params: { query: { tenantId, pageSize: 100, ...(status ? { status } : {}) } },
        }),
      ),
    [tenantId, status],
  );
  // The tenant's running deployments, live: their rows update in place, and the list is read
  // again when one starts or ends (the set of running ids changed).
  const stream = useDeploymentStream<RunningDeployments>(
    `/api/v1/tenants/${enc(tenantId)}/deployments/events`,
  );
  const runningIds = useRef<string | null>(null);
  useEffect(() => {
    if (!stream.view) return;
    const ids = stream.view.items.map((d) => d.deploymentId).join();
    if (runningIds.current !== null && runningIds.current !== ids) list.reload();
    runningIds.current = ids;
  }, [stream.view]);
  const live = new Map(stream.view?.items.map((d) => [d.deploymentId, d]));
  const rows = list.data?.items.map((d) => live.get(d.deploymentId) ?? d);
  return (
    <section>
      <div class="page-head">
        <h1>Deployments</h1>
        <LiveBadge state={stream.state} active={!!rows?.some(running)} />
      </div>
      <div class="filters">
        <label>
          Status
          <select
            value={status}
            onChange={(e) => setStatus((e.target as HTMLSelectElement).value as typeof status)}
          >
            <option value="">All</option>
            <option value="InProgress">In progress</option>
            <option value="Paused">Paused</option>
            <option value="Completed">Completed</option>
            <option value="RolledBack">Rolled back</option>
          </select>
        </label>
      </div>
      <ProblemBanner error={list.error} />
      {!rows ? (
        list.error ? null : (
          <Loading what="deployments" />
        )
      ) : rows.length === 0 ? (
        <Empty>
          <p>
            No deployments{status ? ' with this status' : ''} yet. A canary starts from a
            configuration's page.
          </p>
        </Empty>
      ) : (
        <div class="table-scroll">
          <table aria-label="Deployments">
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Environment</th>
                <th scope="col">Strategy</th>
                <th scope="col">Status</th>
                <th scope="col">Progress</th>
                <th scope="col">By</th>
                <th scope="col">Started</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((d) => (
                <tr key={d.deploymentId} data-deployment={d.deploymentId}>
                  <td>
                    <a href={`#/t/${enc(tenantId)}/d/${enc(d.deploymentId)}`}>
                      {d.key ?? d.configId}
                    </a>
                  </td>
                  <td>{d.environment}</td>
                  <td>{d.strategy}</td>
                  <td>
                    <Badge kind={STATUS_KIND[d.status]}>{d.status}</Badge>
                  </td>
                  <td>
                    <Progress d={d} />
                  </td>
                  <td>{d.deployedBy}</td>
                  <td>
                    <Time iso={d.startedAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function Progress({ d }: { d: Deployment }) {
  const share =
    d.status === 'Completed'
      ? 100
      : d.status === 'RolledBack'
        ? 0
        : (d.canaryPercentage ?? d.progress);
  return (
    <div class="progress">
      <progress max={100} value={share} aria-label={`${share}% of clients on the new value`} />
      <span>{share}%</span>
    </div>
  );
}

const rate = (side: { requests: number; errors: number }) =>
  side.requests ? `${((side.errors / side.requests) * 100).toFixed(1)}%` : '—';

export function DeploymentDetail(props: {
  session: Session;
  tenantId: string;
  deploymentId: string;
}) {
  const { session, tenantId, deploymentId } = props;
  const dep = useAsync(
    () =>
      unwrap(api.GET('/api/v1/deployments/{deploymentId}', { params: { path: { deploymentId } } })),
    [deploymentId],
  );
  // Snapshots of the stream as the read model records them; the GET answers first (and after
  // an action, since it reads your writes), whichever is newer is shown.
  const stream = useDeploymentStream<Deployment>(`/api/v1/deployments/${enc(deploymentId)}/events`);
  const [view, setView] = useState<Deployment | undefined>(undefined);
  useEffect(() => setView(dep.data), [dep.data]);
  useEffect(() => stream.view && setView(stream.view), [stream.view]);
  const [reason, setReason] = useState('');
  const action = useAction();
  const d = view ?? dep.data;
  if (!d) {
    return (
      <section>
        <ProblemBanner error={dep.error} />
        {dep.error ? null : <Loading what="the deployment" />}
      </section>
    );
  }
  const writer = can(session, d.tenantId, 'write', d.environment);
  const noRole = 'Your role cannot run deployments';
  const act = (what: 'pause' | 'resume' | 'promote') =>
    action.run(async () => {
      const params = { params: { path: { deploymentId } } };
      if (what === 'pause')
        await unwrap(api.POST('/api/v1/deployments/{deploymentId}/pause', params));
      if (what === 'resume')
        await unwrap(api.POST('/api/v1/deployments/{deploymentId}/resume', params));
      if (what === 'promote')
        await unwrap(api.POST('/api/v1/deployments/{deploymentId}/promote', params));
      dep.reload();
    });
  const rollback = () =>
    action.run(async () => {
      await unwrap(
        api.POST('/api/v1/deployments/{deploymentId}/rollback', {
          params: { path: { deploymentId } },
          body: { reason: reason || 'rolled back from the console' },
        }),
      );
      dep.reload();
    });
  const m = d.metrics;
  return (
    <section>
      <p class="crumbs">
        <a href={`#/t/${enc(tenantId)}/deployments`}>Deployments</a> /
      </p>
      <div class="page-head">
        <h1>
          <a href={`#/t/${enc(tenantId)}/c/${enc(d.configId)}`} class="key">
            {d.key ?? d.configId}
          </a>{' '}
          <span class="muted">in</span> {d.environment}
        </h1>
        <div>
          <Badge>{d.strategy}</Badge>{' '}
          <span data-testid="deployment-status">
            <Badge kind={STATUS_KIND[d.status]}>{d.status}</Badge>
          </span>
          <LiveBadge state={stream.state} active={running(d)} />
        </div>
      </div>
      <div class="panel">
        <Progress d={d} />
        <ol class="steps" aria-label="Steps">
          {m.steps.map((s, i) => (
            <li
              key={i}
              class={
                i < m.stepIndex || d.status === 'Completed'
                  ? 'done'
                  : i === m.stepIndex && running(d)
                    ? 'current'
                    : ''
              }
              aria-current={i === m.stepIndex && running(d) ? 'step' : undefined}
            >
              {s}%
            </li>
          ))}
        </ol>
        <dl class="facts">
          <dt>Value</dt>
          <dd>
            <code class="old">{d.previousValue ?? '—'}</code> → <code class="new">{d.value}</code>
          </dd>
          <dt>Plan</dt>
          <dd>
            {m.bakeTimeSeconds} s per step; rolls back above {(m.errorThreshold * 100).toFixed(1)}%
            canary errors (at least {m.minRequests} requests)
          </dd>
          <dt>Started</dt>
          <dd>
            {d.deployedBy} <Time iso={d.startedAt} />
          </dd>
          {d.completedAt ? (
            <>
              <dt>Ended</dt>
              <dd>
                <Time iso={d.completedAt} />
              </dd>
            </>
          ) : null}
          {d.wasRolledBack ? (
            <>
              <dt>Rolled back</dt>
              <dd data-testid="rollback-reason">
                {m.automatic ? 'automatically: ' : ''}
                {d.rollbackReason ?? d.errorMessage ?? ''}
              </dd>
            </>
          ) : null}
        </dl>
        <div class="table-scroll">
          <table aria-label="Error rates per side">
            <thead>
              <tr>
                <th scope="col">Side</th>
                <th scope="col">This step: requests</th>
                <th scope="col">errors</th>
                <th scope="col">rate</th>
                <th scope="col">All steps: requests</th>
                <th scope="col">errors</th>
                <th scope="col">rate</th>
              </tr>
            </thead>
            <tbody>
              {(['canary', 'stable'] as const).map((side) => (
                <tr key={side} data-side={side}>
                  <th scope="row">{side}</th>
                  <td>{m.current[side].requests}</td>
                  <td>{m.current[side].errors}</td>
                  <td>{rate(m.current[side])}</td>
                  <td>{m.totals[side].requests}</td>
                  <td>{m.totals[side].errors}</td>
                  <td>{rate(m.totals[side])}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        <ProblemBanner error={action.error} />
        <div class="actions">
          {d.status === 'InProgress' ? (
            <button
              type="button"
              disabled={!writer || action.busy}
              title={writer ? undefined : noRole}
              onClick={() => void act('pause')}
            >
              Pause
            </button>
          ) : null}
          {d.status === 'Paused' ? (
            <button
              type="button"
              disabled={!writer || action.busy}
              title={writer ? undefined : noRole}
              onClick={() => void act('resume')}
            >
              Resume
            </button>
          ) : null}
          {running(d) ? (
            <ConfirmButton
              label="Promote"
              title="Promote to 100%?"
              message="Every client gets the new value now."
              disabled={!writer || action.busy}
              disabledReason={noRole}
              onConfirm={() => void act('promote')}
            />
          ) : null}
          {d.status !== 'RolledBack' ? (
            <ConfirmButton
              label="Roll back"
              title="Roll back this deployment?"
              message={
                d.status === 'Completed'
                  ? 'The previous value comes back as a new version.'
                  : 'Every client gets the old value again.'
              }
              danger
              disabled={!writer || action.busy}
              disabledReason={noRole}
              onConfirm={() => void rollback()}
            >
              <label>
                Reason
                <input
                  value={reason}
                  onInput={(e) => setReason((e.target as HTMLInputElement).value)}
                />
              </label>
            </ConfirmButton>
          ) : null}
        </div>
      </div>
    </section>
  );
}
