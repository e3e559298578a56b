/**
 * One configuration's page: its facts, kept current by the apps' event stream, the editor
 * (config-editor.tsx) and the history (config-history.tsx).
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, unwrap } from '../api';
import type { Session } from '../session';
import { Badge, Loading, ProblemBanner, enc, useAsync } from '../components';
import { watchEnvironment } from '../live';
import { approvalPolicy } from './configs';
import { Editor } from './config-editor';
import { History } from './config-history';

interface Props {
  session: Session;
  tenantId: string;
  configId: string;
}

export function ConfigDetail({ session, tenantId, configId }: Props) {
  const config = useAsync(
    () => unwrap(api.GET('/api/v1/configs/{configId}', { params: { path: { configId } } })),
    [configId],
  );
  const versions = useAsync(
    () =>
      unwrap(
        api.GET('/api/v1/configs/{configId}/versions', {
          params: { path: { configId }, query: { pageSize: 200 } },
        }),
      ),
    [configId],
  );
  const policy = useAsync(() => approvalPolicy(tenantId), [tenantId]);
  const c = config.data;
  const [notice, setNotice] = useState<string | null>(null);

  // Live: another change to this key reloads the page's data.
  const version = useRef(0);
  version.current = c?.version ?? 0;
  const { reload: reloadConfig } = config;
  const { reload: reloadVersions } = versions;
  useEffect(() => {
    if (!c) return;
    return watchEnvironment(c.tenantId, c.environment, (snapshot) => {
      const v = snapshot.versions?.[c.key];
      if (v !== undefined && v !== version.current) {
        expected.current = { version: v, retries: 0 };
        reloadConfig();
        reloadVersions();
      }
    });
  }, [c?.tenantId, c?.environment, c?.key]);
  // The stream can be ahead of the read tables: read again until they have caught up.
  const expected = useRef<{ version: number; retries: number } | null>(null);
  useEffect(() => {
    const want = expected.current;
    if (!c || config.loading || !want) return;
    if (c.version >= want.version || want.retries++ >= 40) {
      expected.current = null;
      return;
    }
    const timer = setTimeout(() => {
      reloadConfig();
      reloadVersions();
    }, 250);
    return () => clearTimeout(timer);
  }, [c, config.loading]);

  if (!c) {
    return (
      <section>
        <ProblemBanner error={config.error} />
        {config.error ? null : <Loading what="the configuration" />}
      </section>
    );
  }
  const required = policy.data?.[c.environment] ?? 0;
  const reload = () => {
    reloadConfig();
    reloadVersions();
  };
  return (
    <section>
      <p class="crumbs">
        <a href={`#/t/${enc(tenantId)}/configs`}>Configurations</a> /
      </p>
      <div class="page-head">
        <h1>
          <span class="key">{c.key}</span> <span class="muted">in</span> {c.environment}
        </h1>
        <div>
          <Badge>{c.type}</Badge> <Badge>v{c.version}</Badge>
          {c.deleted ? <Badge kind="danger">deleted</Badge> : null}
          {c.isSensitive ? <Badge kind="warn">sensitive</Badge> : null}
          {required > 0 ? <Badge kind="warn">{required} approval(s) needed</Badge> : null}
        </div>
      </div>
      {c.description ? <p>{c.description}</p> : null}
      {c.tags.length ? (
        <p>
          {c.tags.map((t) => (
            <Badge key={t}>{t}</Badge>
          ))}
        </p>
      ) : null}
      {c.activeDeploymentId ? (
        <p class="notice">
          A deployment is rolling out a new value:{' '}
          <a href={`#/t/${enc(tenantId)}/d/${enc(c.activeDeploymentId)}`}>follow it</a>. Direct
          changes wait until it ends.
        </p>
      ) : null}
      {notice ? (
        <p class="ok" role="status">
          {notice}
        </p>
      ) : null}
      <Editor
        key={`${c.configId}:${c.version}:${c.deleted}`}
        onSaved={setNotice}
        session={session}
        config={c}
        required={required}
        onDone={reload}
      />
      <History
        session={session}
        config={c}
        required={required}
        versions={versions.data?.items}
        error={versions.error}
        onDone={reload}
      />
    </section>
  );
}
