/**
 * cgroup v2 (unified): one directory per sandbox under Relay's parent
 * group. Controllers must be enabled down the tree; when Relay's own group
 * holds processes (the "no internal processes" rule), Relay moves itself
 * into a leaf first, as systemd-delegated services do.
 */
import { closeSync, mkdirSync, openSync, readSync, writeSync } from 'node:fs';
import path from 'node:path';
import {
  type CgroupLimits,
  type CgroupSnapshot,
  type SandboxCgroup,
  killUntilEmpty,
  readKey,
  readPids,
  readText,
  removeDir,
  tryWrite,
  write,
} from './group.ts';

const CFS_PERIOD_US = 100_000;

/** Relay's parent group in the unified hierarchy. */
export class CgroupV2 {
  readonly version = 'v2';
  private readonly ownDir: string;
  private readonly parent: string;
  private cpu = false;

  constructor(ownDir: string, parentName: string) {
    this.ownDir = ownDir;
    this.parent = path.join(ownDir, parentName);
  }

  /** Enable memory, pids (and cpu when offered) for Relay's children; throws when impossible. */
  init(): void {
    const available = (readText(path.join(this.ownDir, 'cgroup.controllers')) ?? '')
      .trim()
      .split(/\s+/);
    if (!available.includes('memory') || !available.includes('pids')) {
      throw new Error(`cgroup v2 controllers memory and pids are not delegated to ${this.ownDir}`);
    }
    this.cpu = available.includes('cpu');
    const wanted = ['memory', 'pids', ...(this.cpu ? ['cpu'] : [])];
    const enable = wanted.map((c) => `+${c}`).join(' ');
    if (
      !this.enabledIn(this.ownDir, wanted) &&
      !tryWrite(path.join(this.ownDir, 'cgroup.subtree_control'), enable)
    ) {
      // Our own group holds processes: move this process into a leaf, then retry.
      const leaf = path.join(this.ownDir, `relay-supervisor-${process.pid}`);
      mkdirSync(leaf, { recursive: true });
      write(path.join(leaf, 'cgroup.procs'), String(process.pid));
      write(path.join(this.ownDir, 'cgroup.subtree_control'), enable);
    }
    mkdirSync(this.parent, { recursive: true });
    write(path.join(this.parent, 'cgroup.subtree_control'), enable);
  }

  ownDirs(): string[] {
    return [this.ownDir];
  }

  parentDirs(): string[] {
    return [this.parent];
  }

  private enabledIn(dir: string, wanted: string[]): boolean {
    const enabled = (readText(path.join(dir, 'cgroup.subtree_control')) ?? '').trim().split(/\s+/);
    return wanted.every((c) => enabled.includes(c));
  }

  create(id: string, limits: CgroupLimits): SandboxCgroup {
    const dir = path.join(this.parent, id);
    mkdirSync(dir);
    try {
      write(path.join(dir, 'memory.max'), String(Math.floor(limits.memoryMb * 1024 * 1024)));
      // Swap would let a function exceed its memory unseen; forbid it.
      tryWrite(path.join(dir, 'memory.swap.max'), '0');
      // An OOM kill takes the whole sandbox, never leaves it half alive.
      tryWrite(path.join(dir, 'memory.oom.group'), '1');
      write(path.join(dir, 'pids.max'), String(limits.pids));
      if (this.cpu) {
        write(
          path.join(dir, 'cpu.max'),
          `${Math.max(1000, Math.round(limits.cpus * CFS_PERIOD_US))} ${CFS_PERIOD_US}`,
        );
      }
    } catch (err) {
      void removeDir(dir, 0);
      throw err;
    }
    return new V2Group(dir);
  }
}

class V2Group implements SandboxCgroup {
  readonly procsFiles: readonly string[];
  private readonly dir: string;
  private peakFd: number | undefined;
  private removed: Promise<void> | undefined;

  constructor(dir: string) {
    this.dir = dir;
    this.procsFiles = [path.join(dir, 'cgroup.procs')];
  }

  snapshot(): CgroupSnapshot {
    const usec = readKey(path.join(this.dir, 'cpu.stat'), 'usage_usec');
    return {
      cpuNs: usec === undefined ? undefined : usec * 1000,
      oomKills: readKey(path.join(this.dir, 'memory.events'), 'oom_kill') ?? 0,
    };
  }

  /** Since 6.12 a write to memory.peak resets it for reads through the same descriptor. */
  resetPeak(): void {
    this.closePeak();
    try {
      const fd = openSync(path.join(this.dir, 'memory.peak'), 'r+');
      try {
        writeSync(fd, 'reset\n');
        this.peakFd = fd;
      } catch {
        closeSync(fd);
      }
    } catch {
      // memory.peak missing (kernel < 5.19): the lifetime value is read instead.
    }
  }

  peakMemoryBytes(): number | undefined {
    if (this.peakFd !== undefined) {
      const buf = Buffer.alloc(32);
      try {
        const n = readSync(this.peakFd, buf, 0, buf.length, 0);
        const v = Number(buf.subarray(0, n).toString().trim());
        if (Number.isFinite(v)) return v;
      } catch {
        // fall through to the plain read
      }
    }
    const text = readText(path.join(this.dir, 'memory.peak'));
    const v = text === undefined ? NaN : Number(text.trim());
    return Number.isFinite(v) ? v : undefined;
  }

  pids(): number[] {
    return readPids(path.join(this.dir, 'cgroup.procs'));
  }

  async killAll(): Promise<void> {
    tryWrite(path.join(this.dir, 'cgroup.kill'), '1');
    await killUntilEmpty(() => this.pids());
  }

  remove(): Promise<void> {
    this.removed ??= (async () => {
      this.closePeak();
      await this.killAll();
      await removeDir(this.dir);
    })();
    return this.removed;
  }

  private closePeak(): void {
    if (this.peakFd === undefined) return;
    try {
      closeSync(this.peakFd);
    } catch {
      // already closed
    }
    this.peakFd = undefined;
  }
}
