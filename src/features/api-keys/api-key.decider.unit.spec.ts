import { expect } from 'chai';
import { givenFor } from '../../core/testing/given-when-then.js';
import {
  decideApiKey,
  evolveApiKey,
  initialApiKeyState,
  isUsable,
  type ApiKeyCommand,
  type ApiKeyDefinition,
  type ApiKeyEvent,
} from './api-key.decider.js';

const given = givenFor(evolveApiKey, initialApiKeyState);
const id = { keyId: '0123456789abcdef', tenantId: 'acme' };
const now = new Date('2026-01-01T00:00:00Z');
const definition: ApiKeyDefinition = {
  name: 'checkout',
  scopes: ['read'],
  environments: ['Production'],
  expiresAt: null,
};
const created: ApiKeyEvent = {
  type: 'ApiKeyCreated',
  data: { ...id, ...definition, secretHash: 'ab'.repeat(32) },
};
const when = (command: ApiKeyCommand) => (state: Parameters<typeof decideApiKey>[1]) =>
  decideApiKey(command, state);
const create = (over: Partial<ApiKeyDefinition> = {}) =>
  when({
    type: 'CreateApiKey',
    data: { ...id, ...definition, ...over, secretHash: 'ab'.repeat(32), now },
  });

describe('API key decider', function () {
  it('creates a key once, keeping only the hash of its secret, scopes deduplicated', function () {
    given([])
      .when(create({ scopes: ['read', 'read'] as never }))
      .then([created]);
    given([created]).when(create()).thenRefused('already_exists', 'keyId');
  });

  it('refuses no scopes, an unknown scope, an empty environment list and a past expiry', function () {
    given([])
      .when(create({ scopes: [] }))
      .thenRefused('validation', 'scopes');
    given([])
      .when(create({ scopes: ['write'] as never }))
      .thenRefused('validation', 'scopes');
    given([])
      .when(create({ environments: [] }))
      .thenRefused('validation', 'environments');
    given([])
      .when(create({ expiresAt: '2025-12-31T23:59:59Z' }))
      .thenRefused('validation', 'expiresAt');
  });

  it('revokes a key once; a second revoke changes nothing', function () {
    const revoked: ApiKeyEvent = { type: 'ApiKeyRevoked', data: id };
    const state = given([created])
      .when(when({ type: 'RevokeApiKey', data: id }))
      .then([revoked]);
    expect(isUsable(state, now.getTime())).to.equal(false);
    given([created, revoked])
      .when(when({ type: 'RevokeApiKey', data: id }))
      .thenNothing();
  });

  it("answers another tenant's key, or a missing one, as not found", function () {
    given([created])
      .when(when({ type: 'RevokeApiKey', data: { ...id, tenantId: 'globex' } }))
      .thenRefused('not_found', 'keyId');
    given([])
      .when(when({ type: 'RevokeApiKey', data: id }))
      .thenRefused('not_found', 'keyId');
  });

  it('a key stops being usable when it expires', function () {
    const expiring: ApiKeyEvent = {
      type: 'ApiKeyCreated',
      data: { ...created.data, expiresAt: '2026-01-02T00:00:00Z' } as never,
    };
    const state = given([expiring]).state;
    expect(isUsable(state, now.getTime())).to.equal(true);
    expect(isUsable(state, Date.parse('2026-01-02T00:00:00Z'))).to.equal(false);
  });
});
