/**
 * Tracing: with ENABLE_TELEMETRY_TRACES on, executions become OpenTelemetry
 * spans exported over OTLP/HTTP (OTEL_EXPORTER_OTLP_ENDPOINT), parented by
 * the caller's W3C `traceparent`, which travels with the job through the
 * queue. Off (the default), a no-op tracer costs nothing on the hot path.
 * The SDK is imported only when tracing is on.
 */
import { trace } from '@opentelemetry/api';
import type { Tracer } from '@opentelemetry/api';
import type { RelayConfig } from '../config/index.ts';

export interface Tracing {
  tracer: Tracer;
  /** Flushes pending spans and stops exporting. */
  shutdown(): Promise<void>;
}

/** The tracer for this process: real when enabled in the settings, else a no-op. */
export async function createTracing(
  config: Pick<RelayConfig, 'telemetry'>,
  serviceName: string,
): Promise<Tracing> {
  if (!config.telemetry.traces) {
    return { tracer: trace.getTracer('relay'), shutdown: async () => {} };
  }
  const [
    { NodeTracerProvider, BatchSpanProcessor },
    { OTLPTraceExporter },
    { resourceFromAttributes },
    core,
  ] = await Promise.all([
    import('@opentelemetry/sdk-trace-node'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/core'),
  ]);
  const endpoint = config.telemetry.otlpEndpoint;
  const exporter = new OTLPTraceExporter(
    endpoint ? { url: `${endpoint.replace(/\/$/, '')}/v1/traces` } : {},
  );
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  // The W3C propagator is what turns a job's traceparent back into a parent span.
  provider.register({ propagator: new core.W3CTraceContextPropagator() });
  return {
    tracer: provider.getTracer('relay'),
    shutdown: () => provider.shutdown(),
  };
}
