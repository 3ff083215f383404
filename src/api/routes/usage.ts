/** `GET /usage`: the calling tenant's spend this month against its budget (FN-057). */
import { z } from 'zod';
import type { BudgetGuard } from '../../tenancy/budget.ts';
import type { RoutePlugin } from '../context.ts';
import { errorResponses } from '../schemas.ts';

const UsageView = z.object({
  tenant: z.string(),
  period: z.string().describe('UTC month, YYYY-MM'),
  spend: z.number().describe('cost units spent this month'),
  budget: z.number().nullable().describe('monthly budget; null means none'),
  remaining: z.number().nullable(),
});

/** Route module for /usage, bound to the process's budget guard. */
export function usageRoutes(budget: BudgetGuard): RoutePlugin {
  return (app, ctx) => {
    app.get(
      '/usage',
      {
        schema: {
          tags: ['tenants'],
          summary: "This month's spend against the tenant's budget",
          response: { 200: UsageView, ...errorResponses(401, 403) },
        },
      },
      async (request) => {
        const { tenant } = await ctx.authorize(request, ['invoke', 'deploy']);
        const { period, spend } = await budget.spend(tenant.id);
        const limit = tenant.limits.monthlyBudget;
        return {
          tenant: tenant.name,
          period,
          spend,
          budget: limit,
          remaining: limit === null ? null : Math.max(0, limit - spend),
        };
      },
    );
  };
}
