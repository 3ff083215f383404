/**
 * Starts a sandbox process already inside its limits and as its host user.
 * A tiny /bin/sh wrapper is spawned as that user (65534 when Relay is
 * root; see credentials.ts) and waits for one line on stdin; Relay writes
 * the wrapper's pid into the sandbox's cgroup.procs files and only then
 * sends the line. The wrapper sets the rlimits and execs the real command,
 * so memory, pids and CPU limits hold from the command's first instruction
 * with no race and one cheap exec (an unprivileged wrapper cannot join a
 * root-owned cgroup itself, and a setpriv exec to drop privileges after
 * joining would cost every start about 2 ms of CPU).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { openSync, closeSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import type { HostCredentials } from './credentials.ts';
import type { Rlimits } from './limits/index.ts';

// $1 cpu seconds, $2 file size in 512-byte blocks, then the command. The
// umask keeps what a sandbox writes into a lent directory readable later.
const LIMITS = 'umask 022; ulimit -c 0 && ulimit -t "$1" && ulimit -f "$2" && shift 2 && exec "$@"';
const WRAPPER = `read -r _ || exit 125; exec </dev/null; ${LIMITS}`;
/** The same, leaving the rest of stdin (after the go line) to the command. */
const WRAPPER_WITH_INPUT = `read -r _ || exit 125; ${LIMITS}`;

export interface LaunchRequest {
  argv: readonly string[];
  env: Record<string, string>;
  cwd?: string;
  procsFiles: readonly string[];
  rlimits: Rlimits;
  /** Extra descriptors from fd 5 on ('pipe' or an open fd), after the protocol pipes 3 and 4. */
  extraFds?: Array<'pipe' | number>;
  /** Start in a new process group so a cgroup-less kill can reach every descendant. */
  detached?: boolean;
  /** Host user to run as (null: Relay's own). */
  credentials: HostCredentials | null;
  /** The command's stdin (else /dev/null). */
  input?: string;
}

/**
 * Descriptors this process holds without close-on-exec (inherited from
 * whoever started Relay: Node itself opens everything close-on-exec).
 * They would leak into every sandbox, and a leaked directory descriptor
 * escapes a mount namespace, so each spawn overwrites them with /dev/null.
 */
export function inheritedDescriptors(): number[] {
  const fds: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc/self/fd');
  } catch {
    return fds;
  }
  for (const name of entries) {
    const fd = Number(name);
    if (!(fd > 2)) continue;
    try {
      const info = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8');
      const flags = /^flags:\s+([0-7]+)$/m.exec(info);
      // O_CLOEXEC is 02000000 in fdinfo's octal flags.
      if (flags && (parseInt(flags[1]!, 8) & 0o2000000) === 0) fds.push(fd);
    } catch {
      // closed meanwhile (e.g. the directory handle used to list)
    }
  }
  return fds;
}

/**
 * Spawn `argv` inside the given cgroups and rlimits, as the given user;
 * stdio 1-4 are pipes and fd 0 is /dev/null once the command runs. Throws
 * (having killed the wrapper) when the cgroup cannot be joined.
 */
export function launch(request: LaunchRequest, strayFds: readonly number[]): ChildProcess {
  const { rlimits, credentials } = request;
  const fsizeBlocks = Math.max(1, Math.ceil(rlimits.fileSizeBytes / 512));
  const args = [
    '-c',
    request.input === undefined ? WRAPPER : WRAPPER_WITH_INPUT,
    'sh',
    String(rlimits.cpuSeconds),
    String(fsizeBlocks),
    ...request.argv,
  ];
  const stdio: StdioOptions = ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', ...(request.extraFds ?? [])];
  let devNull: number | undefined;
  if (strayFds.length > 0) {
    devNull = openSync('/dev/null', 'r');
    for (const fd of strayFds) {
      while (stdio.length < fd) stdio.push('ignore');
      if (stdio.length === fd) stdio.push(devNull);
    }
  }
  let child: ChildProcess;
  try {
    child = spawn('/bin/sh', args, {
      stdio,
      env: request.env,
      cwd: request.cwd ?? '/',
      detached: request.detached ?? false,
      // libuv also clears the supplementary groups when it changes the ids.
      ...(credentials ? { uid: credentials.uid, gid: credentials.gid } : {}),
    });
  } finally {
    if (devNull !== undefined) closeSync(devNull);
  }
  // No pid: spawning failed and the child emits 'error', which callers await.
  if (child.pid === undefined) return child;
  try {
    for (const file of request.procsFiles) writeFileSync(file, String(child.pid));
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`could not move a sandbox into its cgroup: ${(err as Error).message}`);
  }
  const go = child.stdio[0] as Writable;
  go.on('error', () => undefined);
  go.end(`\n${request.input ?? ''}`);
  return child;
}
