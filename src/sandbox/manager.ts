/**
 * SandboxManager: hands out sandboxes for a spec, warm when an idle one
 * with the same pool key exists (O(1)), else freshly started. Released
 * sandboxes go back to their key's pool when reusable, are stopped after
 * sitting idle too long, and the least recently used idle one is evicted
 * past the cap. A sandbox never serves another pool key.
 */
import type { SandboxLogger } from './logger.ts';
import type { Sandbox, SandboxProvider, SandboxSpec, StartOptions } from './port.ts';

export interface AcquireResult {
  sandbox: Sandbox;
  /** True when the sandbox had served an earlier invocation (no cold start). */
  warm: boolean;
}

export interface SandboxStats {
  warm: number;
  busy: number;
}

export interface SandboxManagerOptions {
  /** Idle warm sandboxes are stopped after this long. */
  warmIdleMs: number;
  /** Most idle warm sandboxes kept at once (0 disables warm reuse). */
  warmMax: number;
  logger: SandboxLogger;
}

interface Idle {
  sandbox: Sandbox;
  timer: NodeJS.Timeout;
}

/** The warm pool in front of a provider; see the module header. */
export class SandboxManager {
  readonly provider: SandboxProvider;
  private readonly options: SandboxManagerOptions;
  /** Idle sandboxes per pool key, most recently released last. */
  private readonly pools = new Map<string, Idle[]>();
  /** Every idle sandbox in release order: the first is the least recently used. */
  private readonly lru = new Map<Sandbox, Idle>();
  private readonly busy = new Set<Sandbox>();
  private readonly destroying = new Set<Promise<void>>();
  private closed = false;

  constructor(provider: SandboxProvider, options: SandboxManagerOptions) {
    this.provider = provider;
    this.options = options;
  }

  /** A sandbox for this spec: an idle warm one of the same pool key, else a new one. */
  async acquire(spec: SandboxSpec, options: StartOptions = {}): Promise<AcquireResult> {
    if (this.closed) throw new Error('sandbox manager is closed');
    for (;;) {
      const idle = this.takeIdle(spec.poolKey);
      if (!idle) break;
      if (idle.reusable) {
        this.busy.add(idle);
        return { sandbox: idle, warm: true };
      }
      this.destroyLater(idle);
    }
    const sandbox = await this.provider.start(spec, options);
    if (this.closed) {
      await sandbox.destroy();
      throw new Error('sandbox manager is closed');
    }
    this.busy.add(sandbox);
    return { sandbox, warm: false };
  }

  /** Return a sandbox after use: back to its pool when reusable, else destroyed. */
  async release(sandbox: Sandbox): Promise<void> {
    this.busy.delete(sandbox);
    if (this.closed || !sandbox.reusable || this.options.warmMax <= 0) {
      await sandbox.destroy();
      return;
    }
    if (this.lru.has(sandbox)) return;
    const timer = setTimeout(() => this.expire(sandbox), this.options.warmIdleMs);
    timer.unref();
    const entry: Idle = { sandbox, timer };
    const key = sandbox.spec.poolKey;
    let pool = this.pools.get(key);
    if (!pool) this.pools.set(key, (pool = []));
    pool.push(entry);
    this.lru.set(sandbox, entry);
    while (this.lru.size > this.options.warmMax) {
      const oldest = this.lru.keys().next().value as Sandbox;
      this.removeIdle(oldest);
      this.destroyLater(oldest);
    }
  }

  /** Idle warm sandboxes and sandboxes handed out right now. */
  stats(): SandboxStats {
    return { warm: this.lru.size, busy: this.busy.size };
  }

  /** Destroy every sandbox, idle or busy, and close the provider; later acquires fail. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.lru.keys(), ...this.busy];
    for (const s of [...this.lru.keys()]) this.removeIdle(s);
    this.busy.clear();
    await Promise.all([...all.map((s) => s.destroy()), ...this.destroying]);
    await this.provider.close();
  }

  private takeIdle(key: string): Sandbox | undefined {
    const pool = this.pools.get(key);
    const entry = pool?.pop();
    if (!entry) return undefined;
    if (pool!.length === 0) this.pools.delete(key);
    clearTimeout(entry.timer);
    this.lru.delete(entry.sandbox);
    return entry.sandbox;
  }

  private removeIdle(sandbox: Sandbox): void {
    const entry = this.lru.get(sandbox);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.lru.delete(sandbox);
    const key = sandbox.spec.poolKey;
    const pool = this.pools.get(key);
    if (!pool) return;
    const i = pool.indexOf(entry);
    if (i !== -1) pool.splice(i, 1);
    if (pool.length === 0) this.pools.delete(key);
  }

  private expire(sandbox: Sandbox): void {
    if (!this.lru.has(sandbox)) return;
    this.removeIdle(sandbox);
    this.destroyLater(sandbox);
  }

  private destroyLater(sandbox: Sandbox): void {
    const p = sandbox
      .destroy()
      .catch((err: unknown) =>
        this.options.logger.error({ err, sandbox: sandbox.id }, 'destroying a sandbox failed'),
      )
      .finally(() => this.destroying.delete(p));
    this.destroying.add(p);
  }
}
