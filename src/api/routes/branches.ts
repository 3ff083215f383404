/** Branch heads: move one to any version of the ledger (promote, roll back) or delete a non-main branch. */
import { z } from 'zod';
import type { RoutePlugin } from '../context.ts';
import { BranchHeadSchema, RufidParams, errorResponses } from '../schemas.ts';

const BranchParams = RufidParams.extend({ branch: z.string() });

/** PUT and DELETE /functions/{rufid}/branches/{branch}. */
export const branchRoutes: RoutePlugin = (app, ctx) => {
  app.put(
    '/functions/:rufid/branches/:branch',
    {
      schema: {
        tags: ['branches'],
        summary:
          'Point a branch at a version of the ledger, creating the branch if needed (deploy)',
        params: BranchParams,
        body: z.object({ version: z.number().int().positive() }),
        response: {
          200: BranchHeadSchema.extend({ previousVersion: z.number().int().nullable() }),
          ...errorResponses(400, 401, 403, 404),
        },
      },
    },
    async (request) => {
      const principal = await ctx.authorize(request, ['deploy']);
      const { rufid, branch } = request.params;
      const { head, previousVersion } = await ctx.registry.setBranchHead(
        principal.tenant.id,
        rufid,
        branch,
        request.body.version,
      );
      return { ...head, previousVersion };
    },
  );

  app.delete(
    '/functions/:rufid/branches/:branch',
    {
      schema: {
        tags: ['branches'],
        summary: 'Delete a branch other than main (deploy)',
        params: BranchParams,
        response: { 204: z.undefined(), ...errorResponses(401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const principal = await ctx.authorize(request, ['deploy']);
      await ctx.registry.deleteBranch(
        principal.tenant.id,
        request.params.rufid,
        request.params.branch,
      );
      return reply.status(204).send();
    },
  );
};
