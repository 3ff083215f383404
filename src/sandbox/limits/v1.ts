/**
 * cgroup v1: one directory per controller hierarchy (memory, pids, cpu,
 * cpuacct; co-mounted controllers share one). Swap is counted through
 * memory.memsw when the kernel accounts it; OOM kills are read from
 * memory.oom_control, never guessed from exit signals.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Hierarchy } from './hierarchy.ts';
import {
  type CgroupLimits,
  type CgroupSnapshot,
  type SandboxCgroup,
  killUntilEmpty,
  readInt,
  readKey,
  readPids,
  removeDir,
  tryWrite,
  write,
} from './group.ts';

const CFS_PERIOD_US = 100_000;

export interface V1Hierarchies {
  memory: Hierarchy;
  pids: Hierarchy;
  cpu: Hierarchy | undefined;
  cpuacct: Hierarchy | undefined;
}

/** Relay's parent group in every v1 hierarchy it uses. */
export class CgroupV1 {
  readonly version = 'v1';
  private readonly h: V1Hierarchies;
  private readonly parents: Map<Hierarchy, string>;

  constructor(hierarchies: V1Hierarchies, parentName: string) {
    this.h = hierarchies;
    this.parents = new Map();
    for (const x of [hierarchies.memory, hierarchies.pids, hierarchies.cpu, hierarchies.cpuacct]) {
      if (x && !this.parents.has(x)) this.parents.set(x, path.join(x.ownDir, parentName));
    }
  }

  /** Create the parent groups; throws when the hierarchy is not writable. */
  init(): void {
    for (const dir of this.parents.values()) mkdirSync(dir, { recursive: true });
  }

  ownDirs(): string[] {
    return [...this.parents.keys()].map((h) => h.ownDir);
  }

  parentDirs(): string[] {
    return [...this.parents.values()];
  }

  /** Create and limit one sandbox's groups (synchronous: it sits on the cold-start path). */
  create(id: string, limits: CgroupLimits): SandboxCgroup {
    const dirs = new Map<Hierarchy, string>();
    try {
      for (const [h, parent] of this.parents) {
        const dir = path.join(parent, id);
        mkdirSync(dir);
        dirs.set(h, dir);
      }
      const mem = dirs.get(this.h.memory)!;
      const bytes = String(Math.floor(limits.memoryMb * 1024 * 1024));
      write(path.join(mem, 'memory.limit_in_bytes'), bytes);
      // Absent without swap accounting; then swap is simply not counted.
      tryWrite(path.join(mem, 'memory.memsw.limit_in_bytes'), bytes);
      write(path.join(dirs.get(this.h.pids)!, 'pids.max'), String(limits.pids));
      if (this.h.cpu) {
        const cpu = dirs.get(this.h.cpu)!;
        write(path.join(cpu, 'cpu.cfs_period_us'), String(CFS_PERIOD_US));
        write(
          path.join(cpu, 'cpu.cfs_quota_us'),
          String(Math.max(1000, Math.round(limits.cpus * CFS_PERIOD_US))),
        );
      }
    } catch (err) {
      void Promise.all([...dirs.values()].map((d) => removeDir(d, 0)));
      throw err;
    }
    return new V1Group(dirs, this.h);
  }
}

class V1Group implements SandboxCgroup {
  readonly procsFiles: readonly string[];
  private readonly dirs: Map<Hierarchy, string>;
  private readonly memDir: string;
  private readonly pidsDir: string;
  private readonly cpuacctDir: string | undefined;
  private removed: Promise<void> | undefined;

  constructor(dirs: Map<Hierarchy, string>, h: V1Hierarchies) {
    this.dirs = dirs;
    this.procsFiles = [...dirs.values()].map((d) => path.join(d, 'cgroup.procs'));
    this.memDir = dirs.get(h.memory)!;
    this.pidsDir = dirs.get(h.pids)!;
    this.cpuacctDir = h.cpuacct ? dirs.get(h.cpuacct) : undefined;
  }

  snapshot(): CgroupSnapshot {
    return {
      cpuNs:
        this.cpuacctDir === undefined
          ? undefined
          : readInt(path.join(this.cpuacctDir, 'cpuacct.usage')),
      oomKills: readKey(path.join(this.memDir, 'memory.oom_control'), 'oom_kill') ?? 0,
    };
  }

  resetPeak(): void {
    tryWrite(path.join(this.memDir, 'memory.max_usage_in_bytes'), '0');
  }

  peakMemoryBytes(): number | undefined {
    return readInt(path.join(this.memDir, 'memory.max_usage_in_bytes'));
  }

  pids(): number[] {
    const all = new Set([
      ...readPids(path.join(this.pidsDir, 'cgroup.procs')),
      ...readPids(path.join(this.memDir, 'cgroup.procs')),
    ]);
    return [...all];
  }

  async killAll(): Promise<void> {
    await killUntilEmpty(() => this.pids());
  }

  remove(): Promise<void> {
    this.removed ??= (async () => {
      await this.killAll();
      await Promise.all([...this.dirs.values()].map((d) => removeDir(d)));
    })();
    return this.removed;
  }
}
