/** API keys of the caller's tenant: admin keys only. The secret is shown once, at creation. */
import { z } from 'zod';
import { SCOPES } from '../../domain/index.ts';
import type { RoutePlugin } from '../context.ts';
import { ApiKeySchema, errorResponses } from '../schemas.ts';

const CreateKeyBody = z.object({
  name: z.string().min(1).max(100),
  scopes: z.array(z.enum(SCOPES)).min(1),
  branches: z.array(z.string()).optional().describe('branches a branch key may run; omitted: all'),
});

/** POST /keys, GET /keys, DELETE /keys/{id}. */
export const keyRoutes: RoutePlugin = (app, ctx) => {
  app.post(
    '/keys',
    {
      schema: {
        tags: ['keys'],
        summary: 'Create an API key (admin); the key is shown only in this response',
        body: CreateKeyBody,
        response: {
          201: ApiKeySchema.extend({ key: z.string() }),
          ...errorResponses(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const principal = await ctx.authorize(request, ['admin']);
      const created = await ctx.tenancy.createKey(
        principal.tenant.id,
        request.body,
        principal.key.scopes,
      );
      return reply.status(201).send(created);
    },
  );

  app.get(
    '/keys',
    {
      schema: {
        tags: ['keys'],
        summary: "List the tenant's API keys (admin)",
        response: { 200: z.object({ keys: z.array(ApiKeySchema) }), ...errorResponses(401, 403) },
      },
    },
    async (request) => {
      const principal = await ctx.authorize(request, ['admin']);
      return { keys: await ctx.tenancy.listKeys(principal.tenant.id) };
    },
  );

  app.delete(
    '/keys/:id',
    {
      schema: {
        tags: ['keys'],
        summary: 'Revoke an API key (admin)',
        params: z.object({ id: z.string() }),
        response: { 204: z.undefined(), ...errorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const principal = await ctx.authorize(request, ['admin']);
      await ctx.tenancy.revokeKey(principal.tenant.id, request.params.id);
      return reply.status(204).send();
    },
  );
};
