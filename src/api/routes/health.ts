/** Liveness and readiness, outside /api/v1 and without authentication. */
import { z } from 'zod';
import { RelayError } from '../../domain/index.ts';
import type { RoutePlugin } from '../context.ts';
import { errorResponses } from '../schemas.ts';

const Status = z.object({ status: z.string() });

/** /healthz answers while the process runs; /readyz only when the store answers too. */
export const healthRoutes: RoutePlugin = (app, ctx) => {
  app.get('/healthz', { schema: { tags: ['health'], response: { 200: Status } } }, async () => ({
    status: 'ok',
  }));
  app.get(
    '/readyz',
    { schema: { tags: ['health'], response: { 200: Status, ...errorResponses(503) } } },
    async () => {
      try {
        await ctx.store.ping();
      } catch (err) {
        throw new RelayError('UNAVAILABLE', 'Store is not reachable', {
          cause: err,
          retryAfterSeconds: 5,
        });
      }
      return { status: 'ready' };
    },
  );
};
