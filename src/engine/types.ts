/**
 * What the engine runs (a job) and the small collaborators it needs, stated
 * as the engine needs them so that registry, secrets and dependency code
 * plug in without the engine knowing their internals.
 */
import type {
  ExecutionError,
  ExecutionRecord,
  ExecutionStatus,
  FunctionVersion,
  LogStream,
  Tenant,
} from '../domain/index.ts';
import type { InvokeOutcome, Sandbox, SandboxSpec } from '../sandbox/port.ts';

/** One attempt at one execution, as a worker hands it to the engine. */
export interface ExecutionJob {
  executionId: string;
  tenantId: string;
  rufid: string;
  version: number;
  branch: string;
  input: unknown;
  attempt: number;
  /** Epoch ms at which the job entered the queue (for queue delay). */
  enqueuedAt: number;
  traceparent?: string | null;
}

/** Writes a version's files to a directory the sandbox mounts read-only. */
export interface PackageSource {
  materialize(version: FunctionVersion, dir: string): Promise<void>;
}

/** Hydrates the secrets a manifest lists; values never leave the sandbox env. */
export interface SecretSource {
  resolve(tenantId: string, names: string[]): Promise<Record<string, string>>;
  /** A function that replaces any of `values` in a log line. */
  redactor(values: string[]): (line: string) => string;
}

/** A held dependency set; released when the sandbox using it is gone. */
export interface DependencyHandle {
  dir: string;
  release(): void;
}

/** Installs (or finds cached) the dependency set of a version. */
export interface DependencySource {
  /** Null when the version declares no dependencies. */
  acquire(version: FunctionVersion): Promise<DependencyHandle | null>;
}

/** Everything known about an execution while it runs; hooks read and extend it. */
export interface ExecutionContext {
  readonly job: ExecutionJob;
  tenant?: Tenant;
  version?: FunctionVersion;
  spec?: SandboxSpec;
  outcome?: InvokeOutcome;
  status?: ExecutionStatus;
  output?: unknown;
  error?: ExecutionError | null;
  /** Free-form values hooks share with each other. */
  readonly attributes: Map<string, unknown>;
  log(stream: LogStream, line: string): void;
}

/**
 * A lifecycle hook (the seed's pre-, execution and post-execution phases).
 * A hook that throws fails the execution with type `HookFailed`; cleanup
 * still runs.
 */
export interface LifecycleHook {
  readonly name: string;
  /** After manifest, secrets and dependencies are resolved, before the sandbox is acquired. */
  pre?(ctx: ExecutionContext): Promise<void> | void;
  /** After the function returned, before the result is persisted. */
  post?(ctx: ExecutionContext): Promise<void> | void;
}

/** What `run` hands back: the final record as persisted. */
export type RunResult = ExecutionRecord;

/** The part of the SandboxManager the engine uses. */
export interface SandboxPool {
  acquire(spec: SandboxSpec): Promise<{ sandbox: Sandbox; warm: boolean }>;
  /** Back to the warm pool if still reusable, else destroyed. */
  release(sandbox: Sandbox): Promise<void>;
}

/** Observes finished executions (the seed's MetricsCollector implements it). */
export interface ExecutionObserver {
  executionFinished(record: ExecutionRecord, runtime: string): void;
}
