/**
 * Execute. Until the execution engine is wired in, this applies the full
 * request path (authentication, branch access, resolve) and then answers
 * 501, so clients can already test their auth and branch headers.
 */
import { z } from 'zod';
import { RelayError } from '../../domain/index.ts';
import type { RoutePlugin } from '../context.ts';
import { BranchQuery, RufidParams, errorResponses } from '../schemas.ts';

/** POST /functions/{rufid}/execute. */
export const executeRoutes: RoutePlugin = (app, ctx) => {
  app.post(
    '/functions/:rufid/execute',
    {
      schema: {
        tags: ['executions'],
        summary: 'Run the function (sync by default; ?async=true queues it)',
        params: RufidParams,
        querystring: BranchQuery.extend({ async: z.string().optional() }),
        body: z.object({ input: z.unknown().optional() }).nullish(),
        response: errorResponses(400, 401, 403, 404, 501),
      },
    },
    async (request) => {
      const { target } = await ctx.authorizeCall(request, request.params.rufid, ['invoke']);
      throw new RelayError(
        'NOT_IMPLEMENTED',
        `Execution is not available on this server yet: ${target.rufid}@${target.branch} resolved to version ${target.version}, but no execution engine is configured`,
      );
    },
  );
};
