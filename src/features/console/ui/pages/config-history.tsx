/**
 * A configuration's history: every version with who, when, IP and trace id, a side-by-side diff
 * of the chosen change, and roll back to any version (with a confirmation).
 */
import { useMemo, useState } from 'preact/hooks';
import { api, unwrap, type Config, type Version } from '../api';
import { can, type Session } from '../session';
import { ConfirmButton, Loading, ProblemBanner, Time, useAction } from '../components';
import { diffLines, linesOf } from '../diff';

export function History(props: {
  session: Session;
  config: Config;
  required: number;
  versions: Version[] | undefined;
  error: unknown;
  onDone: () => void;
}) {
  const { config: c, versions } = props;
  const [selected, setSelected] = useState<number | null>(null);
  const action = useAction();
  const shown = versions?.find((v) => v.version === selected) ?? versions?.[0];
  const rows = useMemo(
    () =>
      shown ? diffLines(linesOf(shown.previousValue, c.type), linesOf(shown.value, c.type)) : [],
    [shown, c.type],
  );
  const writer = can(props.session, c.tenantId, 'write', c.environment);
  const rollback = (version: number) =>
    action.run(async () => {
      await unwrap(
        api.POST('/api/v1/configs/{configId}/rollback', {
          params: { path: { configId: c.configId } },
          body: {
            version,
            expectedVersion: c.version,
            changeDescription: `roll back to version ${version}`,
          },
        }),
      );
      setSelected(null);
      props.onDone();
    });

  return (
    <section class="panel" aria-labelledby="history-title">
      <h2 id="history-title">History</h2>
      <ProblemBanner error={props.error ?? action.error} />
      {!versions ? (
        props.error ? null : (
          <Loading what="the history" />
        )
      ) : (
        <div class="history">
          <div class="table-scroll">
            <table aria-label="Versions">
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">Change</th>
                  <th scope="col">Value</th>
                  <th scope="col">By</th>
                  <th scope="col">When</th>
                  <th scope="col">IP / trace</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {versions.map((v) => (
                  <tr
                    key={v.version}
                    class={shown?.version === v.version ? 'selected' : ''}
                    data-version={v.version}
                  >
                    <td>
                      <button
                        type="button"
                        class="link"
                        aria-pressed={shown?.version === v.version}
                        onClick={() => setSelected(v.version)}
                      >
                        v{v.version}
                      </button>
                    </td>
                    <td>
                      {v.changeType}
                      {v.changeDescription ? (
                        <div class="muted small">{v.changeDescription}</div>
                      ) : null}
                    </td>
                    <td class="value">{v.value}</td>
                    <td>{v.changedBy}</td>
                    <td>
                      <Time iso={v.createdAt} />
                    </td>
                    <td class="small">
                      {v.ipAddress ?? '—'}
                      <div class="muted mono">{v.traceId ?? ''}</div>
                    </td>
                    <td>
                      {v.version !== c.version && v.changeType !== 'Deleted' ? (
                        <ConfirmButton
                          label={`Roll back to v${v.version}`}
                          title={`Roll back ${c.key} to version ${v.version}?`}
                          message={
                            <p>
                              This makes version {c.version + 1} with the value of version{' '}
                              {v.version}: <code>{v.value}</code>
                            </p>
                          }
                          confirmLabel="Roll back"
                          disabled={!writer || action.busy || props.required > 0 || c.deleted}
                          disabledReason={
                            props.required > 0
                              ? `${c.environment} needs approval: request the old value as a change instead`
                              : 'Your role cannot change configurations'
                          }
                          onConfirm={() => void rollback(v.version)}
                        />
                      ) : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {shown ? (
            <figure class="diff" aria-label={`Changes in version ${shown.version}`}>
              <figcaption>
                Version {shown.version}: {shown.changeType} by {shown.changedBy}
              </figcaption>
              <table>
                <thead>
                  <tr>
                    <th scope="col">Before{shown.version > 1 ? ` (v${shown.version - 1})` : ''}</th>
                    <th scope="col">After (v{shown.version})</th>
                  </tr>
                </thead>
                <tbody>
                  {rows.length === 0 ? (
                    <tr>
                      <td colSpan={2} class="muted">
                        No value
                      </td>
                    </tr>
                  ) : (
                    rows.map((r, i) => (
                      <tr key={i} class={`diff-${r.kind}`}>
                        <td class="old">{r.left ?? ''}</td>
                        <td class="new">{r.right ?? ''}</td>
                      </tr>
                    ))
                  )}
                </tbody>
              </table>
            </figure>
          ) : null}
        </div>
      )}
    </section>
  );
}
