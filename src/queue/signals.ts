/**
 * In-process signals one queue instance raises for its own callers:
 * completions, new work and cancels. Every adapter uses them so a waiter in
 * the same process hears at once; adapters add their cross-process path
 * (LISTEN/NOTIFY, pub/sub, a blocking pop or a poll) on top through the
 * `check` and `changed` hooks of the helpers below.
 */
import type { Completion } from './port.ts';

type Waiter = () => void;

export class LocalSignals {
  readonly #completionWaiters = new Map<string, Set<(c: Completion) => void>>();
  readonly #workWaiters = new Set<Waiter>();
  readonly #cancelListeners = new Set<(jobId: string) => void>();

  /** Tell waiters of this job that it finished. */
  completed(completion: Completion): void {
    const waiters = this.#completionWaiters.get(completion.jobId);
    if (waiters === undefined) return;
    for (const w of [...waiters]) w(completion);
  }

  /** Call `fn` when this job completes in this process; returns the unsubscribe. */
  onCompletion(jobId: string, fn: (c: Completion) => void): () => void {
    let set = this.#completionWaiters.get(jobId);
    if (set === undefined) {
      set = new Set();
      this.#completionWaiters.set(jobId, set);
    }
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.#completionWaiters.delete(jobId);
    };
  }

  /** Wake every idle waitForWork in this process. */
  workArrived(): void {
    for (const w of [...this.#workWaiters]) w();
  }

  onWork(fn: Waiter): () => void {
    this.#workWaiters.add(fn);
    return () => this.#workWaiters.delete(fn);
  }

  cancelled(jobId: string): void {
    for (const l of [...this.#cancelListeners]) {
      try {
        l(jobId);
      } catch {
        // A listener's failure is its own; the others still hear the cancel.
      }
    }
  }

  onCancel(fn: (jobId: string) => void): () => void {
    this.#cancelListeners.add(fn);
    return () => this.#cancelListeners.delete(fn);
  }
}

export interface CompletionWait {
  jobId: string;
  timeoutMs: number;
  signals: LocalSignals;
  /** Read the stored completion, if any. */
  check: () => Promise<Completion | null>;
  /** Re-check this often as a fallback for signals that can be missed. */
  pollMs: number;
  /** Called once the waiter is registered, before the first check (subscribe here). */
  subscribe?: (recheck: () => void) => Promise<() => void>;
}

/** Wait for a completion: local signal, optional subscription, and a polling fallback. */
export async function awaitCompletion(w: CompletionWait): Promise<Completion | null> {
  return new Promise<Completion | null>((resolve, reject) => {
    let settled = false;
    let pollTimer: NodeJS.Timeout | undefined;
    let unsubscribe: (() => void) | undefined;
    const finish = (value: Completion | null, err?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(pollTimer);
      offLocal();
      unsubscribe?.();
      if (err !== undefined)
        reject(err instanceof Error ? err : new Error('completion check failed', { cause: err }));
      else resolve(value);
    };
    const deadline = setTimeout(() => finish(null), Math.max(0, w.timeoutMs));
    const offLocal = w.signals.onCompletion(w.jobId, (c) => finish(c));
    let checking = false;
    const recheck = (): void => {
      if (settled || checking) return;
      checking = true;
      w.check().then(
        (c) => {
          checking = false;
          if (c !== null) finish(c);
        },
        (err: unknown) => finish(null, err),
      );
    };
    const poll = (): void => {
      pollTimer = setTimeout(() => {
        recheck();
        if (!settled) poll();
      }, w.pollMs);
    };
    const start = async (): Promise<void> => {
      if (w.subscribe !== undefined) {
        const off = await w.subscribe(recheck);
        if (settled) off();
        else unsubscribe = off;
      }
      recheck();
      if (!settled) poll();
    };
    start().catch((err: unknown) => finish(null, err));
  });
}

export interface WorkWait {
  signal: AbortSignal | undefined;
  maxWaitMs: number;
  signals: LocalSignals;
  /** Cross-process check: resolves true when work may have arrived since the wait began. */
  changed?: () => Promise<boolean>;
  /** First poll interval; it doubles up to maxPollMs while nothing changes. */
  pollMs?: number;
  maxPollMs?: number;
}

/** Wait for new work: local signal, an optional backed-off poll, the deadline or an abort. */
export async function awaitWork(w: WorkWait): Promise<boolean> {
  if (w.signal?.aborted === true) return false;
  return new Promise<boolean>((resolve) => {
    let settled = false;
    let pollTimer: NodeJS.Timeout | undefined;
    const finish = (value: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      clearTimeout(pollTimer);
      off();
      w.signal?.removeEventListener('abort', onAbort);
      resolve(value);
    };
    const onAbort = (): void => finish(false);
    const deadline = setTimeout(() => finish(false), Math.max(0, w.maxWaitMs));
    const off = w.signals.onWork(() => finish(true));
    w.signal?.addEventListener('abort', onAbort, { once: true });
    const changed = w.changed;
    if (changed === undefined) return;
    let interval = w.pollMs ?? 25;
    const poll = (): void => {
      pollTimer = setTimeout(() => {
        changed().then(
          (yes) => {
            if (yes) finish(true);
            else if (!settled) {
              interval = Math.min(interval * 2, w.maxPollMs ?? 1000);
              poll();
            }
          },
          // A failed probe is not work; keep waiting until the deadline.
          () => {
            if (!settled) poll();
          },
        );
      }, interval);
    };
    poll();
  });
}
