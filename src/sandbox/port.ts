/**
 * Sandbox providers: start an isolated, limited process running a runtime's
 * bootstrap, then speak the invoke protocol with it (requests on fd 3,
 * replies on fd 4, newline-delimited JSON; stdout/stderr are the
 * function's logs). One conformance suite (test/integration/sandbox)
 * runs against every provider.
 */
import type { ExecutionError, LogStream } from '../domain/index.ts';
import type { RuntimeAdapter } from '../runtimes/port.ts';

export interface SandboxLimits {
  memoryMb: number;
  /** CPU quota in cores (0.5 = half a core). */
  cpus: number;
  pids: number;
  /** Size cap of the writable /tmp. */
  tmpMb: number;
  /** Largest file the function may write (RLIMIT_FSIZE). */
  fileSizeMb: number;
  /** Largest reply accepted on fd 4, in bytes. */
  maxResultBytes: number;
}

/** Everything that makes a sandbox; two specs with equal poolKey may share a warm sandbox. */
export interface SandboxSpec {
  /** Identity for warm reuse: tenant, rufid, version, branch, digest and limits. */
  poolKey: string;
  tenantId: string;
  rufid: string;
  version: number;
  branch: string;
  runtime: RuntimeAdapter;
  entrypoint: string;
  /** Host directory with the function's files (mounted read-only). */
  taskDir: string;
  /** Host directory with installed dependencies (mounted read-only). */
  depsDir?: string;
  /** Manifest env plus hydrated secrets; the sandbox inherits nothing else. */
  env: Record<string, string>;
  network: boolean;
  limits: SandboxLimits;
}

/** The Lambda-style context handed to the handler. */
export interface InvokeContext {
  executionId: string;
  tenantId: string;
  rufid: string;
  functionName: string;
  version: number;
  branch: string;
  memoryLimitMb: number;
  /** Epoch milliseconds at which the invocation is killed. */
  deadlineMs: number;
}

export interface InvokeRequest {
  id: string;
  input: unknown;
  context: InvokeContext;
}

/**
 * How one invocation ended. `error` is the handler's own failure (the
 * sandbox stays usable); every other non-ok kind leaves it unusable.
 */
export type InvokeOutcome =
  | { kind: 'ok'; output: unknown }
  | { kind: 'error'; error: ExecutionError }
  | { kind: 'timed_out' }
  | { kind: 'memory_exceeded' }
  | { kind: 'result_too_large'; bytes: number }
  | { kind: 'cancelled' }
  | { kind: 'crashed'; error: ExecutionError };

export interface InvokeUsage {
  cpuMs?: number;
  peakMemoryBytes?: number;
}

export interface InvokeResult {
  outcome: InvokeOutcome;
  usage: InvokeUsage;
  durationMs: number;
}

export interface InvokeOptions {
  /** Wall clock for this invocation; on expiry everything in the sandbox is killed. */
  timeoutMs: number;
  /** One call per line of function output, in order. */
  onLog: (stream: LogStream, line: string) => void;
  /** Aborting kills the sandbox and ends the invocation as `cancelled`. */
  signal?: AbortSignal;
}

export interface Sandbox {
  readonly id: string;
  readonly spec: SandboxSpec;
  /** False once the sandbox timed out, crashed, ran out of memory or was destroyed. */
  readonly reusable: boolean;
  /** One invocation at a time; concurrent calls are a programming error. */
  invoke(request: InvokeRequest, options: InvokeOptions): Promise<InvokeResult>;
  /** Kills every process of the sandbox and removes its resources; idempotent. */
  destroy(): Promise<void>;
}

/** Bounds on starting a sandbox (loading the function counts against the caller's time). */
export interface StartOptions {
  /** Longest wait for the readiness line; on expiry the first invoke reports `timed_out`. */
  timeoutMs?: number;
  /** Aborting kills the starting sandbox; the first invoke reports `cancelled`. */
  signal?: AbortSignal;
}

export interface SandboxProvider {
  readonly name: 'bwrap' | 'process';
  /** True when functions cannot see the host, other tenants or the network. */
  readonly isolated: boolean;
  /**
   * Starts a sandbox and waits until its bootstrap is ready for requests.
   * A function that fails to load, runs out of memory or time while loading
   * still yields a sandbox: its first invoke reports that outcome and it is
   * not reusable. Rejects only when the host cannot start sandboxes at all.
   */
  start(spec: SandboxSpec, options?: StartOptions): Promise<Sandbox>;
  close(): Promise<void>;
}
