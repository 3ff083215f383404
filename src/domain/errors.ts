/**
 * Every error Relay reports on purpose: a stable code, the one HTTP status
 * it maps to, and whether trying again may help. The API turns these into
 * `{"error": {"code", "message"}}` in one place (api/errors.ts); nothing
 * else decides a status.
 */

interface ErrorSpec {
  status: number;
  retryable: boolean;
}

/** The catalogue: code → status and retry behaviour. */
export const ERROR_CATALOGUE = {
  BAD_REQUEST: { status: 400, retryable: false },
  INVALID_JSON: { status: 400, retryable: false },
  VALIDATION_FAILED: { status: 400, retryable: false },
  INVALID_MANIFEST: { status: 400, retryable: false },
  INVALID_PACKAGE: { status: 400, retryable: false },
  LIMIT_EXCEEDS_CAP: { status: 400, retryable: false },
  SECRET_NOT_FOUND: { status: 400, retryable: false },
  // Reads as error type DependencyInstallFailed; the cache has already retried once.
  DEPENDENCY_INSTALL_FAILED: { status: 422, retryable: false },
  UNAUTHENTICATED: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  BRANCH_ACCESS_DENIED: { status: 403, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  TENANT_NOT_FOUND: { status: 404, retryable: false },
  FUNCTION_NOT_FOUND: { status: 404, retryable: false },
  VERSION_NOT_FOUND: { status: 404, retryable: false },
  BRANCH_NOT_FOUND: { status: 404, retryable: false },
  EXECUTION_NOT_FOUND: { status: 404, retryable: false },
  KEY_NOT_FOUND: { status: 404, retryable: false },
  CONFLICT: { status: 409, retryable: false },
  INVALID_STATE: { status: 409, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  QUEUE_FULL: { status: 429, retryable: true },
  CONCURRENCY_LIMIT: { status: 429, retryable: true },
  BUDGET_EXCEEDED: { status: 429, retryable: true },
  INTERNAL: { status: 500, retryable: true },
  NOT_IMPLEMENTED: { status: 501, retryable: false },
  UNAVAILABLE: { status: 503, retryable: true },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOGUE;

export interface RelayErrorOptions {
  /** Seconds a client should wait before trying again (429/503). */
  retryAfterSeconds?: number;
  cause?: unknown;
}

/** The one error family Relay throws on purpose. */
export class RelayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;

  constructor(code: ErrorCode, message: string, options: RelayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'RelayError';
    this.code = code;
    this.status = ERROR_CATALOGUE[code].status;
    this.retryable = ERROR_CATALOGUE[code].retryable;
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}

export function isRelayError(err: unknown): err is RelayError {
  return err instanceof RelayError;
}

/** Shorthand constructors for the errors raised most often. */
export const errors = {
  badRequest: (message: string) => new RelayError('BAD_REQUEST', message),
  notFound: (code: ErrorCode, message: string) => new RelayError(code, message),
  conflict: (message: string) => new RelayError('CONFLICT', message),
  branchAccessDenied: () => new RelayError('BRANCH_ACCESS_DENIED', 'Branch access denied'),
  unauthenticated: (message = 'Missing or invalid API key') =>
    new RelayError('UNAUTHENTICATED', message),
  forbidden: (message: string) => new RelayError('FORBIDDEN', message),
};
