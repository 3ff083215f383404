/** Tenant management: operator keys only. */
import { z } from 'zod';
import { RelayError } from '../../domain/index.ts';
import type { RoutePlugin } from '../context.ts';
import { TenantLimitsSchema, TenantSchema, errorResponses } from '../schemas.ts';

const CreateTenantBody = z.object({
  name: z.string().describe('lowercase letters, digits and dashes'),
  limits: TenantLimitsSchema.partial()
    .optional()
    .describe('caps; defaults come from the server settings'),
});

const CreatedTenant = z.object({
  id: z.string(),
  name: z.string(),
  limits: TenantLimitsSchema,
  adminKey: z.string(),
});

const TenantParams = z.object({ id: z.string().min(1).max(100) });
const UpdateTenantBody = z.object({
  limits: TenantLimitsSchema.partial().describe('caps to change; the others keep their values'),
});

/** POST /tenants (create, returns the first admin key once), GET /tenants, PATCH /tenants/{id}. */
export const tenantRoutes: RoutePlugin = (app, ctx) => {
  app.post(
    '/tenants',
    {
      schema: {
        tags: ['tenants'],
        summary: 'Create a tenant and its first admin key (operator)',
        body: CreateTenantBody,
        response: { 201: CreatedTenant, ...errorResponses(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      await ctx.authorize(request, ['operator']);
      const { tenant, adminKey } = await ctx.tenancy.createTenant(
        request.body.name,
        request.body.limits,
      );
      return reply
        .status(201)
        .send({ id: tenant.id, name: tenant.name, limits: tenant.limits, adminKey: adminKey.key });
    },
  );

  app.get(
    '/tenants',
    {
      schema: {
        tags: ['tenants'],
        summary: 'List tenants (operator)',
        response: {
          200: z.object({ tenants: z.array(TenantSchema) }),
          ...errorResponses(401, 403),
        },
      },
    },
    async (request) => {
      await ctx.authorize(request, ['operator']);
      return { tenants: await ctx.tenancy.listTenants() };
    },
  );

  app.patch(
    '/tenants/:id',
    {
      schema: {
        tags: ['tenants'],
        summary:
          "Change a tenant's limits and budget (operator); applies to new executions within seconds",
        params: TenantParams,
        body: UpdateTenantBody,
        response: { 200: TenantSchema, ...errorResponses(400, 401, 403, 404) },
      },
    },
    async (request) => {
      await ctx.authorize(request, ['operator']);
      const current = await ctx.store.getTenant(request.params.id);
      if (!current)
        throw new RelayError('TENANT_NOT_FOUND', `tenant ${request.params.id} not found`);
      const updated = await ctx.store.updateTenantLimits(current.id, {
        ...current.limits,
        ...request.body.limits,
      });
      if (!updated)
        throw new RelayError('TENANT_NOT_FOUND', `tenant ${request.params.id} not found`);
      return updated;
    },
  );
};
