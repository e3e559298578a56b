/** Why a command was refused. The API maps each code to an HTTP status (api/problem.ts). */
export type DomainErrorCode =
  | 'validation' // 422: a value does not fit its type, a field is out of range
  | 'not_found' // 404
  | 'already_exists' // 409
  | 'version_conflict' // 409: stale expected version
  | 'precondition_required' // 428: no expected version given
  | 'quota_exceeded' // 409
  | 'invalid_state' // 409: e.g. writing to a deleted config or a suspended tenant
  | 'approval_required' // 409: the environment takes changes through change requests only
  | 'stale' // 409: the config changed since the change request was made
  | 'forbidden' // 403: e.g. approving one's own change request
  | 'unknown_environment'; // 400: the tenant has not declared the environment named

export class DomainError extends Error {
  override readonly name = 'DomainError';
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    /** The request field the error is about, when there is one. */
    readonly field?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}
