/**
 * A configuration's editor: its value, type-aware (switch, number, JSON with parse and schema
 * errors inline), saved directly, as a change request where the environment needs approval, or
 * rolled out as a canary; delete and restore.
 */
import { useState } from 'preact/hooks';
import { ApiProblem, api, unwrap, type Config } from '../api';
import { can, type Session } from '../session';
import {
  ConfirmButton,
  ProblemBanner,
  ValueEditor,
  editorText,
  enc,
  navigate,
  typedValue,
  useAction,
} from '../components';

/** What a sensitive value reads as until it is revealed. */
export const MASK = '********';

export function Editor(props: {
  session: Session;
  config: Config;
  required: number;
  onDone: () => void;
  onSaved: (notice: string | null) => void;
}) {
  const { session, config: c, required } = props;
  const [text, setText] = useState(
    c.isSensitive && c.value === MASK ? '' : editorText(c.type, c.value),
  );
  // A secret is not on screen until asked for (someone may be looking over a shoulder).
  const [revealed, setRevealed] = useState(!c.isSensitive || c.value === MASK);
  const [description, setDescription] = useState('');
  const [strategy, setStrategy] = useState<'Direct' | 'Canary'>('Direct');
  const [steps, setSteps] = useState('10, 50, 100');
  const [bake, setBake] = useState('300');
  const action = useAction();
  const writer = can(session, c.tenantId, 'write', c.environment);
  const tenant = enc(c.tenantId);

  const rollout = () =>
    strategy === 'Canary'
      ? {
          strategy: 'Canary' as const,
          steps: steps.split(',').map((s) => Number(s.trim())),
          bakeTimeSeconds: Number(bake),
        }
      : { strategy: 'Direct' as const };

  const save = () =>
    action.run(async () => {
      props.onSaved(null);
      const parsed = typedValue(c.type, text);
      if ('error' in parsed) throw new Error(parsed.error);
      if (required > 0) {
        const cr = await unwrap(
          api.POST('/api/v1/approvals', {
            body: {
              configId: c.configId,
              value: parsed.value,
              description: description || null,
              rollout: rollout(),
            },
          }),
        );
        navigate(`/t/${tenant}/changes?created=${enc(cr.approvalId)}`);
      } else if (strategy === 'Canary') {
        const d = await unwrap(
          api.POST('/api/v1/deployments', {
            body: {
              configId: c.configId,
              value: parsed.value,
              expectedVersion: c.version,
              ...rollout(),
            },
          }),
        );
        navigate(`/t/${tenant}/d/${enc(d.deploymentId)}`);
      } else {
        const result = await unwrap(
          api.PUT('/api/v1/configs/{configId}', {
            params: { path: { configId: c.configId }, header: { 'If-Match': `"${c.version}"` } },
            body: { value: parsed.value, changeDescription: description || null },
          }),
        );
        props.onSaved(result.position ? `Saved as version ${result.version}.` : 'Nothing changed.');
        props.onDone();
      }
    });

  const remove = () =>
    action.run(async () => {
      if (required > 0) {
        const cr = await unwrap(
          api.POST('/api/v1/approvals', {
            body: { configId: c.configId, action: 'Delete', description: description || 'delete' },
          }),
        );
        navigate(`/t/${tenant}/changes?created=${enc(cr.approvalId)}`);
        return;
      }
      await unwrap(
        api.DELETE('/api/v1/configs/{configId}', { params: { path: { configId: c.configId } } }),
      );
      props.onDone();
    });

  const restore = () =>
    action.run(async () => {
      await unwrap(
        api.POST('/api/v1/configs/{configId}/restore', {
          params: { path: { configId: c.configId } },
        }),
      );
      props.onDone();
    });

  const schemaError =
    action.error instanceof ApiProblem && action.error.problem.schemaErrors?.length
      ? `Does not match schema ${action.error.problem.schemaId} v${action.error.problem.schemaVersion}: ` +
        action.error.problem.schemaErrors
          .map((e) => `${e.path || '/'} ${e.message ?? ''}`)
          .join('; ')
      : undefined;

  return (
    <form
      class="panel form"
      aria-label="Change the value"
      onSubmit={(e) => {
        e.preventDefault();
        void save();
      }}
    >
      <h2>Value</h2>
      {c.isSensitive && c.value === MASK ? (
        <p class="help">The value is sensitive and not shown; enter a new one to replace it.</p>
      ) : null}
      <label for="value">Value ({c.type})</label>
      {!revealed ? (
        <p>
          <code>{MASK}</code>{' '}
          <button type="button" onClick={() => setRevealed(true)}>
            Show and edit the sensitive value
          </button>
        </p>
      ) : null}
      <ValueEditor
        hidden={!revealed}
        id="value"
        type={c.type}
        text={text}
        disabled={!writer || c.deleted}
        onChange={setText}
        serverError={schemaError}
      />
      <label for="change-description">Why (change description)</label>
      <input
        id="change-description"
        value={description}
        disabled={!writer}
        onInput={(e) => setDescription((e.target as HTMLInputElement).value)}
      />
      <fieldset class="rollout" disabled={!writer || c.deleted}>
        <legend>Roll out</legend>
        <label class="inline">
          <input
            type="radio"
            name="strategy"
            checked={strategy === 'Direct'}
            onChange={() => setStrategy('Direct')}
          />{' '}
          at once
        </label>
        <label class="inline">
          <input
            type="radio"
            name="strategy"
            checked={strategy === 'Canary'}
            onChange={() => setStrategy('Canary')}
          />{' '}
          as a canary
        </label>
        {strategy === 'Canary' ? (
          <div class="row">
            <label>
              Steps (%)
              <input
                value={steps}
                onInput={(e) => setSteps((e.target as HTMLInputElement).value)}
              />
            </label>
            <label>
              Bake time (s)
              <input
                type="number"
                min={1}
                value={bake}
                onInput={(e) => setBake((e.target as HTMLInputElement).value)}
              />
            </label>
          </div>
        ) : null}
      </fieldset>
      {required > 0 ? (
        <p class="notice">
          {c.environment} needs {required} approval(s): saving creates a change request.
        </p>
      ) : null}
      <ProblemBanner error={schemaError ? null : action.error} />
      <div class="actions">
        {c.deleted ? (
          <button
            type="button"
            disabled={!writer || action.busy || required > 0}
            onClick={() => void restore()}
            title={required > 0 ? 'Request an Update with the value it should have' : undefined}
          >
            Restore
          </button>
        ) : (
          <>
            <ConfirmButton
              label="Delete"
              title={`Delete ${c.key}?`}
              message={
                required > 0
                  ? `${c.environment} needs approval: this creates a change request to delete it.`
                  : 'Apps stop getting it; it can be restored.'
              }
              danger
              disabled={!writer || action.busy}
              disabledReason="Your role cannot change configurations"
              onConfirm={() => void remove()}
            />
            <button
              type="submit"
              class="primary"
              disabled={!writer || action.busy}
              title={writer ? undefined : 'Your role cannot change configurations'}
            >
              {required > 0 ? 'Request change' : strategy === 'Canary' ? 'Start canary' : 'Save'}
            </button>
          </>
        )}
      </div>
    </form>
  );
}
