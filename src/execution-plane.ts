/**
 * Composition of the execution plane on top of the control plane's graph:
 * queue, result store, metrics, the ExecutionService the API submits to,
 * and — in processes that run functions — sandboxes, runtimes, the
 * dependency cache, the ExecutionEngine and a Worker. `relay serve` builds
 * both halves in one process; `relay api` and `relay worker` one each.
 */
import path from 'node:path';
import type { RoutePlugin } from './api/index.ts';
import { executionRoutes } from './api/routes/executions.ts';
import { metricsRoutes } from './api/routes/metrics.ts';
import { usageRoutes } from './api/routes/usage.ts';
import { createBuildService, createDependencyCache } from './deps/index.ts';
import type { BuildService } from './deps/index.ts';
import { ExecutionEngine, ExecutionPreparer } from './engine/index.ts';
import { ExecutionService } from './engine/submit.ts';
import type { Graph } from './main.ts';
import { createQueue } from './queue/index.ts';
import type { Queue } from './queue/index.ts';
import { StoreResultStore, startRetentionSweeper } from './results/index.ts';
import type { RetentionSweeper } from './results/index.ts';
import { createRuntimes } from './runtimes/index.ts';
import { createIsolatedRunner, createSandboxManager } from './sandbox/index.ts';
import type { IsolatedRunner, SandboxManager } from './sandbox/index.ts';
import { BudgetGuard } from './tenancy/index.ts';
import { MetricsCollector } from './telemetry/metrics.ts';
import { createTracing } from './telemetry/tracing.ts';
import { Worker } from './worker/worker.ts';

export interface PlaneOptions {
  /** Run functions in this process (a worker); false for an API-only process. */
  worker: boolean;
  /** Queue options for tests: a Postgres schema or a Redis key prefix of their own. */
  queueSchema?: string;
  queueKeyPrefix?: string;
}

export interface ExecutionPlane {
  queue: Queue;
  service: ExecutionService;
  metrics: MetricsCollector;
  builds: BuildService;
  sandboxes: SandboxManager | undefined;
  engine: ExecutionEngine | undefined;
  worker: Worker | undefined;
  /** Routes under /api/v1 and at the root (/metrics). */
  routes: RoutePlugin[];
  rootRoutes: RoutePlugin[];
  /** Drains the worker (within `graceMs`), then closes sandboxes and the queue. */
  close(graceMs?: number): Promise<void>;
}

/** The queue URL in the form createQueue wants (the embedded default gets its own file). */
function queueUrl(graph: Graph): string {
  const { config } = graph;
  if (config.queueUrl === config.databaseUrl && config.queueUrl.startsWith('sqlite:')) {
    return `sqlite:${path.join(config.dataDir, 'queue.db')}`;
  }
  return config.queueUrl;
}

/**
 * Namespace parameters a network queue URL may carry, so processes that
 * share a server keep apart by setting alone: `?schema=` (Postgres) and
 * `?keyPrefix=` (Redis). They are taken off the URL the driver sees.
 */
