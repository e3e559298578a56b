/**
 * The tenants' config schemas: defining them (stream `schema-{tenantId}:{schemaId}`) and checking
 * values against them. Every command that writes a value to a configuration naming a schema asks
 * `check` first, against the schema's newest version; a new version is refused while a live
 * configuration's value would not match it, so no value in use is ever left invalid.
 */
import { Ajv as AjvDraft07 } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { EventStore } from '../../core/event-store/event-store.js';
import { DomainError } from '../../core/domain-error.js';
import {
  evolveConfiguration,
  isVersioned,
  type ConfigurationEvent,
  type ConfigurationState,
} from '../configs/config.decider.js';
import { schemaDecider, type SchemaState } from './config-schema.decider.js';
import { requireActiveTenant, tenantDecider } from '../tenants/tenant.decider.js';
import { typedValue, type ConfigType } from '../configs/config-values.js';
import type { CommandContext, CommandResult } from '../../core/commands/command-handling.js';
import { CommandHandler } from '../../core/commands/command-handler.js';
import { schemaStream, tenantStream } from '../../core/streams.js';
import type { Validator } from './schema-what-if.js';

/**
 * A value in use under a schema: a live configuration's value (and default), or the value a
 * running or paused deployment of such a configuration is rolling out.
 */
export interface SchemaUse {
  configId: string;
  key: string;
  environment: string;
  type: ConfigType;
  value: string;
  defaultValue: string | null;
  /** Set when `value` is a deployment's, not yet the configuration's. */
  deploymentId: string | null;
}

const errorsOf = (errors: ErrorObject[] | null | undefined) =>
  (errors ?? []).slice(0, 20).map((e) => ({ path: e.instancePath || '/', message: e.message }));

const describe = (errors: { path: string; message?: string }[]) =>
  errors.map((e) => `${e.path} ${e.message ?? 'is invalid'}`).join('; ');

/** A new validator; throws 422 naming `schema` if the document is not a usable JSON Schema. */
export function compileSchema(schema: unknown): ValidateFunction {
  // One instance per document: a document's `$id` must not clash with another tenant's. The
  // dialect follows its `$schema` (draft-07, 2019-09; 2020-12 when it names none).
  const dialect =
    typeof schema === 'object' && schema !== null
      ? String((schema as { $schema?: unknown }).$schema ?? '')
      : '';
  const options = { allErrors: true, strict: false, validateFormats: false } as const;
  const ajv = /draft-0[4-7]/.test(dialect)
    ? new AjvDraft07(options)
    : /2019-09/.test(dialect)
      ? new Ajv2019(options)
      : new Ajv2020(options);
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(schema as object);
  } catch (error) {
    throw new DomainError(
      'validation',
      `schema is not a valid JSON Schema: ${(error as Error).message}`,
      'schema',
    );
  }
  // An $async schema validates through a promise: a plain check would pass every value.
  if ((validate as { $async?: boolean }).$async) {
    throw new DomainError('validation', 'schema must not be $async', 'schema');
  }
  return validate;
}

/** The schema as a what-if validator (schema-what-if.ts): its errors as path and message. */
export function validatorOf(schema: unknown): Validator {
  const validate = compileSchema(schema);
  return (typed) =>
    validate(typed)
      ? null
      : errorsOf(validate.errors).map((e) => ({
          path: e.path,
          message: e.message ?? 'is invalid',
        }));
}

export class SchemaRegistry {
  /** Compiled validators by stream, for the version they were compiled from. */
  private readonly compiled = new Map<string, { version: number; validate: ValidateFunction }>();

  private readonly handler: CommandHandler;

  constructor(
    store: EventStore,
    /** Live configurations naming the schema (the read model: what is in use). */
    private readonly usedBy: (tenantId: string, schemaId: string) => Promise<SchemaUse[]>,
  ) {
    this.handler = new CommandHandler(store);
  }

  private validatorFor(stream: string, state: Extract<SchemaState, { exists: true }>) {
    const cached = this.compiled.get(stream);
    if (cached && cached.version === state.version) return cached.validate;
    const validate = compileSchema(state.schema);
    if (this.compiled.size > 10_000) this.compiled.clear();
    this.compiled.set(stream, { version: state.version, validate });
    return validate;
  }

  async get(tenantId: string, schemaId: string): Promise<SchemaState> {
    return this.handler.state(schemaDecider, schemaStream(tenantId, schemaId));
  }

