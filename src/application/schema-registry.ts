/**
 * The tenants' config schemas: defining them (stream `schema-{tenantId}:{schemaId}`) and checking
 * values against them. Every command that writes a value to a configuration naming a schema asks
 * `check` first, against the schema's newest version; a new version is refused while a live
 * configuration's value would not match it, so no value in use is ever left invalid.
 */
import { Ajv as AjvDraft07 } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import type { EventStore } from '../core/event-store/event-store.js';
import { DomainError } from '../domain/errors.js';
import {
  evolveConfiguration,
  isVersioned,
  type ConfigurationEvent,
  type ConfigurationState,
} from '../domain/configuration.js';
import {
  decideDefineSchema,
  evolveSchema,
  initialSchemaState,
  type SchemaEvent,
  type SchemaState,
} from '../domain/schema.js';
import { requireActiveTenant } from '../domain/tenant.js';
import { typedValue, type ConfigType } from '../domain/values.js';
import {
  expectedFor,
  fold,
  load,
  retryOnConflict,
  toNewEvents,
  type CommandContext,
  type Decider,
} from './command-handling.js';
import { schemaStream, tenantStream } from './streams.js';
import { tenantDecider, type CommandResult } from './tenant-commands.js';

export const schemaDecider: Decider<SchemaState, SchemaEvent> = {
  initial: initialSchemaState,
  evolve: evolveSchema,
};

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

export class SchemaRegistry {
  /** Compiled validators by stream, for the version they were compiled from. */
  private readonly compiled = new Map<string, { version: number; validate: ValidateFunction }>();

  constructor(
    private readonly store: EventStore,
    /** Live configurations naming the schema (the read model: what is in use). */
    private readonly usedBy: (tenantId: string, schemaId: string) => Promise<SchemaUse[]>,
  ) {}

  /** A new validator; throws 422 naming `schema` if the document is not a usable JSON Schema. */
  private compile(schema: unknown): ValidateFunction {
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

  private validatorFor(stream: string, state: Extract<SchemaState, { exists: true }>) {
    const cached = this.compiled.get(stream);
    if (cached && cached.version === state.version) return cached.validate;
    const validate = this.compile(state.schema);
    if (this.compiled.size > 10_000) this.compiled.clear();
    this.compiled.set(stream, { version: state.version, validate });
    return validate;
  }

  async get(tenantId: string, schemaId: string): Promise<SchemaState> {
    return (await load(this.store, schemaStream(tenantId, schemaId), schemaDecider)).state;
  }

  /** Defines a schema or its next version (a document that changes nothing appends nothing). */
  define(
    cmd: {
      tenantId: string;
      schemaId: string;
      schema: Record<string, unknown> | boolean;
      description?: string | null;
    },
    ctx: CommandContext,
  ): Promise<CommandResult<SchemaState>> {
    return retryOnConflict(async () => {
      const stream = schemaStream(cmd.tenantId, cmd.schemaId);
      const [tenant, schema] = await Promise.all([
        load(this.store, tenantStream(cmd.tenantId), tenantDecider),
        load(this.store, stream, schemaDecider),
      ]);
      requireActiveTenant(tenant.state, cmd.tenantId);
      const events = decideDefineSchema(schema.state, cmd);
      if (!events.length) return { state: schema.state, position: undefined, appended: 0 };
      const validate = this.compile(cmd.schema);
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
      const result = await this.store.append([
        {
          streamId: stream,
          expected: expectedFor(schema.revision),
          events: toNewEvents(events, ctx),
        },
      ]);
      return {
        state: fold(schemaDecider, schema.state, events),
        position: result.position,
        appended: events.length,
      };
    });
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
    const { state } = await load(this.store, stream, schemaDecider);
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
