/**
 * How an install command runs. Installs execute third-party code (npm
 * lifecycle scripts, Python build backends), so production uses the
 * sandbox's `runIsolated` (bwrap, seccomp, cgroup limits). The plain
 * process runner here is for deployments that chose the unisolated
 * `process` sandbox anyway, and it keeps the same contract: an explicit
 * environment (nothing inherited), a wall clock, bounded output.
 *
 * Binds are always requested at the same path inside the sandbox as on the
 * host, so argv and env mean the same thing under either runner. A runner
 * shows /usr (read-only) in every sandbox, and with `network` also the
 * resolver and CA files of /etc; installers bind only what lies elsewhere.
 */
import { spawn } from 'node:child_process';

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
}

/** The shape of the sandbox's `runIsolated`. */
export interface InstallRunner {
  (request: InstallRunRequest): Promise<InstallRunResult>;
}

/** Output kept per stream: the end matters (that is where installers say what failed). */
const MAX_OUTPUT_CHARS = 256 * 1024;

function keepTail(text: string, chunk: string): string {
  const joined = text + chunk;
  return joined.length > MAX_OUTPUT_CHARS ? joined.slice(joined.length - MAX_OUTPUT_CHARS) : joined;
}

/** Runs installs as plain child processes (no isolation: only for the `process` sandbox). */
export function createProcessInstallRunner(): InstallRunner {
  return (request) =>
    new Promise((resolve, reject) => {
      const [command, ...args] = request.argv;
      if (!command) {
        reject(new Error('empty argv'));
        return;
      }
      // Own process group, so a timeout kills the installer and everything it started.
      const child = spawn(command, args, {
        cwd: request.cwd,
        env: request.env,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      child.stdout
        .setEncoding('utf8')
        .on('data', (chunk: string) => (stdout = keepTail(stdout, chunk)));
      child.stderr
        .setEncoding('utf8')
        .on('data', (chunk: string) => (stderr = keepTail(stderr, chunk)));
      const killGroup = (): void => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        killGroup();
      }, request.timeoutMs);
      child.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        // Leftover background processes of the install must not outlive it.
        killGroup();
        resolve({ code, signal, stdout, stderr, timedOut });
      });
    });
}