export function queueNamespace(url: string): { url: string; schema?: string; keyPrefix?: string } {
  if (!/^(postgres(ql)?|rediss?):\/\//.test(url)) return { url };
  const parsed = new URL(url);
  const schema = parsed.searchParams.get('schema') ?? undefined;
  const keyPrefix = parsed.searchParams.get('keyPrefix') ?? undefined;
  if (schema === undefined && keyPrefix === undefined) return { url };
  parsed.searchParams.delete('schema');
  parsed.searchParams.delete('keyPrefix');
  return {
    url: parsed.toString(),
    ...(schema !== undefined ? { schema } : {}),
    ...(keyPrefix !== undefined ? { keyPrefix } : {}),
  };
}

/** Builds the execution plane for this process. */
export async function createExecutionPlane(
  graph: Graph,
  options: PlaneOptions,
): Promise<ExecutionPlane> {
  const { config, logger, store, registry, secrets } = graph;
  const namespace = queueNamespace(queueUrl(graph));
  const schema = options.queueSchema ?? namespace.schema;
  const keyPrefix = options.queueKeyPrefix ?? namespace.keyPrefix;
  const queue = await createQueue(namespace.url, {
    maxQueuedPerTenant: config.queue.maxPerTenant,
    maxQueuedTotal: config.queue.maxTotal,
    ...(schema ? { schema } : {}),
    ...(keyPrefix ? { keyPrefix } : {}),
  });
  const results = new StoreResultStore(store, {
    onSinkError: (sink, err) => logger.warn({ err, sink }, 'result sink failed'),
  });
  let sandboxes: SandboxManager | undefined;
  const metrics = new MetricsCollector(
    {
      sandboxes: () => sandboxes?.stats() ?? { warm: 0, busy: 0 },
      queueDepth: async () => {
        const d = await queue.depth();
        return d.ready + d.delayed;
      },
    },
    { processMetrics: true },
  );
  const sandboxLogger = logger.child({ component: 'sandbox' });
  const depsLogger = logger.child({ component: 'deps' });
  // One runner for every install (bwrap probed and Relay's parent cgroup made once), on first use.
  let installRunner: Promise<IsolatedRunner> | undefined;
  const cache = createDependencyCache({
    dataDir: config.dataDir,
    config,
    runner: async (request) =>
      (await (installRunner ??= createIsolatedRunner({ logger: sandboxLogger }))).run(request),
    logger: depsLogger,
    onInstall: (runtime, ok, seconds) => metrics.dependencyInstalled(runtime, ok, seconds),
  });
  const builds = createBuildService({ store, cache, logger: depsLogger });
  const stopBuilding = registry.onDeployed((version) => {
    builds
      .startBuild(version)
      .catch((err: unknown) =>
        depsLogger.error(
          { err, rufid: version.rufid, version: version.version },
          'could not start a build',
        ),
      );
  });
  const preparer = new ExecutionPreparer({
    config,
    store,
    runtimes: createRuntimes({ pythonPath: config.sandbox.python }),
    packages: {
      materialize: async (version, dir) => void (await registry.materialize(version, dir)),
    },
    secrets,
    dependencies: builds,
  });
  const budget = new BudgetGuard(store, {
    onError: (err) => logger.warn({ err }, 'could not record tenant spend'),
  });
  const service = new ExecutionService({
    config,
    queue,
    results,
    preparer,
    attempts: store,
    budget,
  });

  let engine: ExecutionEngine | undefined;
  let worker: Worker | undefined;
  let sweeper: RetentionSweeper | undefined;
  const tracing = await createTracing(config, options.worker ? 'relay-worker' : 'relay-api');
  if (options.worker) {
    sandboxes = await createSandboxManager(config, sandboxLogger);
    engine = new ExecutionEngine({
      config,
      preparer,
      pool: sandboxes,
      results,
      observers: [metrics, budget],
      tracer: tracing.tracer,
      onInternalError: (err, where) => logger.error({ err, where }, 'execution engine error'),
    });
    worker = new Worker({
      queue,
      engine,
      results,
      logger: logger.child({ component: 'worker' }),
      leaseMs: config.queue.leaseSeconds * 1000,
      retryPolicy: config.retry,
      attempts: store,
    });
    worker.start();
    sweeper = startRetentionSweeper(
      results,
      config.execution.resultRetentionHours,
      undefined,
      (err) => logger.warn({ err }, 'retention sweep failed'),
    );
  }

  let closing: Promise<void> | undefined;
  return {
    queue,
    service,
    metrics,
    builds,
    sandboxes,
    engine,
    worker,
    routes: [executionRoutes(service, results), usageRoutes(budget)],
    rootRoutes: [metricsRoutes(metrics)],
    close: (graceMs = config.shutdownGraceSeconds * 1000) => {
      closing ??= (async () => {
        stopBuilding();
        sweeper?.stop();
        await worker?.stop(graceMs);
        await builds.drain();
        await (await installRunner)?.close();
        await sandboxes?.close();
        await budget.close();
        await queue.close();
        await tracing.shutdown();
      })();
      return closing;
    },
  };
}
