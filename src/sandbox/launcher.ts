/**
 * Starts a sandbox process already inside its limits. A tiny /bin/sh
 * wrapper sets the rlimits, writes its own pid into the sandbox's
 * cgroup.procs files and then execs the real command, so memory, pids and
 * CPU limits hold from the command's first instruction with no race and
 * one cheap exec (measured against prlimit and a post-spawn cgroup write:
 * within noise of each other, and only this one is race-free).
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { openSync, closeSync, readdirSync, readFileSync } from 'node:fs';
import type { Rlimits } from './limits/index.ts';

// $1 cpu seconds, $2 file size in 512-byte blocks, then cgroup.procs files up to "--", then the command.
const WRAPPER =
  'ulimit -c 0 && ulimit -t "$1" && ulimit -f "$2" && shift 2 && ' +
  'while [ "$1" != -- ]; do echo "$$" > "$1" || exit 125; shift; done && shift && exec "$@"';

/** Exit status of the wrapper when it could not join the cgroup. */
export const WRAPPER_SETUP_FAILED = 125;

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

/** Spawn `argv` inside the given cgroups and rlimits; stdio 1-4 are pipes. */
export function launch(request: LaunchRequest, strayFds: readonly number[]): ChildProcess {
  const { rlimits } = request;
  const fsizeBlocks = Math.max(1, Math.ceil(rlimits.fileSizeBytes / 512));
  const args = [
    '-c',
    WRAPPER,
    'sh',
    String(rlimits.cpuSeconds),
    String(fsizeBlocks),
    ...request.procsFiles,
    '--',
    ...request.argv,
  ];
  const stdio: StdioOptions = [
    'ignore',
    'pipe',
    'pipe',
    'pipe',
    'pipe',
    ...(request.extraFds ?? []),
  ];
  let devNull: number | undefined;
  if (strayFds.length > 0) {
    devNull = openSync('/dev/null', 'r');
    for (const fd of strayFds) {
      while (stdio.length < fd) stdio.push('ignore');
      if (stdio.length === fd) stdio.push(devNull);
    }
  }
  try {
    return spawn('/bin/sh', args, {
      stdio,
      env: request.env,
      cwd: request.cwd ?? '/',
      detached: request.detached ?? false,
    });
  } finally {
    if (devNull !== undefined) closeSync(devNull);
  }
}
