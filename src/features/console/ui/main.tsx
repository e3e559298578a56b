/** The console: sign-in, the layout and the page for each address (hash routes). */
import './styles.css';
import './pages.css';
import { render, type ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { useToken } from './api';
import {
  clearSession,
  homeOf,
  isPlatformAdmin,
  loadSession,
  rolesOf,
  type Session,
} from './session';
import { enc, navigate, useRoute } from './components';
import { SignIn } from './pages/signin';
import { Tenants } from './pages/tenants';
import { ConfigGrid, NewConfig } from './pages/configs';
import { ConfigDetail } from './pages/config';
import { ChangeRequests } from './pages/changes';
import { DeploymentDetail, Deployments } from './pages/deployments';
import { AuditLog } from './pages/audit';
import { TimeTravel } from './pages/time-travel';

function App() {
  const [session, setSession] = useState<Session | null>(loadSession);
  const path = useRoute();
  const signOut = (why?: string) => {
    clearSession();
    setSession(null);
    navigate(why ? `/signin?expired=1` : '/signin');
  };
  if (session) useToken(session.token, () => signOut('expired'));

  useEffect(() => {
    if (!session && !path.startsWith('/signin')) navigate('/signin');
    if (session && (path === '/' || path === '')) {
      navigate(homeOf(session));
    }
  }, [session, path]);

  if (path.startsWith('/signin') || !session) {
    return (
      <SignIn
        path={path}
        onSignedIn={(s) => {
          useToken(s.token, () => signOut('expired'));
          setSession(s);
          navigate(homeOf(s));
        }}
      />
    );
  }
  const [, first, tenant = '', section = '', id = ''] = path.split('?')[0]!.split('/');
  const tenantId = decodeURIComponent(tenant);
  let page: ComponentChildren;
  if (first === 'tenants') page = <Tenants session={session} />;
  else if (first === 't' && tenantId) {
    const props = { session, tenantId };
    if (section === 'configs' && id === 'new') page = <NewConfig {...props} path={path} />;
    else if (section === 'configs') page = <ConfigGrid {...props} />;
    else if (section === 'c')
      page = <ConfigDetail key={id} {...props} configId={decodeURIComponent(id)} />;
    else if (section === 'changes') page = <ChangeRequests {...props} path={path} />;
    else if (section === 'deployments') page = <Deployments {...props} />;
    else if (section === 'd') {
      page = <DeploymentDetail key={id} {...props} deploymentId={decodeURIComponent(id)} />;
    } else if (section === 'audit') page = <AuditLog {...props} />;
    else if (section === 'time-travel') page = <TimeTravel {...props} />;
  }
  return (
    <Layout
      session={session}
      tenantId={first === 't' ? tenantId : null}
      section={section}
      onSignOut={() => signOut()}
    >
      {page ?? (
        <section>
          <h1>Not found</h1>
          <p>
            There is no page at <code>{path}</code>. <a href="#/">Go to the start page</a>.
          </p>
        </section>
      )}
    </Layout>
  );
}

/** Pages of a tenant that make sense for any tenant (the tenant switcher keeps them). */
const TENANT_PAGES = ['configs', 'changes', 'deployments', 'audit', 'time-travel'];

function Layout(props: {
  session: Session;
  tenantId: string | null;
  section: string;
  onSignOut: () => void;
  children: ComponentChildren;
}) {
  const { session, tenantId } = props;
  const tenant = tenantId ?? session.tenants[0]?.tenantId ?? null;
  const roles = rolesOf(session, tenant);
  const link = (section: string, label: string) => (
    <a
      href={`#/t/${enc(tenant ?? '')}/${section}`}
      aria-current={props.tenantId && props.section === section ? 'page' : undefined}
    >
      {label}
    </a>
  );
  return (
    <>
      <a
        class="skip"
        href="#main"
        onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}
      >
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="#/">
          Config Service
        </a>
        <nav aria-label="Main">
          {isPlatformAdmin(session) ? (
            <a href="#/tenants" aria-current={!props.tenantId ? 'page' : undefined}>
              Tenants
            </a>
          ) : null}
          {tenant ? (
            <>
              {link('configs', 'Configurations')}
              {link('changes', 'Change requests')}
              {link('deployments', 'Deployments')}
              {link('audit', 'Audit log')}
              {link('time-travel', 'Time travel')}
            </>
          ) : null}
        </nav>
        <div class="who">
          {!isPlatformAdmin(session) && session.tenants.length > 1 ? (
            <select
              aria-label="Tenant"
              value={tenant ?? ''}
              onChange={(e) =>
                navigate(
                  `/t/${enc((e.target as HTMLSelectElement).value)}/${TENANT_PAGES.includes(props.section) ? props.section : 'configs'}`,
                )
              }
            >
              {session.tenants.map((t) => (
                <option key={t.tenantId} value={t.tenantId}>
                  {t.tenantId}
                </option>
              ))}
            </select>
          ) : tenant ? (
            <span class="tenant-name">{tenant}</span>
          ) : null}
          <span title={`Roles: ${roles.join(', ')}`}>
            {session.userId} <span class="muted">({roles.join(', ')})</span>
          </span>
          <button type="button" onClick={props.onSignOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {props.children}
      </main>
    </>
  );
}

const root = document.getElementById('app')!;
root.textContent = ''; // the "Loading" line of the page
render(<App />, root);
// When the first page became usable (read by the browser test, shown in devtools' timings).
performance.mark('console:interactive');