  /** Defines a schema or its next version (a document that changes nothing appends nothing). */
  async define(
    cmd: {
      tenantId: string;
      schemaId: string;
      schema: Record<string, unknown> | boolean;
      description?: string | null;
    },
    ctx: CommandContext,
  ): Promise<CommandResult<SchemaState>> {
    const stream = schemaStream(cmd.tenantId, cmd.schemaId);
    const { result, position, appended } = await this.handler.run(ctx, async (attempt) => {
      const [tenant, schema] = await Promise.all([
        attempt.read(tenantDecider, tenantStream(cmd.tenantId)),
        attempt.read(schemaDecider, stream),
      ]);
      requireActiveTenant(tenant.state, cmd.tenantId);
      const events = schemaDecider.decide({ type: 'DefineSchema', data: cmd }, schema.state);
      if (events.length) await this.checkUses(cmd);
      attempt.stage(schema, events);
      return schema.state;
    });
    return { state: result, position, appended };
  }

  /** A new version must fit every value in use under the schema (read model). */
  private async checkUses(cmd: {
    tenantId: string;
    schemaId: string;
    schema: Record<string, unknown> | boolean;
  }): Promise<void> {
    const validate = compileSchema(cmd.schema);
    const violations = [];
    for (const use of await this.usedBy(cmd.tenantId, cmd.schemaId)) {
      const values: [string, string][] = [[use.deploymentId ? 'deployment' : 'value', use.value]];
      if (use.defaultValue !== null) values.push(['defaultValue', use.defaultValue]);
      for (const [what, text] of values) {
        if (validate(typedValue(use.type, text))) continue;
        violations.push({
          configId: use.configId,
          key: use.key,
          environment: use.environment,
          what,
          ...(use.deploymentId ? { deploymentId: use.deploymentId } : {}),
          errors: errorsOf(validate.errors),
        });
      }
    }
    if (violations.length) {
      throw new DomainError(
        'invalid_state',
        `${violations.length} configuration(s) using schema '${cmd.schemaId}' would not match ` +
          `this version (${violations.map((v) => `${v.environment}/${v.key}`).join(', ')}): ` +
          'change their values first',
        'schema',
        { violations },
      );
    }
  }

  /** A value proposed for a config (live or deleted: it comes back with its schema). */
  async checkValue(config: ConfigurationState, value: string, field = 'value'): Promise<void> {
    if (!config.exists || !config.schemaId) return;
    await this.check(config.tenantId, config.schemaId, config.type, value, field);
  }

  /**
   * The state these events leave a config in must match its schema: its value, and its default
   * whenever it is created or given a schema.
   */
  async checkOutcome(before: ConfigurationState, events: ConfigurationEvent[]): Promise<void> {
    if (!events.some(isVersioned)) return;
    const after = events.reduce(evolveConfiguration, before);
    if (!after.exists || after.deleted) return;
    await this.checkValue(after, after.value);
    const schemaSet = events.some(
      (e) =>
        e.type === 'ConfigurationCreated' ||
        (e.type === 'ConfigurationUpdated' && e.data.schemaId !== undefined),
    );
    if (after.defaultValue !== null && schemaSet) {
      await this.checkValue(after, after.defaultValue, 'defaultValue');
    }
  }

  /**
   * Throws 422 naming `field` unless `text` (a stored value of `type`) matches the newest version
   * of the schema; 422 naming `schemaId` if there is no such schema. No schema: nothing to check.
   */
  async check(
    tenantId: string,
    schemaId: string | null | undefined,
    type: ConfigType,
    text: string,
    field = 'value',
  ): Promise<void> {
    if (!schemaId) return;
    const stream = schemaStream(tenantId, schemaId);
    const state = await this.handler.state(schemaDecider, stream);
    if (!state.exists) {
      throw new DomainError('validation', `No schema '${schemaId}' for this tenant`, 'schemaId');
    }
    const validate = this.validatorFor(stream, state);
    if (validate(typedValue(type, text))) return;
    const errors = errorsOf(validate.errors);
    throw new DomainError(
      'validation',
      `${field} does not match schema '${schemaId}' (version ${state.version}): ${describe(errors)}`,
      field,
      // Not `errors`: that name is the problem's own list of { field, message }.
      { schemaId, schemaVersion: state.version, schemaErrors: errors },
    );
  }
}
