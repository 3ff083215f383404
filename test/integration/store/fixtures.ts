/** Builders for the store conformance suite: tenants, version drafts, executions. */
import { randomBytes } from 'node:crypto';
import { afterEach, beforeEach } from 'node:test';
import {
  newExecutionId,
  newRufid,
  RelayError,
  type ExecutionAttempt,
  type ExecutionRecord,
  type TenantLimits,
} from '../../../src/domain/index.ts';
import type { ControlStore, NewVersion } from '../../../src/store/index.ts';

export interface StoreHandle {
  store: ControlStore;
  cleanup(): Promise<void>;
  /** Close the store and open a new one on the same data (for the survival test). */
  reopen?: () => Promise<ControlStore>;
}

export type MakeStore = () => Promise<StoreHandle>;

/** A fresh store per test, closed and dropped after it, whatever the test did. */
export function useStore(makeStore: MakeStore): {
  readonly handle: StoreHandle;
  readonly store: ControlStore;
} {
  let current: StoreHandle | undefined;
  beforeEach(async () => {
    current = await makeStore();
  });
  afterEach(async () => {
    await current?.cleanup();
    current = undefined;
  });
  return {
    get handle() {
      if (current === undefined) throw new Error('store used outside a test');
      return current;
    },
    get store() {
      return this.handle.store;
    },
  };
}

export const LIMITS: TenantLimits = {
  maxTimeoutSeconds: 60,
  maxMemoryMb: 512,
  maxCpus: 2,
  maxConcurrency: 10,
  maxQueued: 1000,
  maxPriority: 9,
  monthlyBudget: null,
};

export function uid(prefix: string): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

export async function tenant(store: ControlStore, name = uid('acme')): Promise<string> {
  const t = await store.createTenant({ id: uid('tn'), name, limits: LIMITS });
  return t.id;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function draft(overrides: Partial<NewVersion> = {}): NewVersion {
  const digest = randomBytes(32).toString('hex');
  return {
    digest,
    manifest: { runtime: 'python3.11', entrypoint: 'main.handler', limits: { timeoutSeconds: 5 } },
    files: [{ path: 'main.py', digest: randomBytes(32).toString('hex'), size: 42 }],
    size: 42,
    deployedBy: 'key_1',
    message: 'deploy',
    branch: 'main',
    build: { status: 'ready', log: '', updatedAt: iso(Date.now()) },
    ...overrides,
  };
}

/** A function with version 1 on main; returns its RUFID. */
export async function deployed(store: ControlStore, tenantId: string): Promise<string> {
  const rufid = newRufid();
  await store.createFunction({ rufid, tenantId, name: uid('fn') }, draft());
  return rufid;
}

/** An execution record; `at` (ms) sets both its id's time and createdAt so ids sort by it. */
export function execution(
  tenantId: string,
  at: number,
  overrides: Partial<ExecutionRecord> = {},
): ExecutionRecord {
  return {
    id: newExecutionId(at),
    tenantId,
    rufid: 'abcdef123456',
    version: 1,
    branch: 'main',
    status: 'queued',
    input: { ping: 'pong', n: [1, 2, 3] },
    output: null,
    error: null,
    timings: {},
    usage: {},
    cost: 0,
    attempt: 0,
    maxAttempts: 3,
    priority: 5,
    async: true,
    idempotencyKey: null,
    traceparent: null,
    createdAt: iso(at),
    startedAt: null,
    finishedAt: null,
    ...overrides,
  };
}

/** Attempt `n` of an execution, started at `at` (ms) and still running unless overridden. */
export function attempt(
  n: number,
  at: number,
  overrides: Partial<ExecutionAttempt> = {},
): ExecutionAttempt {
  return {
    attempt: n,
    status: 'running',
    error: null,
    workerId: 'wk_1',
    startedAt: iso(at),
    finishedAt: null,
    durationMs: null,
    ...overrides,
  };
}

/** For assert.rejects: the error is a RelayError with this code. */
export function hasCode(code: string): (err: unknown) => boolean {
  return (err) => err instanceof RelayError && err.code === code;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
