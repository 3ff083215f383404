/**
 * The all-in-one server the async end-to-end tests speak HTTP to: API,
 * queue and worker in one process on embedded SQLite (what `relay serve`
 * runs), with short leases and backoffs so retries and crashes resolve in
 * a test's time. Plus small helpers to deploy Node handlers and poll
 * executions.
 */
/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-return -- response bodies are JSON the tests assert on */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { createExecutionPlane } from '../../../src/execution-plane.ts';
import { startTestServer, type TestServer } from '../../support/server.ts';

/** Settings that keep retries and lease expiry fast; tests add their own. */
export const FAST_ENV: Record<string, string> = {
  RELAY_RETRY_BASE_MS: '50',
  RELAY_LEASE_SECONDS: '2',
  RELAY_SHUTDOWN_GRACE_SECONDS: '1',
  EXECUTION_CONCURRENCY: '4',
};

/** Start Relay as `relay serve` would (API + queue + worker) on a fresh data dir. */
export function startPlaneServer(env: Record<string, string> = {}): Promise<TestServer> {
  return startTestServer(
    { ...FAST_ENV, ...env },
    { extensions: [(graph) => createExecutionPlane(graph, { worker: true })] },
  );
}

/** What the helpers below need of a server: a way to call it (a TestServer, or a process cluster's API). */
export type Caller = Pick<TestServer, 'call'>;

export function unique(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Create a tenant (operator key) with some limits; returns its admin key and id. */
export async function newTenant(
  ts: Caller,
  limits: Record<string, number> = {},
): Promise<{ id: string; key: string }> {
  const res = await ts.call('POST', '/api/v1/tenants', { body: { name: unique('t'), limits } });
  if (res.status !== 201) throw new Error(`tenant create failed: ${res.status} ${res.text}`);
  return { id: String(res.body.id), key: String(res.body.adminKey) };
}

/** Deploy a Node handler (`index.mjs` exporting `handler`); returns its rufid. */
export async function deployNode(
  ts: Caller,
  key: string,
  source: string,
  manifest: Record<string, unknown> = {},
): Promise<string> {
  const res = await ts.call('POST', '/api/v1/functions', {
    key,
    body: {
      name: unique('fn'),
      manifest: { runtime: 'node24', entrypoint: 'index.handler', ...manifest },
      files: { 'index.mjs': source },
    },
  });
  if (res.status !== 201) throw new Error(`deploy failed: ${res.status} ${res.text}`);
  return String(res.body.rufid);
}

/** Handlers the tests share. */
export const HANDLERS = {
  echo: `export async function handler(event) { return { echo: event }; }`,
  /** Sleeps `event.ms` milliseconds, then answers. */
  sleep: `export async function handler(event) {
  await new Promise((r) => setTimeout(r, event.ms ?? 0));
  return { slept: event.ms ?? 0, tag: event.tag ?? null, at: Date.now() };
}`,
  /** Always throws. */
  fail: `export async function handler(event) { throw new Error('boom ' + (event.n ?? '')); }`,
};

export interface ExecuteOptions {
  key: string;
  input?: unknown;
  async?: boolean;
  priority?: number;
  maxAttempts?: number;
  headers?: Record<string, string>;
}

/** POST /functions/{rufid}/execute. */
export function execute(ts: Caller, rufid: string, o: ExecuteOptions) {
  const body: Record<string, unknown> = { input: o.input ?? null };
  if (o.priority !== undefined) body.priority = o.priority;
  if (o.maxAttempts !== undefined) body.maxAttempts = o.maxAttempts;
  const query = o.async === false ? '' : '?async=true';
  return ts.call('POST', `/api/v1/functions/${rufid}/execute${query}`, {
    key: o.key,
    body,
    ...(o.headers ? { headers: o.headers } : {}),
  });
}

/** GET /executions/{id}. */
export async function getExecution(ts: Caller, key: string, id: string): Promise<any> {
  const res = await ts.call('GET', `/api/v1/executions/${id}`, { key });
  if (res.status !== 200) throw new Error(`GET execution ${id}: ${res.status} ${res.text}`);
  return res.body;
}

/** Poll the execution until `done(record)` holds; throws with the last record after `timeoutMs`. */
export async function waitForExecution(
  ts: Caller,
  key: string,
  id: string,
  done: (record: any) => boolean,
  timeoutMs = 20_000,
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let record: any;
  for (;;) {
    record = await getExecution(ts, key, id);
    if (done(record)) return record;
    if (Date.now() > deadline) {
      throw new Error(
        `execution ${id} did not get there in ${timeoutMs} ms: ${JSON.stringify(record)}`,
      );
    }
    await sleep(25);
  }
}

/** Wait until the execution has the given status. */
export function waitForStatus(
  ts: Caller,
  key: string,
  id: string,
  status: string,
  timeoutMs?: number,
) {
  return waitForExecution(ts, key, id, (r) => r.status === status, timeoutMs);
}

/** The execution's log lines. */
export async function logLines(ts: Caller, key: string, id: string): Promise<any[]> {
  const res = await ts.call('GET', `/api/v1/executions/${id}/logs`, { key });
  if (res.status !== 200) throw new Error(`logs ${id}: ${res.status} ${res.text}`);
  return res.body.lines;
}

/** Host pids whose environment carries `ASYNC_E2E_MARK=<mark>`: a sandbox's processes, seen from outside. */
export async function markedPids(mark: string): Promise<number[]> {
  const needle = Buffer.from(`\0ASYNC_E2E_MARK=${mark}\0`);
  const pids: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = await readFile(`/proc/${entry}/environ`);
      if (Buffer.concat([Buffer.from([0]), environ, Buffer.from([0])]).includes(needle))
        pids.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}
