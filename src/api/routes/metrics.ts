/** `GET /metrics`: the Prometheus exposition of this process's MetricsCollector. */
import type { MetricsCollector } from '../../telemetry/metrics.ts';
import type { RoutePlugin } from '../context.ts';

/** Route module for /metrics (mounted at the root, outside /api/v1). */
export function metricsRoutes(metrics: MetricsCollector): RoutePlugin {
  return (app) => {
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      const body = await metrics.render();
      return reply.type(metrics.contentType).send(body);
    });
  };
}
