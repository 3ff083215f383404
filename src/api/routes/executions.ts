/**
 * Executions: run a function (sync or async), read an execution's record
 * and logs (live, as Server-Sent Events, with ?follow=true), list, cancel
 * and re-drive. Built from the ExecutionService by a factory, since the
 * API process may run without an engine of its own.
 */
import { z } from 'zod';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ExecutionRecord } from '../../domain/index.ts';
import { EXECUTION_STATUSES, RelayError, TERMINAL_STATUSES } from '../../domain/index.ts';
import type { ExecutionService } from '../../engine/submit.ts';
import type { ResultStorePort } from '../../results/port.ts';
import type { RoutePlugin } from '../context.ts';
import { BranchQuery, RufidParams, errorResponses } from '../schemas.ts';
import { streamLogs } from './log-stream.ts';

const ExecutionParams = z.object({ id: z.string().min(1).max(100) });

const AttemptView = z.object({
  attempt: z.number(),
  status: z.enum(EXECUTION_STATUSES),
  error: z
    .object({ type: z.string(), message: z.string(), stack: z.string().optional() })
    .nullable(),
  workerId: z.string().nullable(),
  startedAt: z.string(),
  finishedAt: z.string().nullable(),
  durationMs: z.number().nullable(),
});

const ExecutionView = z
  .object({
    id: z.string(),
    status: z.enum(EXECUTION_STATUSES),
    output: z.unknown(),
    error: z
      .object({ type: z.string(), message: z.string(), stack: z.string().optional() })
      .nullable(),
    rufid: z.string(),
    version: z.number(),
    branch: z.string(),
    timings: z.object({
      queueMs: z.number().optional(),
      prepMs: z.number().optional(),
      runMs: z.number().optional(),
      totalMs: z.number().optional(),
    }),
    usage: z.object({
      cpuMs: z.number().optional(),
      peakMemoryBytes: z.number().optional(),
      coldStart: z.boolean().optional(),
    }),
    cost: z.number(),
    attempt: z.number(),
    maxAttempts: z.number(),
    priority: z.number(),
    async: z.boolean(),
    traceparent: z.string().nullable(),
    attempts: z
      .array(AttemptView)
      .optional()
      .describe('every attempt, numbered across re-drives (on GET /executions/{id} only)'),
    createdAt: z.string(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
  })
  .describe('An execution record');

const Accepted = z.object({ id: z.string(), status: z.enum(EXECUTION_STATUSES) });
const LogLineView = z.object({
  seq: z.number(),
  stream: z.string(),
  time: z.string(),
  line: z.string(),
});

const ExecuteBody = z
  .object({
    input: z.unknown().optional(),
    priority: z.number().int().min(0).max(9).optional(),
    maxAttempts: z.number().int().min(1).max(20).optional(),
  })
  .optional();

const ExecuteQuery = BranchQuery.extend({ async: z.enum(['true', 'false', '1', '0']).optional() });

const ListQuery = z.object({
  status: z.enum(EXECUTION_STATUSES).optional(),
  rufid: z.string().optional(),
  branch: z.string().optional(),
  cursor: z.string().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});

const LogsQuery = z.object({
  follow: z.enum(['true', 'false', '1', '0']).optional(),
  after: z.coerce.number().int().min(0).optional(),
});

/** HTTP status of a finished sync execution (DESIGN: 200 / 502 / 504). */
function statusCodeFor(record: ExecutionRecord, finished: boolean): 200 | 202 | 409 | 502 | 504 {
  if (!finished) return 202;
  switch (record.status) {
    case 'succeeded':
      return 200;
    case 'timed_out':
      return 504;
    case 'cancelled':
      return 409;
    default:
      return 502;
  }
}

/** The execution record as the API shows it: everything but the tenant id and the input. */
export function publicRecord(r: ExecutionRecord) {
  return {
    id: r.id,
    status: r.status,
    output: r.output,
    error: r.error,
    rufid: r.rufid,
    version: r.version,
    branch: r.branch,
    timings: r.timings,
    usage: r.usage,
    cost: r.cost,
    attempt: r.attempt,
    maxAttempts: r.maxAttempts,
    priority: r.priority,
    async: r.async,
    traceparent: r.traceparent,
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
  };
}

function truthy(v: string | undefined): boolean {
  return v === 'true' || v === '1';
}

function singleHeader(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Aborts when the caller hangs up before we answered. The response's
 * 'close' is the signal: the request's own 'close' fires as soon as its
 * body has been read, before this handler even runs, so it never reports
 * a caller that leaves later.
 */
function callerGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** Route module for execute and /executions, bound to an ExecutionService. */
export function executionRoutes(service: ExecutionService, results: ResultStorePort): RoutePlugin {
  return (app, ctx) => {
    app.post(
      '/functions/:rufid/execute',
      {
        schema: {
          tags: ['executions'],
          summary:
            'Run the function: sync by default (the record, 200/502/504); ?async=true or Prefer: respond-async answers 202',
          params: RufidParams,
          querystring: ExecuteQuery,
          body: ExecuteBody,
          response: {
            200: ExecutionView,
            202: z.union([ExecutionView, Accepted]),
            409: ExecutionView,
            502: ExecutionView,
            504: ExecutionView,
            ...errorResponses(400, 401, 403, 404, 413, 429),
          },
        },
      },
      async (request, reply) => {
        const { principal, target } = await ctx.authorizeCall(request, request.params.rufid, [
          'invoke',
        ]);
        const prefer = singleHeader(request, 'prefer') ?? '';
        const isAsync = truthy(request.query.async) || /\brespond-async\b/i.test(prefer);
        const idempotencyKey = singleHeader(request, 'idempotency-key');
        if (
          idempotencyKey !== undefined &&
          (idempotencyKey.length === 0 || idempotencyKey.length > 255)
        ) {
          throw new RelayError('VALIDATION_FAILED', 'headers.idempotency-key: 1 to 255 characters');
        }
        const traceparent = singleHeader(request, 'traceparent');
        const body = request.body ?? {};
        const result = await service.submit({
          tenant: principal.tenant,
          target,
          input: body.input,
          async: isAsync,
          ...(body.priority !== undefined ? { priority: body.priority } : {}),
          ...(body.maxAttempts !== undefined ? { maxAttempts: body.maxAttempts } : {}),
          ...(idempotencyKey !== undefined ? { idempotencyKey } : {}),
          ...(traceparent !== undefined ? { traceparent } : {}),
          ...(isAsync ? {} : { signal: callerGone(reply) }),
        });
        const { record } = result;
        if (result.replayed) void reply.header('idempotent-replayed', 'true');
        if (isAsync || !result.finished) {
          void reply.header('location', `/api/v1/executions/${record.id}`);
        }
        if (isAsync) return reply.code(202).send({ id: record.id, status: record.status });
        return reply.code(statusCodeFor(record, result.finished)).send(publicRecord(record));
      },
    );

    app.get(
      '/executions',
      {
        schema: {
          tags: ['executions'],
          summary: "List the tenant's executions, newest first, with cursor paging",
          querystring: ListQuery,
          response: {
            200: z.object({
              executions: z.array(ExecutionView),
              nextCursor: z.string().nullable(),
            }),
            ...errorResponses(400, 401, 403),
          },
        },
      },
      async (request) => {
        const principal = await ctx.authorize(request, ['invoke', 'deploy']);
        const { status, rufid, branch, cursor, limit } = request.query;
        const page = await results.list({
          tenantId: principal.tenant.id,
          limit: limit + 1,
          ...(status ? { status } : {}),
          ...(rufid ? { rufid } : {}),
          ...(branch ? { branch } : {}),
          ...(cursor ? { cursor } : {}),
        });
        const more = page.length > limit;
        const items = more ? page.slice(0, limit) : page;
        // A page holds few running records; only stale-looking ones cost a probe.
        const current = await Promise.all(items.map((r) => service.reconcile(r)));
        return {
          executions: current.map(publicRecord),
          nextCursor: more ? (items.at(-1)?.id ?? null) : null,
        };
      },
    );

    app.get(
      '/executions/:id',
      {
        schema: {
          tags: ['executions'],
          summary: 'The execution record',
          params: ExecutionParams,
          response: { 200: ExecutionView, ...errorResponses(401, 403, 404) },
        },
      },
      async (request) => {
        const principal = await ctx.authorize(request, ['invoke', 'deploy']);
        const stored = await results.get(principal.tenant.id, request.params.id);
        if (!stored)
          throw new RelayError('EXECUTION_NOT_FOUND', `execution ${request.params.id} not found`);
        const record = await service.reconcile(stored);
        return { ...publicRecord(record), attempts: await service.attempts(record) };
      },
    );

    app.get(
      '/executions/:id/logs',
      {
        schema: {
          tags: ['executions'],
          summary: "The execution's log lines; ?follow=true streams them as Server-Sent Events",
          params: ExecutionParams,
          querystring: LogsQuery,
          response: {
            200: z.object({
              id: z.string(),
              status: z.enum(EXECUTION_STATUSES),
              lines: z.array(LogLineView),
            }),
            ...errorResponses(401, 403, 404),
          },
        },
      },
      async (request, reply) => {
        const principal = await ctx.authorize(request, ['invoke', 'deploy']);
        const { id } = request.params;
        const record = await results.get(principal.tenant.id, id);
        if (!record) throw new RelayError('EXECUTION_NOT_FOUND', `execution ${id} not found`);
        if (!truthy(request.query.follow)) {
          return { id, status: record.status, lines: await results.logs(id, request.query.after) };
        }
        reply.hijack();
        await streamLogs(
          request,
          reply,
          results,
          principal.tenant.id,
          id,
          request.query.after ?? 0,
        );
        return reply;
      },
    );

    app.post(
      '/executions/:id/cancel',
      {
        schema: {
          tags: ['executions'],
          summary: 'Cancel a queued or running execution (a running sandbox is killed)',
          params: ExecutionParams,
          response: {
            200: ExecutionView,
            202: ExecutionView,
            ...errorResponses(401, 403, 404, 409),
          },
        },
      },
      async (request, reply) => {
        const principal = await ctx.authorize(request, ['invoke']);
        const record = await service.cancel(principal.tenant, request.params.id);
        const code = TERMINAL_STATUSES.has(record.status) ? 200 : 202;
        return reply.code(code).send(publicRecord(record));
      },
    );

    app.post(
      '/executions/:id/retry',
      {
        schema: {
          tags: ['executions'],
          summary: 'Re-drive a dead, failed or timed-out execution with fresh attempts',
          params: ExecutionParams,
          response: { 202: ExecutionView, ...errorResponses(401, 403, 404, 409, 429) },
        },
      },
      async (request, reply) => {
        const principal = await ctx.authorize(request, ['invoke']);
        const record = await service.redrive(principal.tenant, request.params.id);
        void reply.header('location', `/api/v1/executions/${record.id}`);
        return reply.code(202).send(publicRecord(record));
      },
    );
  };
}
