/**
 * ResourceLimitsEnforcer: per-sandbox cgroups (v2 when its controllers are
 * usable, else v1, else none with a loud log) plus the rlimits every
 * sandbox process starts under. The wall clock is enforced by the session
 * (session.ts), which kills through the cgroup this hands out.
 */
import { existsSync, readdirSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { SandboxLogger } from '../logger.ts';
import type { CgroupLimits, SandboxCgroup } from './group.ts';
import { killUntilEmpty, readPids, removeDir } from './group.ts';
import { readCgroupLayout, type CgroupLayout } from './hierarchy.ts';
import { CgroupV1 } from './v1.ts';
import { CgroupV2 } from './v2.ts';

export type { CgroupLimits, CgroupSnapshot, SandboxCgroup } from './group.ts';

export type CgroupMode = 'v2' | 'v1' | 'none';

/** Limits applied with setrlimit before the sandbox's first instruction (hard = soft). */
export interface Rlimits {
  /** RLIMIT_CPU in seconds: a backstop behind the wall clock and the cgroup quota. */
  cpuSeconds: number;
  /** RLIMIT_FSIZE in bytes. */
  fileSizeBytes: number;
}

export interface EnforcerOptions {
  logger: SandboxLogger;
  /** `auto` (default) picks v2, then v1, then none. */
  mode?: 'auto' | CgroupMode;
  /** Where /proc/self lives (tests). */
  procSelf?: string;
}

const PARENT_PATTERN = /^relay-(\d+)-[0-9a-f]+$/;

/** Hands out limited cgroups and rlimits for sandboxes; one per provider. */
export class ResourceLimitsEnforcer {
  readonly mode: CgroupMode;
  private readonly driver: CgroupV1 | CgroupV2 | null;
  private closed = false;

  private constructor(mode: CgroupMode, driver: CgroupV1 | CgroupV2 | null) {
    this.mode = mode;
    this.driver = driver;
  }

  /** Detect what the kernel offers and create Relay's parent group(s). */
  static create(options: EnforcerOptions): ResourceLimitsEnforcer {
    const { logger } = options;
    const want = options.mode ?? 'auto';
    const layout = readCgroupLayout(options.procSelf);
    const parentName = `relay-${process.pid}-${randomBytes(4).toString('hex')}`;
    const reasons: string[] = [];
    for (const mode of ['v2', 'v1'] as const) {
      if (want !== 'auto' && want !== mode) continue;
      const driver =
        mode === 'v2'
          ? v2Driver(layout, parentName, reasons)
          : v1Driver(layout, parentName, reasons);
      if (!driver) continue;
      try {
        sweepStale(driver.ownDirs());
        driver.init();
        logger.info({ cgroup: mode, parent: driver.parentDirs() }, 'sandbox cgroups enabled');
        return new ResourceLimitsEnforcer(mode, driver);
      } catch (err) {
        reasons.push(`${mode}: ${(err as Error).message}`);
        void Promise.all(driver.parentDirs().map((d) => removeDir(d, 0)));
      }
    }
    if (want !== 'none') {
      logger.warn(
        { reasons },
        'cgroups unusable: sandbox memory, pids and CPU quota are NOT enforced; only rlimits and the wall clock apply',
      );
    }
    return new ResourceLimitsEnforcer('none', null);
  }

  /** A limited group for one sandbox, or null when cgroups are unusable. */
  cgroup(id: string, limits: CgroupLimits): SandboxCgroup | null {
    if (this.closed) throw new Error('ResourceLimitsEnforcer is closed');
    return this.driver ? this.driver.create(id, limits) : null;
  }

  /** rlimits for a sandbox with these limits. */
  rlimits(fileSizeMb: number, cpuBackstopSeconds: number): Rlimits {
    return {
      cpuSeconds: Math.max(1, Math.ceil(cpuBackstopSeconds)),
      fileSizeBytes: Math.floor(fileSizeMb * 1024 * 1024),
    };
  }

  /** Remove Relay's parent groups (sandbox groups must be removed first). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (!this.driver) return;
    await Promise.all(this.driver.parentDirs().map((d) => removeDir(d, 500)));
  }
}

function v1Driver(layout: CgroupLayout, parentName: string, reasons: string[]): CgroupV1 | null {
  const memory = layout.v1.get('memory');
  const pids = layout.v1.get('pids');
  if (!memory || !pids) {
    reasons.push('v1: memory or pids hierarchy not mounted');
    return null;
  }
  return new CgroupV1(
    { memory, pids, cpu: layout.v1.get('cpu'), cpuacct: layout.v1.get('cpuacct') },
    parentName,
  );
}

function v2Driver(layout: CgroupLayout, parentName: string, reasons: string[]): CgroupV2 | null {
  if (!layout.unified || !existsSync(path.join(layout.unified.ownDir, 'cgroup.controllers'))) {
    reasons.push('v2: unified hierarchy not mounted');
    return null;
  }
  return new CgroupV2(layout.unified.ownDir, parentName);
}

/**
 * Parent groups left by a Relay process that died without cleaning up:
 * kill what still runs in them and remove them, so crashes leak nothing.
 */
function sweepStale(ownDirs: string[]): void {
  for (const own of ownDirs) {
    let entries: string[];
    try {
      entries = readdirSync(own);
    } catch {
      continue;
    }
    for (const name of entries) {
      const m = PARENT_PATTERN.exec(name);
      if (!m || existsSync(`/proc/${m[1]}`)) continue;
      const parent = path.join(own, name);
      void (async () => {
        let children: string[] = [];
        try {
          children = readdirSync(parent, { withFileTypes: true })
            .filter((d) => d.isDirectory())
            .map((d) => d.name);
        } catch {
          return;
        }
        for (const child of children) {
          const dir = path.join(parent, child);
          await killUntilEmpty(() => readPids(path.join(dir, 'cgroup.procs')), 1000);
          await removeDir(dir, 500);
        }
        await removeDir(parent, 500);
      })();
    }
  }
}
