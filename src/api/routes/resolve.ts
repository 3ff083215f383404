/** Resolve: which version a call to (rufid, branch) would run, with the FN-102 branch rule applied. */
import type { RoutePlugin } from '../context.ts';
import { BranchQuery, ResolvedSchema, RufidParams, errorResponses } from '../schemas.ts';

/** POST /functions/{rufid}/resolve. */
export const resolveRoutes: RoutePlugin = (app, ctx) => {
  app.post(
    '/functions/:rufid/resolve',
    {
      schema: {
        tags: ['functions'],
        summary: 'Which version a call would run; non-main branches need X-Relay-Branch-Key',
        params: RufidParams,
        querystring: BranchQuery,
        response: { 200: ResolvedSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      const { target } = await ctx.authorizeCall(request, request.params.rufid, [
        'invoke',
        'deploy',
      ]);
      return target;
    },
  );
};
