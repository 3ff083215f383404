/**
 * The one place where failures become HTTP answers. RelayErrors keep
 * their code and status; Fastify's own errors (bad JSON, body too large,
 * schema validation, unknown route) are translated into RelayErrors first,
 * so every error body has the same `{"error": {"code", "message"}}` shape.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { ERROR_CATALOGUE, RelayError, isRelayError, type ErrorCode } from '../domain/index.ts';

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

const FASTIFY_CODES: Record<string, [ErrorCode, string]> = {
  FST_ERR_CTP_INVALID_JSON_BODY: ['INVALID_JSON', 'Request body is not valid JSON'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [
    'INVALID_JSON',
    'Request body is empty but Content-Type is application/json',
  ],
  FST_ERR_CTP_BODY_TOO_LARGE: [
    'PAYLOAD_TOO_LARGE',
    'Request body is larger than the server accepts',
  ],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [
    'UNSUPPORTED_MEDIA_TYPE',
    'Unsupported Content-Type: send application/json',
  ],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: ['BAD_REQUEST', 'Content-Length does not match the body'],
};

const STATUS_CODES: Record<number, ErrorCode> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  503: 'UNAVAILABLE',
};

function validationMessage(err: FastifyError): string {
  const context = err.validationContext ?? 'request';
  const first = err.validation?.[0];
  if (!first) return `${context}: invalid`;
  const field = first.instancePath.split('/').filter(Boolean).join('.');
  const where = field ? `${context}.${field}` : context;
  if (hasZodFastifySchemaValidationErrors(err) && first.keyword === 'unrecognized_keys') {
    const keys = (first.params as { keys?: string[] }).keys ?? [];
    return `${where}: unknown field ${keys.map((k) => `'${k}'`).join(', ')}`;
  }
  const message = first.message ?? 'invalid';
  return `${where}: ${/received undefined$/.test(message) ? 'required' : message}`;
}

/** Any thrown value as a RelayError (unknown failures become INTERNAL with a generic message). */
export function toRelayError(err: unknown): RelayError {
  if (isRelayError(err)) return err;
  const fe = err as Partial<FastifyError> | null;
  if (fe && typeof fe === 'object') {
    if (Array.isArray(fe.validation)) {
      return new RelayError('VALIDATION_FAILED', validationMessage(fe as FastifyError), {
        cause: err,
      });
    }
    const known = fe.code ? FASTIFY_CODES[fe.code] : undefined;
    if (known) return new RelayError(known[0], known[1], { cause: err });
    const status = fe.statusCode;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      const code = STATUS_CODES[status] ?? 'BAD_REQUEST';
      return new RelayError(code, fe.message ?? 'Bad request', { cause: err });
    }
  }
  return new RelayError('INTERNAL', 'Internal server error', { cause: err });
}

/** The body for an error. */
export function errorBody(err: RelayError): ErrorBody {
  return { error: { code: err.code, message: err.message } };
}

/** Send an error reply, with Retry-After when the error carries a hint. */
export function sendError(reply: FastifyReply, err: RelayError): FastifyReply {
  if (err.retryAfterSeconds !== undefined && (err.status === 429 || err.status === 503)) {
    void reply.header('retry-after', String(Math.max(1, Math.ceil(err.retryAfterSeconds))));
  }
  return reply.status(err.status).send(errorBody(err));
}

/** Install the error handler and the not-found handler on the root app. */
export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const relayError = toRelayError(err);
    if (relayError.status >= 500) request.log.error({ err }, 'request failed');
    return sendError(reply, relayError);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new RelayError('NOT_FOUND', `Route ${request.method} ${request.url.split('?')[0]} not found`),
    ),
  );
}

/** Statuses the catalogue can produce, for documenting error responses. */
export const ERROR_STATUSES = [...new Set(Object.values(ERROR_CATALOGUE).map((s) => s.status))];
