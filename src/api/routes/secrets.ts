/** Tenant secrets: values are write-only; listing shows names and times. */
import { z } from 'zod';
import { RelayError } from '../../domain/index.ts';
import { ENV_NAME_PATTERN } from '../../registry/index.ts';
import type { RoutePlugin, SecretsApi } from '../context.ts';
import { errorResponses } from '../schemas.ts';

const SecretParams = z.object({ name: z.string() });
const SecretInfo = z.object({ name: z.string(), createdAt: z.string(), updatedAt: z.string() });

function checkName(name: string): void {
  if (!ENV_NAME_PATTERN.test(name)) {
    throw new RelayError(
      'VALIDATION_FAILED',
      `name: '${name}' must be letters, digits and underscores, not starting with a digit`,
    );
  }
}

/** PUT /secrets/{name}, GET /secrets, DELETE /secrets/{name}; mounted only when a secrets service is wired in. */
export const secretRoutes: RoutePlugin = (app, ctx) => {
  const secrets = ctx.secrets as SecretsApi;

  app.put(
    '/secrets/:name',
    {
      schema: {
        tags: ['secrets'],
        summary: 'Set a secret (deploy); the value can never be read back',
        params: SecretParams,
        body: z.object({ value: z.string() }),
        response: { 204: z.undefined(), ...errorResponses(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const principal = await ctx.authorize(request, ['deploy']);
      checkName(request.params.name);
      await secrets.put(principal.tenant.id, request.params.name, request.body.value);
      return reply.status(204).send();
    },
  );

  app.get(
    '/secrets',
    {
      schema: {
        tags: ['secrets'],
        summary: "List the tenant's secret names (deploy)",
        response: { 200: z.object({ secrets: z.array(SecretInfo) }), ...errorResponses(401, 403) },
      },
    },
    async (request) => {
      const principal = await ctx.authorize(request, ['deploy']);
      const list = await secrets.list(principal.tenant.id);
      return {
        secrets: list.map(({ name, createdAt, updatedAt }) => ({ name, createdAt, updatedAt })),
      };
    },
  );

  app.delete(
    '/secrets/:name',
    {
      schema: {
        tags: ['secrets'],
        summary: 'Delete a secret (deploy)',
        params: SecretParams,
        response: { 204: z.undefined(), ...errorResponses(401, 403, 404) },
      },
    },
    async (request, reply) => {
      const principal = await ctx.authorize(request, ['deploy']);
      const removed = await secrets.remove(principal.tenant.id, request.params.name);
      if (!removed) throw new RelayError('NOT_FOUND', `Secret '${request.params.name}' not found`);
      return reply.status(204).send();
    },
  );
};
