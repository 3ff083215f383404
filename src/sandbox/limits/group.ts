/**
 * What a per-sandbox cgroup offers the rest of the sandbox layer, whatever
 * the cgroup version, plus the file helpers both versions share.
 */
import { readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface CgroupLimits {
  memoryMb: number;
  /** CPU quota in cores. */
  cpus: number;
  pids: number;
}

export interface CgroupSnapshot {
  /** CPU time used by the group so far, when cpu accounting is available. */
  cpuNs: number | undefined;
  /** OOM kills counted in the group so far. */
  oomKills: number;
}

export interface SandboxCgroup {
  /** cgroup.procs files the launcher writes the new process's pid into before it execs. */
  readonly procsFiles: readonly string[];
  snapshot(): CgroupSnapshot;
  /** Start measuring peak memory afresh (per invocation). */
  resetPeak(): void;
  peakMemoryBytes(): number | undefined;
  /** Pids of every process in the group. */
  pids(): number[];
  /** SIGKILL every process in the group until none is left (bounded wait). */
  killAll(): Promise<void>;
  /** Kill what is left and remove the group's directories; idempotent. */
  remove(): Promise<void>;
}

/** Read a file as text, or undefined when it cannot be read. */
export function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Read a file holding one integer. */
export function readInt(file: string): number | undefined {
  const text = readText(file);
  if (text === undefined) return undefined;
  const n = Number(text.trim());
  return Number.isFinite(n) ? n : undefined;
}

/** The value of `key N` in a flat-keyed file (memory.events, oom_control, cpu.stat). */
export function readKey(file: string, key: string): number | undefined {
  const text = readText(file);
  if (text === undefined) return undefined;
  const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
}

/** Write a cgroup file; throws when the kernel refuses. */
export function write(file: string, value: string): void {
  writeFileSync(file, value);
}

/** Write when the file exists; false when the kernel lacks it or refuses. */
export function tryWrite(file: string, value: string): boolean {
  try {
    writeFileSync(file, value);
    return true;
  } catch {
    return false;
  }
}

/** The pids listed in a cgroup.procs file (empty when it is gone). */
export function readPids(procsFile: string): number[] {
  const text = readText(procsFile);
  if (!text) return [];
  return text
    .split('\n')
    .filter((s) => s !== '')
    .map(Number);
}

/**
 * Kill every listed process until the list is empty. A process forked
 * between a read and the kills shows up on the next pass; a SIGKILLed
 * process cannot fork, so this converges.
 */
export async function killUntilEmpty(list: () => number[], timeoutMs = 3000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (let pass = 0; ; pass++) {
    const pids = list();
    if (pids.length === 0) return true;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (Date.now() > deadline) return false;
    await sleep(pass < 5 ? 2 : 10);
  }
}

/** rmdir that waits briefly for exiting processes to leave the group. */
export async function removeDir(dir: string, timeoutMs = 2000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      rmdirSync(dir);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      if (code !== 'EBUSY' || Date.now() > deadline) return false;
      await sleep(10);
    }
  }
}
