/** The audit log, filtered by event type, configuration and time, newest first. */
import { useState } from 'preact/hooks';
import { api, unwrap } from '../api';
import type { Session } from '../session';
import { Empty, Loading, ProblemBanner, Time, useAsync } from '../components';

const EVENT_TYPES = [
  'ConfigurationCreated',
  'ConfigurationUpdated',
  'ConfigurationRolledBack',
  'ConfigurationDeleted',
  'ConfigurationRestored',
  'ApprovalRequested',
  'ApprovalApproved',
  'ApprovalRejected',
  'DeploymentStarted',
  'DeploymentCompleted',
  'DeploymentRolledBack',
  'TenantCreated',
  'TenantUpdated',
];

/** `<input type=datetime-local>` gives local time without a zone: as an instant. */
const instant = (local: string) => (local ? new Date(local).toISOString() : undefined);

export function AuditLog({ tenantId }: { session: Session; tenantId: string }) {
  const [filter, setFilter] = useState({ eventType: '', configId: '', from: '', to: '' });
  const [applied, setApplied] = useState(filter);
  const [page, setPage] = useState(1);
  const pageSize = 50;
  const log = useAsync(
    () =>
      unwrap(
        api.GET('/api/v1/audit-logs', {
          params: {
            query: {
              tenantId,
              page,
              pageSize,
              ...(applied.eventType ? { eventType: applied.eventType } : {}),
              ...(applied.configId ? { configId: applied.configId } : {}),
              ...(applied.from ? { from: instant(applied.from) } : {}),
              ...(applied.to ? { to: instant(applied.to) } : {}),
            },
          },
        }),
      ),
    [tenantId, applied, page],
  );
  const field = (name: keyof typeof filter) => ({
    value: filter[name],
    onInput: (e: Event) => setFilter({ ...filter, [name]: (e.target as HTMLInputElement).value }),
  });
  const pages = log.data ? Math.max(1, Math.ceil(log.data.total / pageSize)) : 1;
  return (
    <section>
      <h1>Audit log</h1>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setPage(1);
          setApplied(filter);
        }}
      >
        <label>
          Event type
          <input list="event-types" placeholder="any" {...field('eventType')} />
          <datalist id="event-types">
            {EVENT_TYPES.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </label>
        <label>
          Configuration id
          <input placeholder="cfg_…" {...field('configId')} />
        </label>
        <label>
          From
          <input type="datetime-local" {...field('from')} />
        </label>
        <label>
          To
          <input type="datetime-local" {...field('to')} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ProblemBanner error={log.error} />
      {!log.data ? (
        log.error ? null : (
          <Loading what="the audit log" />
        )
      ) : log.data.items.length === 0 ? (
        <Empty>
          <p>No entries match.</p>
        </Empty>
      ) : (
        <>
          <div class="table-scroll">
            <table aria-label="Audit log">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Event</th>
                  <th scope="col">Key</th>
                  <th scope="col">Environment</th>
                  <th scope="col">User</th>
                  <th scope="col">Old → new</th>
                  <th scope="col">IP / trace</th>
                </tr>
              </thead>
              <tbody>
                {log.data.items.map((e) => (
                  <tr key={e.logId}>
                    <td>
                      <Time iso={e.timestamp} />
                    </td>
                    <td>{e.eventType}</td>
                    <td class="key">{e.configKey ?? '—'}</td>
                    <td>{e.environment ?? '—'}</td>
                    <td>{e.userId ?? '—'}</td>
                    <td class="value">
                      {e.oldValue !== null || e.newValue !== null ? (
                        <>
                          <code class="old">{e.oldValue ?? '∅'}</code> →{' '}
                          <code class="new">{e.newValue ?? '∅'}</code>
                        </>
                      ) : (
                        '—'
                      )}
                    </td>
                    <td class="small">
                      {e.ipAddress ?? '—'}
                      <div class="muted mono">{e.traceId ?? ''}</div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <nav class="pager" aria-label="Pages">
            <button type="button" disabled={page <= 1} onClick={() => setPage(page - 1)}>
              Newer
            </button>
            <span>
              Page {page} of {pages} ({log.data.total} entries)
            </span>
            <button type="button" disabled={page >= pages} onClick={() => setPage(page + 1)}>
              Older
            </button>
          </nav>
        </>
      )}
    </section>
  );
}
