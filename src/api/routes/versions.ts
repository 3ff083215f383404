/** The version ledger: deploy a new version (to main or a branch), list, show one. */
import { z } from 'zod';
import type { RoutePlugin } from '../context.ts';
import {
  BranchQuery,
  DeployResultSchema,
  PackageBodySchema,
  RufidParams,
  VersionSchema,
  errorResponses,
} from '../schemas.ts';
import { READ_SCOPES } from './functions.ts';

/** POST/GET /functions/{rufid}/versions, GET /functions/{rufid}/versions/{version}. */
export const versionRoutes: RoutePlugin = (app, ctx) => {
  app.post(
    '/functions/:rufid/versions',
    {
      schema: {
        tags: ['versions'],
        summary:
          'Deploy a new version; to main unless ?branch= or X-Relay-Branch names another (deploy)',
        params: RufidParams,
        querystring: BranchQuery,
        body: PackageBodySchema,
        response: { 201: DeployResultSchema, ...errorResponses(400, 401, 403, 404, 413) },
      },
    },
    async (request, reply) => {
      const principal = await ctx.authorize(request, ['deploy']);
      const branch = ctx.requestBranch(request);
      const v = await ctx.registry.deploy(
        principal.tenant,
        request.params.rufid,
        branch,
        request.body,
        principal.key.id,
      );
      return reply
        .status(201)
        .send({ rufid: v.rufid, version: v.version, branch: v.branch, digest: v.digest });
    },
  );

  app.get(
    '/functions/:rufid/versions',
    {
      schema: {
        tags: ['versions'],
        summary: 'The version ledger, newest first',
        params: RufidParams,
        response: {
          200: z.object({ versions: z.array(VersionSchema) }),
          ...errorResponses(401, 403, 404),
        },
      },
    },
    async (request) => {
      const principal = await ctx.authorize(request, READ_SCOPES);
      return {
        versions: await ctx.registry.listVersions(principal.tenant.id, request.params.rufid),
      };
    },
  );

  app.get(
    '/functions/:rufid/versions/:version',
    {
      schema: {
        tags: ['versions'],
        summary: 'One entry of the version ledger',
        params: RufidParams.extend({ version: z.coerce.number().int().positive() }),
        response: { 200: VersionSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const principal = await ctx.authorize(request, READ_SCOPES);
      return ctx.registry.getVersion(
        principal.tenant.id,
        request.params.rufid,
        request.params.version,
      );
    },
  );
};
