/**
 * MetricsCollector: the seed's metrics under their Prometheus names, on a
 * registry owned by this instance (no global default registry), labelled
 * by tenant, runtime, branch and outcome.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ExecutionRecord } from '../domain/index.ts';

const DURATION_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];

export interface GaugeSources {
  sandboxes?: () => { warm: number; busy: number };
  queueDepth?: () => Promise<number> | number;
}

export class MetricsCollector {
  readonly registry = new Registry();
  readonly #duration: Histogram<'tenant' | 'runtime' | 'branch' | 'outcome'>;
  readonly #queueDelay: Histogram<'tenant' | 'runtime' | 'branch'>;
  readonly #cost: Counter<'tenant' | 'runtime' | 'branch' | 'outcome'>;
  readonly #executions: Counter<'tenant' | 'runtime' | 'branch' | 'outcome'>;
  readonly #depsInstall: Histogram<'runtime' | 'outcome'>;

  constructor(sources: GaugeSources = {}, options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    const labels = ['tenant', 'runtime', 'branch', 'outcome'] as const;
    this.#duration = new Histogram({
      name: 'relay_execution_duration_seconds',
      help: 'Time a function ran, from invoke to reply',
      labelNames: labels,
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#queueDelay = new Histogram({
      name: 'relay_execution_queue_delay_seconds',
      help: 'Time an execution waited between submission and start',
      labelNames: ['tenant', 'runtime', 'branch'],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.#cost = new Counter({
      name: 'relay_execution_cost_total',
      help: 'Cost units charged for executions',
      labelNames: labels,
      registers,
    });
    this.#executions = new Counter({
      name: 'relay_executions_total',
      help: 'Executions finished, by outcome',
      labelNames: labels,
      registers,
    });
    this.#depsInstall = new Histogram({
      name: 'relay_dependency_install_duration_seconds',
      help: 'Time spent installing a dependency set',
      labelNames: ['runtime', 'outcome'],
      buckets: [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
      registers,
    });
    const { sandboxes, queueDepth } = sources;
    if (sandboxes) {
      new Gauge({
        name: 'relay_sandboxes',
        help: 'Sandboxes held by this process, by state',
        labelNames: ['state'],
        registers,
        collect() {
          const s = sandboxes();
          this.set({ state: 'warm' }, s.warm);
          this.set({ state: 'busy' }, s.busy);
        },
      });
    }
    if (queueDepth) {
      new Gauge({
        name: 'relay_queue_depth',
        help: 'Executions waiting in the queue',
        registers,
        async collect() {
          this.set(await queueDepth());
        },
      });
    }
    if (options.processMetrics)
      collectDefaultMetrics({ register: this.registry, prefix: 'relay_' });
  }

  /** Records a finished execution (implements the engine's ExecutionObserver). */
  executionFinished(record: ExecutionRecord, runtime: string): void {
    const base = { tenant: record.tenantId, runtime, branch: record.branch };
    const labels = { ...base, outcome: record.status };
    if (record.timings.runMs !== undefined)
      this.#duration.observe(labels, record.timings.runMs / 1000);
    if (record.timings.queueMs !== undefined)
      this.#queueDelay.observe(base, record.timings.queueMs / 1000);
    if (record.cost > 0) this.#cost.inc(labels, record.cost);
    this.#executions.inc(labels);
  }

  dependencyInstalled(runtime: string, ok: boolean, seconds: number): void {
    this.#depsInstall.observe({ runtime, outcome: ok ? 'ready' : 'failed' }, seconds);
  }

  /** The Prometheus text exposition. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
