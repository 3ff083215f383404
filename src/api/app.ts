/**
 * The Fastify app factory. It takes every dependency as one object so the
 * composition root decides what is wired in (store, registry, tenancy,
 * later the execution engine through extra route modules), and tests can
 * build an app without starting a server.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import fastify from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { createContext, type AppDeps, type RoutePlugin, type ZodApp } from './context.ts';
import { installErrorHandling } from './errors.ts';
import { branchRoutes } from './routes/branches.ts';
import { executeRoutes } from './routes/execute.ts';
import { functionRoutes } from './routes/functions.ts';
import { healthRoutes } from './routes/health.ts';
import { keyRoutes } from './routes/keys.ts';
import { resolveRoutes } from './routes/resolve.ts';
import { secretRoutes } from './routes/secrets.ts';
import { tenantRoutes } from './routes/tenants.ts';
import { versionRoutes } from './routes/versions.ts';

export const API_PREFIX = '/api/v1';
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Body limit: the largest package, base64-encoded (binary files grow by 4/3), plus JSON overhead. */
export function bodyLimitFor(maxPackageBytes: number): number {
  return Math.ceil((maxPackageBytes * 4) / 3) + 64 * 1024;
}

/** Use the caller's X-Request-Id when it is sane, so logs line up across services. */
function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  if (typeof given === 'string' && REQUEST_ID.test(given)) return given;
  return `req_${randomUUID().replaceAll('-', '')}`;
}

/** Build the HTTP app (not listening yet). */
export async function buildApp(deps: AppDeps): Promise<ZodApp> {
  const app = fastify({
    loggerInstance: deps.logger,
    bodyLimit: bodyLimitFor(deps.config.packages.maxPackageBytes),
    genReqId: requestId,
    requestIdHeader: false,
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  installErrorHandling(app);

  // An empty JSON body means "no body" (POST .../resolve with a Content-Type but nothing to send).
  const parseJson = app.getDefaultJsonParser('error', 'ignore');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    if (body === '' || (typeof body === 'string' && body.trim() === '')) {
      done(null, undefined);
      return;
    }
    void parseJson(req, body as string, done);
  });

  app.addHook('onRequest', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Relay',
        description: 'Multi-tenant function execution platform',
        version: '0.1.0',
      },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer', description: 'Relay API key' },
        },
      },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  const ctx = createContext(deps);
  const mount = (plugins: RoutePlugin[], prefix: string) =>
    app.register(
      async (scope) => {
        const typed = scope.withTypeProvider<ZodTypeProvider>();
        for (const plugin of plugins) await plugin(typed, ctx);
      },
      { prefix },
    );

  await mount([healthRoutes, ...(deps.rootRoutes ?? [])], '');
  const apiRoutes: RoutePlugin[] = [
    tenantRoutes,
    keyRoutes,
    functionRoutes,
    versionRoutes,
    branchRoutes,
    resolveRoutes,
  ];
  if (deps.secrets) apiRoutes.push(secretRoutes);
  // The 501 execute stands in only until a route module (the execution plane) brings the real one.
  const executePlaceholder: RoutePlugin = async (scope, c) => {
    const url = `${API_PREFIX}/functions/:rufid/execute`;
    if (!scope.hasRoute({ method: 'POST', url })) await executeRoutes(scope, c);
  };
  await mount([...apiRoutes, ...(deps.routes ?? []), executePlaceholder], API_PREFIX);
  return app;
}
