/**
 * What promote and import share: the service answers both with a change-set outcome (a dry run,
 * applied at once, one change request awaiting approval, or nothing to do), and refuses both
 * whole, naming each key (and line) that does not fit.
 */
import type { Context } from '../context.js';
import { ApiError, CliError, EXIT } from '../errors.js';
import { table } from '../format.js';

export interface ChangeSetOutcome {
  outcome: 'DryRun' | 'Applied' | 'Pending' | 'Unchanged';
  summary: { create: number; update: number; unchanged: number };
  items: { key: string; action: 'Create' | 'Update' | 'Unchanged'; version: number | null }[];
  changeSet: {
    changeSetId: string;
    environment: string;
    requiredApprovals: number;
    items: unknown[];
  } | null;
  position: string;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** `6 to create, 0 to update, 1 unchanged, 0 errors` (a dry run) or `6 created, …` (done). */
export function summaryLine(o: ChangeSetOutcome): string {
  const s = o.summary;
  return o.outcome === 'DryRun'
    ? `${s.create} to create, ${s.update} to update, ${s.unchanged} unchanged, 0 errors`
    : `${s.create} created, ${s.update} updated, ${s.unchanged} unchanged`;
}

/** The lines people read for an outcome; `what` says what was done (`promote Staging → QA`). */
export function outcomeLines(what: string, o: ChangeSetOutcome): string[] {
  const changed = o.items.filter((i) => i.action !== 'Unchanged');
  const keys = (indent: string, withVersion: boolean) =>
    changed.length
      ? table(
          withVersion ? ['KEY', 'ACTION', 'VERSION'] : ['KEY', 'ACTION'],
          changed.map((i) => (withVersion ? [i.key, i.action, i.version] : [i.key, i.action])),
        ).map((l) => indent + l)
      : [];
  switch (o.outcome) {
    case 'DryRun':
      return [`${what} (dry run): ${summaryLine(o)}; nothing written`, ...keys('', false)];
    case 'Unchanged':
      return [`${what}: nothing to change (${plural(o.summary.unchanged, 'key')} unchanged)`];
    case 'Applied':
      return [
        `${what}: ${summaryLine(o)} (change set ${o.changeSet?.changeSetId ?? '-'})`,
        ...keys('', true),
      ];
    case 'Pending': {
      const set = o.changeSet!;
      return [
        `${what}: became change request ${set.changeSetId} (${plural(set.items.length, 'key')}), ` +
          `awaiting ${plural(set.requiredApprovals, 'approval')} in ${set.environment}; nothing written yet`,
        `  approve it with: cfgctl approve ${set.changeSetId}`,
        ...keys('  ', false),
      ];
    }
  }
}

/**
 * Proposes with `send` and prints the outcome. A refusal naming keys (422) exits 5 with each
 * key on its own line, a stale one (409) exits 4; with --json their problem goes to stdout.
 */
export async function propose(
  ctx: Context,
  what: string,
  send: () => Promise<ChangeSetOutcome>,
): Promise<void> {
  let outcome: ChangeSetOutcome;
  try {
    outcome = await send();
  } catch (error) {
    if (!(error instanceof ApiError) || !error.problem) throw error;
    const refusedKeys = error.status === 422;
    if (!refusedKeys && error.exit !== EXIT.conflict) throw error;
    if (ctx.json) ctx.io.stdout.write(`${JSON.stringify(error.problem, null, 2)}\n`);
    if (!refusedKeys) throw error;
    const errors = problemErrors(error.problem);
    throw new CliError(
      `${what}: refused, ${plural(errors.length, 'error')}; nothing written`,
      EXIT.invalid,
      errors.map((e) => `  ${e}`),
    );
  }
  ctx.print(outcomeLines(what, outcome), outcome);
}

/** Each refusal of a problem: `errors[].message` (a key's names it and its line), else its detail. */
function problemErrors(p: Record<string, unknown>): string[] {
  const errors = Array.isArray(p.errors)
    ? (p.errors as { field?: string; message?: string }[])
    : [];
  const lines = errors.map((e) =>
    e.field && !/^line \d+:/.test(e.message ?? '') ? `${e.field}: ${e.message}` : String(e.message),
  );
  return lines.length ? lines : [String(p.detail ?? p.title ?? 'refused')];
}
