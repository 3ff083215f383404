/**
 * Budget guardrails (FN-057): each tenant may have a monthly budget in cost
 * units. Finished executions add their cost to the tenant's spend for the
 * UTC month (batched, so the hot path never waits on it); a submission from
 * a tenant at or over its budget is refused with 429 BUDGET_EXCEEDED until
 * the month turns. The check reads spend at most every `cacheMs`, so a burst
 * may overrun by what finishes within that window: a throttle, not a meter.
 */
import type { ExecutionRecord, Tenant } from '../domain/index.ts';
import { RelayError } from '../domain/index.ts';
import type { ControlStore } from '../store/port.ts';

export interface BudgetOptions {
  flushMs?: number;
  cacheMs?: number;
  now?: () => Date;
  onError?: (err: unknown) => void;
}

/** The UTC month an instant belongs to, as the store keys spend ("2026-11"). */
export function spendPeriod(at: Date): string {
  return at.toISOString().slice(0, 7);
}

function secondsToNextMonth(at: Date): number {
  const next = Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1);
  return Math.max(1, Math.ceil((next - at.getTime()) / 1000));
}

export class BudgetGuard {
  readonly #store: Pick<ControlStore, 'addSpend' | 'getSpend'>;
  readonly #flushMs: number;
  readonly #cacheMs: number;
  readonly #now: () => Date;
  readonly #onError: (err: unknown) => void;
  /** Cost not yet written, by `tenant\0period`. */
  #pending = new Map<string, number>();
  readonly #cached = new Map<string, { spend: number; at: number }>();
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(store: Pick<ControlStore, 'addSpend' | 'getSpend'>, options: BudgetOptions = {}) {
    this.#store = store;
    this.#flushMs = options.flushMs ?? 1000;
    this.#cacheMs = options.cacheMs ?? 2000;
    this.#now = options.now ?? (() => new Date());
    this.#onError = options.onError ?? (() => {});
  }

  /** Counts a finished execution's cost (an ExecutionObserver). */
  executionFinished(record: ExecutionRecord): void {
    if (!(record.cost > 0)) return;
    const key = `${record.tenantId}\u0000${spendPeriod(this.#now())}`;
    this.#pending.set(key, (this.#pending.get(key) ?? 0) + record.cost);
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      void this.flush();
    }, this.#flushMs);
    this.#timer.unref();
  }

  /** The tenant's spend this month: stored plus not yet written by this process. */
  async spend(tenantId: string): Promise<{ period: string; spend: number }> {
    const period = spendPeriod(this.#now());
    const key = `${tenantId}\u0000${period}`;
    let cached = this.#cached.get(key);
    if (!cached || Date.now() - cached.at > this.#cacheMs) {
      cached = { spend: await this.#store.getSpend(tenantId, period), at: Date.now() };
      this.#cached.set(key, cached);
    }
    return { period, spend: cached.spend + (this.#pending.get(key) ?? 0) };
  }

  /** Throws BUDGET_EXCEEDED when the tenant has used up this month's budget. */
  async check(tenant: Tenant): Promise<void> {
    const budget = tenant.limits.monthlyBudget;
    if (budget === null || budget === undefined) return;
    const { period, spend } = await this.spend(tenant.id);
    if (spend < budget) return;
    throw new RelayError(
      'BUDGET_EXCEEDED',
      `tenant ${tenant.name} has spent ${spend.toPrecision(6)} of its ${period} budget of ${budget}; executions resume next month (UTC) or when the budget is raised`,
      { retryAfterSeconds: secondsToNextMonth(this.#now()) },
    );
  }

  /** Writes pending spend; safe to call any time (writes are chained). */
  flush(): Promise<void> {
    const batch = this.#pending;
    if (batch.size === 0) return this.#flushing;
    this.#pending = new Map();
    this.#flushing = this.#flushing.then(async () => {
      for (const [key, amount] of batch) {
        const [tenantId, period] = key.split('\u0000') as [string, string];
        try {
          await this.#store.addSpend(tenantId, period, amount);
          this.#cached.delete(key);
        } catch (err) {
          this.#onError(err);
        }
      }
    });
    return this.#flushing;
  }

  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.flush();
  }
}
