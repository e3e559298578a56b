/**
 * API key aggregate (stream `apikey-{keyId}`): an app's credential for one tenant, with scopes
 * (`read`, `reveal`, `report-metrics`), the environments it may be used in and an optional expiry.
 * The events keep only the SHA-256 of the secret: the secret itself is shown once, in the answer
 * that created the key, and never stored. The key id is random and global, so the credential
 * (`cfgk_<keyId>_<secret>`) names its stream without naming its tenant.
 */
import { DomainError } from '../../core/domain-error.js';
import { API_KEY_SCOPES, type ApiKeyScope } from '../../core/auth/principal.js';

interface Identity {
  keyId: string;
  tenantId: string;
}

export interface ApiKeyDefinition {
  name: string;
  scopes: ApiKeyScope[];
  /** null: every environment of the tenant. */
  environments: string[] | null;
  /** ISO time; null: never. */
  expiresAt: string | null;
}

export type ApiKeyEvent =
  | { type: 'ApiKeyCreated'; data: Identity & ApiKeyDefinition & { secretHash: string } }
  | { type: 'ApiKeyRevoked'; data: Identity };

export type ApiKeyState =
  | { exists: false }
  | ({
      exists: true;
      keyId: string;
      tenantId: string;
      secretHash: string;
      revoked: boolean;
    } & ApiKeyDefinition);

export type ApiKeyCommand =
  | {
      type: 'CreateApiKey';
      data: Identity & ApiKeyDefinition & { secretHash: string; now: Date };
    }
  | { type: 'RevokeApiKey'; data: Identity };

export const initialApiKeyState = (): ApiKeyState => ({ exists: false });

export function evolveApiKey(state: ApiKeyState, event: ApiKeyEvent): ApiKeyState {
  switch (event.type) {
    case 'ApiKeyCreated':
      return { exists: true, ...event.data, revoked: false };
    case 'ApiKeyRevoked':
      return state.exists ? { ...state, revoked: true } : state;
  }
}

function checkDefinition(d: ApiKeyDefinition & { now: Date }) {
  if (d.scopes.length === 0) {
    throw new DomainError('validation', 'scopes must name at least one scope', 'scopes');
  }
  const unknown = d.scopes.find((s) => !(API_KEY_SCOPES as readonly string[]).includes(s));
  if (unknown) throw new DomainError('validation', `unknown scope '${unknown}'`, 'scopes');
  if (d.environments !== null && d.environments.length === 0) {
    throw new DomainError(
      'validation',
      'environments must name at least one environment (or be left out: all)',
      'environments',
    );
  }
  if (d.expiresAt !== null && Date.parse(d.expiresAt) <= d.now.getTime()) {
    throw new DomainError('validation', 'expiresAt must be in the future', 'expiresAt');
  }
}

export function decideApiKey(command: ApiKeyCommand, state: ApiKeyState): ApiKeyEvent[] {
  switch (command.type) {
    case 'CreateApiKey': {
      if (state.exists) {
        throw new DomainError('already_exists', `API key ${command.data.keyId} exists`, 'keyId');
      }
      checkDefinition(command.data);
      const { now: _now, ...data } = command.data;
      return [
        {
          type: 'ApiKeyCreated',
          data: {
            ...data,
            scopes: [...new Set(data.scopes)],
            environments: data.environments ? [...new Set(data.environments)] : null,
          },
        },
      ];
    }
    case 'RevokeApiKey': {
      // Another tenant's key answers as a missing one does.
      if (!state.exists || state.tenantId !== command.data.tenantId) {
        throw new DomainError('not_found', `API key '${command.data.keyId}' not found`, 'keyId');
      }
      // Revoking twice changes nothing (a retried DELETE).
      if (state.revoked) return [];
      return [{ type: 'ApiKeyRevoked', data: command.data }];
    }
  }
}

export const apiKeyDecider = {
  initialState: initialApiKeyState,
  evolve: evolveApiKey,
  decide: decideApiKey,
};

/** Whether a key is usable at `now` (ms): created, not revoked, not expired. */
export function isUsable(state: ApiKeyState, now: number): state is ApiKeyState & { exists: true } {
  return (
    state.exists &&
    !state.revoked &&
    (state.expiresAt === null || Date.parse(state.expiresAt) > now)
  );
}
