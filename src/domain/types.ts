/**
 * The nouns every part of Relay shares: tenants, keys, functions, versions,
 * branches and executions. Plain data only; behaviour lives in the modules.
 */

export const SCOPES = ['operator', 'admin', 'deploy', 'invoke', 'branch'] as const;
export type Scope = (typeof SCOPES)[number];

export const RUNTIMES = ['python3.11', 'node24', 'wasm'] as const;
export type Runtime = (typeof RUNTIMES)[number];

export const MAIN_BRANCH = 'main';

/** Caps a tenant's functions and traffic must stay within. */
export interface TenantLimits {
  maxTimeoutSeconds: number;
  maxMemoryMb: number;
  maxCpus: number;
  /** Executions running at once across all workers. */
  maxConcurrency: number;
  /** Executions waiting in the queue at once. */
  maxQueued: number;
  /** Highest priority (0-9) this tenant may ask for. */
  maxPriority: number;
  /** Spend allowed per UTC month in cost units; null means no budget. */
  monthlyBudget: number | null;
}

export interface Tenant {
  id: string;
  name: string;
  limits: TenantLimits;
  createdAt: string;
}

export interface ApiKey {
  id: string;
  tenantId: string;
  name: string;
  scopes: Scope[];
  /** Branches a `branch`-scoped key may run; null means every branch. */
  branches: string[] | null;
  createdAt: string;
  revokedAt: string | null;
}

/** An API key as persisted: the record plus the hash of its secret. */
export interface StoredApiKey extends ApiKey {
  secretHash: string;
}

export interface ManifestLimits {
  timeoutSeconds?: number;
  memoryMb?: number;
  cpus?: number;
}

/** `relay.json`: what a function package declares about itself. */
export interface Manifest {
  runtime: Runtime;
  entrypoint: string;
  /** Python: requirement lines; Node: name → version range. */
  dependencies?: string[] | Record<string, string>;
  limits?: ManifestLimits;
  env?: Record<string, string>;
  secrets?: string[];
  /** Outbound network from the sandbox; off unless asked for. */
  network?: boolean;
  /** Attempts for async executions before the execution is `dead`. */
  maxAttempts?: number;
}

/** One file of a package: its path and the digest of its bytes. */
export interface PackageEntry {
  path: string;
  digest: string;
  size: number;
}

export interface FunctionRecord {
  rufid: string;
  tenantId: string;
  name: string;
  createdAt: string;
}

export type BuildStatus = 'pending' | 'ready' | 'failed';

export interface BuildState {
  status: BuildStatus;
  /** Installer output (tail) for pending/failed builds; empty when nothing to install. */
  log: string;
  updatedAt: string;
}

/** One immutable entry of the version ledger. */
export interface FunctionVersion {
  rufid: string;
  version: number;
  /** sha256 of the canonical package (manifest + files). */
  digest: string;
  manifest: Manifest;
  files: PackageEntry[];
  size: number;
  deployedBy: string;
  message: string;
  branch: string;
  createdAt: string;
  build: BuildState;
}

export interface BranchHead {
  rufid: string;
  branch: string;
  version: number;
  updatedAt: string;
}

export const EXECUTION_STATUSES = [
  'queued',
  'running',
  'succeeded',
  'failed',
  'timed_out',
  'memory_exceeded',
  'cancelled',
  'rejected',
  'dead',
] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

export const TERMINAL_STATUSES: ReadonlySet<ExecutionStatus> = new Set([
  'succeeded',
  'failed',
  'timed_out',
  'memory_exceeded',
  'cancelled',
  'rejected',
  'dead',
]);

export interface ExecutionError {
  type: string;
  message: string;
  stack?: string;
}

export interface ExecutionTimings {
  queueMs?: number;
  prepMs?: number;
  runMs?: number;
  totalMs?: number;
}

export interface ExecutionUsage {
  cpuMs?: number;
  peakMemoryBytes?: number;
  coldStart?: boolean;
}

export interface ExecutionRecord {
  id: string;
  tenantId: string;
  rufid: string;
  version: number;
  branch: string;
  status: ExecutionStatus;
  input: unknown;
  output: unknown;
  error: ExecutionError | null;
  timings: ExecutionTimings;
  usage: ExecutionUsage;
  cost: number;
  attempt: number;
  maxAttempts: number;
  priority: number;
  async: boolean;
  idempotencyKey: string | null;
  traceparent: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

export type LogStream = 'stdout' | 'stderr' | 'system';

export interface LogLine {
  seq: number;
  stream: LogStream;
  time: string;
  line: string;
}

/** One try at running an execution; async executions may take several. */
export interface ExecutionAttempt {
  /** 1, 2, 3... as counted by the execution's `attempt`. */
  attempt: number;
  status: ExecutionStatus;
  error: ExecutionError | null;
  /** The worker that held the job, when one did. */
  workerId: string | null;
  startedAt: string;
  finishedAt: string | null;
  durationMs: number | null;
}
