import {
  decideDefineSchema,
  evolveSchema,
  initialSchemaState,
  type SchemaEvent,
  type SchemaState,
} from './config-schema.decider.js';
import { givenFor } from '../../core/testing/given-when-then.js';

const given = givenFor(evolveSchema, initialSchemaState);
const doc = { type: 'object', properties: { n: { type: 'integer' } } };
const defined = (version: number, schema: SchemaEvent['data']['schema'] = doc): SchemaEvent => ({
  type: 'SchemaDefined',
  data: { tenantId: 'acme', schemaId: 'retry', version, schema, description: null },
});
const define = (schema: unknown, description?: string | null) => (s: SchemaState) =>
  decideDefineSchema(s, {
    tenantId: 'acme',
    schemaId: 'retry',
    schema: schema as SchemaEvent['data']['schema'],
    description,
  });

describe('config schema aggregate (unit)', function () {
  it('defines version 1', function () {
    given([])
      .when(define(doc))
      .then([defined(1)]);
  });

  it('appends nothing for the same document, whatever the order of its keys', function () {
    given([defined(1)])
      .when(define({ properties: { n: { type: 'integer' } }, type: 'object' }))
      .thenNothing();
  });

  it('defines the next version for another document or description', function () {
    const next = { ...doc, required: ['n'] };
    given([defined(1)])
      .when(define(next))
      .then([defined(2, next)]);
    given([defined(1)])
      .when(define(doc, 'now described'))
      .then([{ ...defined(2), data: { ...defined(2).data, description: 'now described' } }]);
  });

  it('refuses a document that is not an object or a boolean', function () {
    given([]).when(define('string')).thenRefused('validation', 'schema');
    given([]).when(define(null)).thenRefused('validation', 'schema');
  });
});
