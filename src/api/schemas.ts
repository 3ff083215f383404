/**
 * zod schemas shared by the routes: request bodies and the shapes of what
 * the API answers. They drive validation and the OpenAPI document.
 */
import { z } from 'zod';
import { RUNTIMES, SCOPES } from '../domain/index.ts';

export const ErrorSchema = z
  .object({ error: z.object({ code: z.string(), message: z.string() }) })
  .describe('Every error: a stable code and a readable message');

/** Error responses a route may document. */
export function errorResponses(...statuses: number[]): Record<number, typeof ErrorSchema> {
  return Object.fromEntries(statuses.map((s) => [s, ErrorSchema]));
}

export const TenantLimitsSchema = z.object({
  maxTimeoutSeconds: z.number().positive(),
  maxMemoryMb: z.number().int().positive(),
  maxCpus: z.number().positive(),
  maxConcurrency: z.number().int().positive(),
  maxQueued: z.number().int().positive(),
  maxPriority: z.number().int().min(0).max(9),
  monthlyBudget: z.number().nonnegative().nullable(),
});

export const TenantSchema = z.object({
  id: z.string(),
  name: z.string(),
  limits: TenantLimitsSchema,
  createdAt: z.string(),
});

export const ApiKeySchema = z.object({
  id: z.string(),
  tenantId: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(SCOPES)),
  branches: z.array(z.string()).nullable(),
  createdAt: z.string(),
  revokedAt: z.string().nullable(),
});

export const FileBodySchema = z.union([
  z.string().describe('UTF-8 text'),
  z.strictObject({ base64: z.string() }).describe('binary content, base64'),
]);

export const PackageBodySchema = z.object({
  manifest: z.record(z.string(), z.unknown()).describe('relay.json'),
  files: z.record(z.string(), FileBodySchema).describe('path → content'),
  message: z.string().max(1000).optional(),
});

export const BranchHeadSchema = z.object({
  rufid: z.string(),
  branch: z.string(),
  version: z.number().int(),
  updatedAt: z.string(),
});

export const FunctionSchema = z.object({
  rufid: z.string(),
  tenantId: z.string(),
  name: z.string(),
  createdAt: z.string(),
  branches: z.array(BranchHeadSchema),
});

export const ManifestSchema = z
  .object({
    runtime: z.enum(RUNTIMES),
    entrypoint: z.string(),
    dependencies: z.union([z.array(z.string()), z.record(z.string(), z.string())]).optional(),
    limits: z
      .object({
        timeoutSeconds: z.number().optional(),
        memoryMb: z.number().optional(),
        cpus: z.number().optional(),
      })
      .optional(),
    env: z.record(z.string(), z.string()).optional(),
    secrets: z.array(z.string()).optional(),
    network: z.boolean().optional(),
    maxAttempts: z.number().int().optional(),
  })
  .describe('relay.json as validated at deploy');

export const VersionSchema = z.object({
  rufid: z.string(),
  version: z.number().int(),
  digest: z.string(),
  manifest: ManifestSchema,
  files: z.array(z.object({ path: z.string(), digest: z.string(), size: z.number().int() })),
  size: z.number().int(),
  deployedBy: z.string(),
  message: z.string(),
  branch: z.string(),
  createdAt: z.string(),
  build: z.object({ status: z.string(), log: z.string(), updatedAt: z.string() }),
});

export const DeployResultSchema = z.object({
  rufid: z.string(),
  version: z.number().int(),
  branch: z.string(),
  digest: z.string(),
});

export const ResolvedSchema = z.object({
  rufid: z.string(),
  branch: z.string(),
  version: z.number().int(),
  runtime: z.enum(RUNTIMES),
  digest: z.string(),
});

export const RufidParams = z.object({ rufid: z.string().describe('12 lowercase hex characters') });

export const BranchQuery = z.object({
  branch: z
    .string()
    .optional()
    .describe('branch to use; or the X-Relay-Branch header; default main'),
});
