/**
 * How an install command runs. Installs execute third-party code (npm
 * lifecycle scripts, Python build backends), so the runner is the
 * sandbox's `runIsolated` (bwrap, seccomp, cgroup limits; a plain process
 * only where the deployment chose the unisolated `process` sandbox): an
 * explicit environment (nothing inherited), a wall clock, bounded output.
 *
 * Binds are always requested at the same path inside the sandbox as on the
 * host, so argv and env mean the same thing under either runner. A runner
 * shows /usr (read-only) in every sandbox, and with `network` also the
 * resolver and CA files of /etc; installers bind only what lies elsewhere.
 */
export interface InstallBind {
  host: string;
  sandbox: string;
  writable: boolean;
}

export interface InstallRunRequest {
  /** argv[0] is an absolute path. */
  argv: string[];
  /** The complete environment. */
  env: Record<string, string>;
  binds: InstallBind[];
  network: boolean;
  timeoutMs: number;
  memoryMb: number;
  cwd: string;
}

export interface InstallRunResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  /** The runner saw the memory limit kill it (optional: not every runner can tell). */
  memoryExceeded?: boolean;
}

/** The shape of the sandbox's `runIsolated`. */
export interface InstallRunner {
  (request: InstallRunRequest): Promise<InstallRunResult>;
}
