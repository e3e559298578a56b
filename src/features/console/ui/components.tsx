/** Shared pieces: loading and error states, the value editor, confirmations, the hash router. */
import type { ComponentChildren, JSX } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiProblem, type ConfigType } from './api';

// --- routing (the hash: the server serves one page, and links survive reloads) ---

export function currentPath(): string {
  return location.hash.replace(/^#/, '') || '/';
}

export function useRoute(): string {
  const [path, setPath] = useState(currentPath);
  useEffect(() => {
    const update = () => setPath(currentPath());
    addEventListener('hashchange', update);
    return () => removeEventListener('hashchange', update);
  }, []);
  return path;
}

export function navigate(path: string): void {
  location.hash = path;
}

export const enc = encodeURIComponent;

// --- loading ---

export interface Async<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
}

/** Runs `load` when `deps` change (and on reload); keeps the last data while reloading. */
export function useAsync<T>(load: () => Promise<T>, deps: unknown[]): Async<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({
    loading: true,
  });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let current = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => current && setState({ data, loading: false }),
      (error: unknown) => current && setState((s) => ({ data: s.data, error, loading: false })),
    );
    return () => {
      current = false;
    };
  }, [...deps, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { data: state.data, error: state.error, loading: state.loading, reload };
}

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

/** A problem from the API (or any error), with the fields it names. */
export function ProblemBanner({ error }: { error: unknown }) {
  if (!error) return null;
  if (!(error instanceof ApiProblem)) {
    return (
      <div class="problem" role="alert">
        <strong>Something went wrong.</strong> {String((error as Error)?.message ?? error)}
      </div>
    );
  }
  const p = error.problem;
  return (
    <div class="problem" role="alert">
      <strong>{p.title}</strong> {p.detail}
      {p.field && !p.errors?.length ? <span class="field"> ({p.field})</span> : null}
      {p.errors?.length ? (
        <ul>
          {p.errors.map((e) => (
            <li key={e.field}>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      ) : null}
      {p.schemaErrors?.length ? (
        <ul>
          {p.schemaErrors.map((e, i) => (
            <li key={i}>
              <code>{e.path || '/'}</code> {e.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}

/** Runs an action, keeping its error and a busy flag for the button. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(async (action: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
      return true;
    } catch (e) {
      setError(e);
      return false;
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}

// --- bits ---

export function Time({ iso }: { iso: string | null | undefined }) {
  if (!iso) return <span class="muted">—</span>;
  const d = new Date(iso);
  return (
    <time dateTime={iso} title={d.toISOString()}>
      {d.toLocaleString()}
    </time>
  );
}

export function Badge({ kind, children }: { kind?: string; children: ComponentChildren }) {
  return <span class={`badge ${kind ? `badge-${kind}` : ''}`}>{children}</span>;
}

export function Switch(props: {
  id?: string;
  checked: boolean;
  label: string;
  disabled?: boolean;
  onChange: (v: boolean) => void;
}) {
  return (
    <label class="switch">
      <input
        id={props.id}
        type="checkbox"
        role="switch"
        checked={props.checked}
        disabled={props.disabled}
        aria-checked={props.checked}
        onChange={(e) => props.onChange((e.target as HTMLInputElement).checked)}
      />
      <span class="track" aria-hidden="true" />
      <span>{props.label}</span>
    </label>
  );
}

/** A button that asks first (a modal dialog: Escape or Cancel closes it). */
export function ConfirmButton(props: {
  label: string;
  title: string;
  message: ComponentChildren;
  confirmLabel?: string;
  danger?: boolean;
  disabled?: boolean;
  disabledReason?: string;
  onConfirm: () => void;
  children?: ComponentChildren;
}) {
  const dialog = useRef<HTMLDialogElement>(null);
  return (
    <>
      <button
        type="button"
        class={props.danger ? 'danger' : ''}
        disabled={props.disabled}
        title={props.disabled ? props.disabledReason : undefined}
        onClick={() => dialog.current?.showModal()}
      >
        {props.label}
      </button>
      <dialog ref={dialog} aria-label={props.title}>
        <form
          method="dialog"
          onSubmit={(e) => {
            const submitter = (e as SubmitEvent).submitter as HTMLButtonElement | null;
            if (submitter?.value === 'confirm') props.onConfirm();
          }}
        >
          <h2>{props.title}</h2>
          <div>{props.message}</div>
          {props.children}
          <div class="actions">
            <button value="cancel" type="submit">
              Cancel
            </button>
            <button value="confirm" type="submit" class={props.danger ? 'danger' : 'primary'}>
              {props.confirmLabel ?? props.label}
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}

// --- values ---

/** The text of a value as the API lists it → what the editor holds. */
export function editorText(type: ConfigType, value: string): string {
  if (type === 'JSON') {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return value;
}

export type JsonValue = string | number | boolean | unknown[] | { [key: string]: unknown };

/** The editor's text → the typed value the API takes, or why it is not one. */
export function typedValue(
  type: ConfigType,
  text: string,
): { value: JsonValue } | { error: string } {
  switch (type) {
    case 'Boolean':
      return { value: text === 'true' };
    case 'Integer': {
      const n = Number(text);
      return text.trim() !== '' && Number.isInteger(n)
        ? { value: n }
        : { error: 'Enter a whole number' };
    }
    case 'Number': {
      const n = Number(text);
      return text.trim() !== '' && Number.isFinite(n) ? { value: n } : { error: 'Enter a number' };
    }
    case 'JSON':
      try {
        return { value: JSON.parse(text) as JsonValue };
      } catch (e) {
        return { error: `Not valid JSON: ${(e as Error).message}` };
      }
    default:
      return { value: text };
  }
}

/** A type-aware editor: a switch for booleans, number fields, a JSON area with its errors. */
export function ValueEditor(props: {
  id: string;
  type: ConfigType;
  text: string;
  disabled?: boolean;
  hidden?: boolean;
  onChange: (text: string) => void;
  /** An error from the server about the value (schema), shown under it. */
  serverError?: ComponentChildren;
}) {
  const { id, type, text } = props;
  const parsed = typedValue(type, text);
  const localError = 'error' in parsed && text !== '' ? parsed.error : null;
  const errorId = `${id}-error`;
  const describedBy = localError || props.serverError ? errorId : undefined;
  let field: JSX.Element;
  if (type === 'Boolean') {
    field = (
      <Switch
        id={id}
        checked={text === 'true'}
        disabled={props.disabled}
        label={text === 'true' ? 'true' : 'false'}
        onChange={(v) => props.onChange(String(v))}
      />
    );
  } else if (type === 'Integer' || type === 'Number') {
    field = (
      <input
        id={id}
        type="number"
        step={type === 'Integer' ? 1 : 'any'}
        value={text}
        disabled={props.disabled}
        aria-invalid={!!localError}
        aria-describedby={describedBy}
        onInput={(e) => props.onChange((e.target as HTMLInputElement).value)}
      />
    );
  } else {
    field = (
      <textarea
        id={id}
        class={type === 'JSON' ? 'code' : ''}
        rows={type === 'JSON' ? Math.min(16, Math.max(4, text.split('\n').length + 1)) : 2}
        value={text}
        spellcheck={false}
        disabled={props.disabled}
        aria-invalid={!!localError}
        aria-describedby={describedBy}
        onInput={(e) => props.onChange((e.target as HTMLTextAreaElement).value)}
      />
    );
  }
  return (
    <div class="value-editor" hidden={props.hidden}>
      {field}
      {localError || props.serverError ? (
        <div id={errorId} class="field-error" role="alert">
          {localError ?? props.serverError}
        </div>
      ) : null}
    </div>
  );
}

export const TYPES: ConfigType[] = ['String', 'Boolean', 'Integer', 'Number', 'JSON'];

/** Environments in the usual order, then the others by name. */
const KNOWN_ENVIRONMENTS = ['Development', 'Staging', 'Production'];
export function sortEnvironments(envs: Iterable<string>): string[] {
  const rank = (e: string) => {
    const i = KNOWN_ENVIRONMENTS.indexOf(e);
    return i < 0 ? KNOWN_ENVIRONMENTS.length : i;
  };
  return [...new Set(envs)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
