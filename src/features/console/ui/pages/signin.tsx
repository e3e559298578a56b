/** Sign in by pasting a token (or following `npm run token -- --console`'s link). */
import { useEffect, useState } from 'preact/hooks';
import { api, unwrap, useToken } from '../api';
import { saveSession, type Session } from '../session';
import { ProblemBanner, useAction, useAsync } from '../components';
import { consoleSettings, finishSignIn, startSignIn } from '../oidc';

export function SignIn({ path, onSignedIn }: { path: string; onSignedIn: (s: Session) => void }) {
  const params = new URLSearchParams(path.split('?')[1] ?? '');
  const [token, setToken] = useState('');
  const action = useAction();

  // The API says who the credential is (and refuses one it does not accept, here and not later).
  const signIn = (raw: string) =>
    action.run(async () => {
      const credential = raw.trim().replace(/^Bearer\s+/i, '');
      useToken(credential, () => undefined);
      const me = await unwrap(api.GET('/api/v1/session'));
      const expiresAt = me.expiresAt ? Date.parse(me.expiresAt) : Number.MAX_SAFE_INTEGER;
      const session: Session = { ...me, token: credential, expiresAt };
      saveSession(session);
      onSignedIn(session);
    });

  // A link with the token in the fragment (never sent to the server): sign in, then forget it.
  const linked = params.get('token');
  useEffect(() => {
    if (linked) {
      history.replaceState(null, '', `${location.pathname}#/signin`);
      void signIn(linked);
    }
  }, [linked]);

  // Back from the identity provider: exchange the code, then sign in with its token.
  const settings = useAsync(consoleSettings, []);
  useEffect(() => {
    void action.run(async () => {
      const token = await finishSignIn();
      if (token) await signIn(token);
    });
  }, []);
  const oidc = settings.data?.oidc;

  return (
    <main id="main" class="signin">
      <h1>Config Service console</h1>
      {params.get('expired') ? (
        <p class="notice" role="status">
          Your session ended (the token expired or was refused). Sign in again.
        </p>
      ) : null}
      {oidc ? (
        <>
          <button
            type="button"
            class="primary sso"
            disabled={action.busy}
            onClick={() => void action.run(() => startSignIn(oidc))}
          >
            Sign in with your identity provider
          </button>
          <p class="help">{new URL(oidc.authority).host}, or paste a token below.</p>
        </>
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void signIn(token);
        }}
      >
        <label for="token">Access token</label>
        <textarea
          id="token"
          rows={5}
          value={token}
          spellcheck={false}
          autocomplete="off"
          aria-invalid={!!action.error}
          aria-describedby="token-help"
          onInput={(e) => setToken((e.target as HTMLTextAreaElement).value)}
        />
        <p id="token-help" class="help">
          Paste a bearer token. For local use,{' '}
          <code>npm run token -- --console --sub you --role editor --tenant acme</code> prints a
          link that signs you in. The token stays in this tab only.
        </p>
        <ProblemBanner error={action.error} />
        <button type="submit" class="primary" disabled={action.busy || !token.trim()}>
          {action.busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
