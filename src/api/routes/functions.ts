/** Functions: create (deploys version 1 to main), list, describe. */
import { z } from 'zod';
import type { RoutePlugin } from '../context.ts';
import {
  DeployResultSchema,
  FunctionSchema,
  PackageBodySchema,
  RufidParams,
  errorResponses,
} from '../schemas.ts';

/** Scopes that may read a tenant's functions. */
export const READ_SCOPES = ['deploy', 'invoke'] as const;

/** POST /functions, GET /functions, GET /functions/{rufid}. */
export const functionRoutes: RoutePlugin = (app, ctx) => {
  app.post(
    '/functions',
    {
      schema: {
        tags: ['functions'],
        summary: 'Create a function and deploy its first version to main (deploy)',
        body: PackageBodySchema.extend({ name: z.string() }),
        response: { 201: DeployResultSchema, ...errorResponses(400, 401, 403, 409, 413) },
      },
    },
    async (request, reply) => {
      const principal = await ctx.authorize(request, ['deploy']);
      const { name, ...pkg } = request.body;
      const v = await ctx.registry.createFunction(principal.tenant, name, pkg, principal.key.id);
      return reply
        .status(201)
        .send({ rufid: v.rufid, version: v.version, branch: v.branch, digest: v.digest });
    },
  );

  app.get(
    '/functions',
    {
      schema: {
        tags: ['functions'],
        summary: "List the tenant's functions with their branch heads",
        response: {
          200: z.object({ functions: z.array(FunctionSchema) }),
          ...errorResponses(401, 403),
        },
      },
    },
    async (request) => {
      const principal = await ctx.authorize(request, READ_SCOPES);
      return { functions: await ctx.registry.listFunctions(principal.tenant.id) };
    },
  );

  app.get(
    '/functions/:rufid',
    {
      schema: {
        tags: ['functions'],
        summary: 'Describe a function: its branches and their head versions',
        params: RufidParams,
        response: { 200: FunctionSchema, ...errorResponses(401, 403, 404) },
      },
    },
    async (request) => {
      const principal = await ctx.authorize(request, READ_SCOPES);
      return ctx.registry.describe(principal.tenant.id, request.params.rufid);
    },
  );
};
