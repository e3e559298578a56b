/** Change requests: by status; approve or reject with a comment; never your own. */
import { useState } from 'preact/hooks';
import { api, unwrap, type ChangeRequest } from '../api';
import { can, type Session } from '../session';
import {
  Badge,
  Empty,
  Loading,
  ProblemBanner,
  Time,
  enc,
  navigate,
  useAction,
  useAsync,
} from '../components';

const STATUSES = ['Pending', 'Approved', 'Rejected', 'Cancelled', 'Expired'] as const;
type Status = (typeof STATUSES)[number];

export function ChangeRequests(props: { session: Session; tenantId: string; path: string }) {
  const { session, tenantId } = props;
  const q = new URLSearchParams(props.path.split('?')[1] ?? '');
  const status = (STATUSES as readonly string[]).includes(q.get('status') ?? '')
    ? (q.get('status') as Status)
    : 'Pending';
  const created = q.get('created');
  const list = useAsync(
    () =>
      unwrap(
        api.GET('/api/v1/approvals', { params: { query: { tenantId, status, pageSize: 100 } } }),
      ),
    [tenantId, status],
  );
  const base = `/t/${enc(tenantId)}/changes`;
  return (
    <section>
      <div class="page-head">
        <h1>Change requests</h1>
      </div>
      {created ? (
        <p class="ok" role="status">
          Change request <code>{created}</code> created; it applies once approved.
        </p>
      ) : null}
      <div class="tabs" role="group" aria-label="Status">
        {STATUSES.map((s) => (
          <button
            key={s}
            type="button"
            aria-pressed={s === status}
            onClick={() => navigate(`${base}?status=${s}`)}
          >
            {s}
          </button>
        ))}
      </div>
      <ProblemBanner error={list.error} />
      {!list.data ? (
        list.error ? null : (
          <Loading what="change requests" />
        )
      ) : list.data.items.length === 0 ? (
        <Empty>
          <p>No {status.toLowerCase()} change requests.</p>
        </Empty>
      ) : (
        <ul class="cards">
          {list.data.items.map((cr) => (
            <Request key={cr.approvalId} session={session} cr={cr} onDone={list.reload} />
          ))}
        </ul>
      )}
    </section>
  );
}

function Request({
  session,
  cr,
  onDone,
}: {
  session: Session;
  cr: ChangeRequest;
  onDone: () => void;
}) {
  const [comments, setComments] = useState('');
  const action = useAction();
  const mine = cr.requestedBy === session.userId;
  const already = cr.approvers.some((a) => a.userId === session.userId);
  const approver = can(session, cr.tenantId, 'approve', cr.targetEnvironment);
  const reason = mine
    ? 'You made this request: someone else must approve it'
    : !approver
      ? 'Your role cannot approve changes here'
      : already
        ? 'You approved it already'
        : null;
  const review = (what: 'approve' | 'reject' | 'cancel') =>
    action.run(async () => {
      const path = {
        params: { path: { approvalId: cr.approvalId } },
        body: { comments: comments || null },
      };
      if (what === 'approve')
        await unwrap(api.POST('/api/v1/approvals/{approvalId}/approve', path));
      else if (what === 'reject')
        await unwrap(api.POST('/api/v1/approvals/{approvalId}/reject', path));
      else await unwrap(api.POST('/api/v1/approvals/{approvalId}/cancel', path));
      onDone();
    });
  const idBase = `cr-${cr.approvalId}`;
  return (
    <li class="card" data-approval={cr.approvalId}>
      <div class="card-head">
        <h2>
          {cr.action === 'Delete' ? 'Delete ' : ''}
          <span class="key">{cr.key ?? cr.configId}</span> <span class="muted">in</span>{' '}
          {cr.targetEnvironment}
        </h2>
        <Badge kind={cr.status === 'Pending' ? 'warn' : cr.status === 'Approved' ? 'ok' : 'danger'}>
          {cr.status}
        </Badge>
      </div>
      <dl class="facts">
        <dt>Requested by</dt>
        <dd>
          {cr.requestedBy} <Time iso={cr.createdAt} />
        </dd>
        {cr.changeDescription ? (
          <>
            <dt>Why</dt>
            <dd>{cr.changeDescription}</dd>
          </>
        ) : null}
        {cr.action === 'Update' ? (
          <>
            <dt>Value</dt>
            <dd>
              <code class="old">{cr.currentValue ?? '(new key)'}</code> →{' '}
              <code class="new">{cr.proposedValue}</code>
            </dd>
            <dt>Roll-out</dt>
            <dd>
              {cr.rollout?.strategy === 'Canary'
                ? `canary ${cr.rollout.steps.join(' → ')} %, ${cr.rollout.bakeTimeSeconds} s per step`
                : 'at once'}
            </dd>
          </>
        ) : null}
        <dt>Approvals</dt>
        <dd>
          {cr.currentApprovalLevel} of {cr.requiredApprovalLevel}
          {cr.approvers.map((a) => (
            <div key={a.userId} class="small">
              {a.userId}: {a.comments ?? 'approved'} (<Time iso={a.at} />)
            </div>
          ))}
        </dd>
        {cr.status === 'Pending' ? (
          <>
            <dt>Expires</dt>
            <dd>
              <Time iso={cr.expiresAt} />
            </dd>
          </>
        ) : (
          <>
            <dt>Resolved</dt>
            <dd>
              {cr.resolvedBy ?? '—'} <Time iso={cr.resolvedAt} /> {cr.resolvedComments ?? ''}
            </dd>
          </>
        )}
        {cr.deploymentId ? (
          <>
            <dt>Deployment</dt>
            <dd>
              <a href={`#/t/${enc(cr.tenantId)}/d/${enc(cr.deploymentId)}`}>{cr.deploymentId}</a>
            </dd>
          </>
        ) : null}
      </dl>
      {cr.status === 'Pending' ? (
        <div class="review">
          <label for={`${idBase}-comments`}>Comment</label>
          <input
            id={`${idBase}-comments`}
            value={comments}
            onInput={(e) => setComments((e.target as HTMLInputElement).value)}
          />
          <ProblemBanner error={action.error} />
          <div class="actions">
            {mine ? (
              <button type="button" disabled={action.busy} onClick={() => void review('cancel')}>
                Cancel request
              </button>
            ) : null}
            <button
              type="button"
              class="danger"
              disabled={!!reason || action.busy}
              title={reason ?? undefined}
              aria-describedby={reason ? `${idBase}-why` : undefined}
              onClick={() => void review('reject')}
            >
              Reject
            </button>
            <button
              type="button"
              class="primary"
              disabled={!!reason || action.busy}
              title={reason ?? undefined}
              aria-describedby={reason ? `${idBase}-why` : undefined}
              onClick={() => void review('approve')}
            >
              Approve
            </button>
          </div>
          {reason ? (
            <p id={`${idBase}-why`} class="help why">
              {reason}.
            </p>
          ) : null}
        </div>
      ) : null}
    </li>
  );
}
