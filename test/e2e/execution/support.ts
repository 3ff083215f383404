/**
 * What the execution end-to-end tests share: a server that runs functions
 * in the real bubblewrap sandbox, deploy and execute over HTTP, the example
 * packages, and host-side probes (the sandbox's processes, a TCP listener)
 * that check isolation from outside rather than trusting the function.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are JSON the tests assert on by value */
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { startTestServer, type HttpResult, type TestServer } from '../../support/server.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The log cap the tests set explicitly, so the dropped-lines count is exact. */
export const MAX_LOG_BYTES = 1_048_576;

/** A function package as the API takes it. */
export interface Package {
  manifest: Record<string, unknown>;
  files: Record<string, string | { base64: string }>;
}

/** Start Relay with the execution plane, isolating functions with bwrap. */
export function startExecutionServer(env: Record<string, string> = {}): Promise<TestServer> {
  return startTestServer(
    { SANDBOX_RUNTIME: 'bwrap', RELAY_MAX_LOG_BYTES: String(MAX_LOG_BYTES), ...env },
    { execution: true },
  );
}

export function unique(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** A new tenant; returns its id and admin key. */
export async function newTenant(ts: TestServer): Promise<{ id: string; key: string }> {
  const res = await ts.call('POST', '/api/v1/tenants', { body: { name: unique('t') } });
  if (res.status !== 201) throw new Error(`tenant create failed: ${res.status} ${res.text}`);
  return { id: String(res.body.id), key: String(res.body.adminKey) };
}

/** Create a function from a package; returns its rufid. */
export async function deploy(ts: TestServer, key: string, pkg: Package): Promise<string> {
  const res = await ts.call('POST', '/api/v1/functions', {
    key,
    body: { name: unique('fn'), ...pkg },
  });
  if (res.status !== 201) throw new Error(`deploy failed: ${res.status} ${res.text}`);
  return String(res.body.rufid);
}

/** Deploy a new version of `rufid` to `branch`; returns its version number. */
export async function deployVersion(
  ts: TestServer,
  key: string,
  rufid: string,
  pkg: Package,
  branch = 'main',
): Promise<number> {
  const res = await ts.call('POST', `/api/v1/functions/${rufid}/versions?branch=${branch}`, {
    key,
    body: pkg,
  });
  if (res.status !== 201) throw new Error(`deploy failed: ${res.status} ${res.text}`);
  return Number(res.body.version);
}

/** Synchronous execute; the body is the execution record. */
export function execute(
  ts: TestServer,
  key: string,
  rufid: string,
  input: unknown,
  headers: Record<string, string> = {},
): Promise<HttpResult> {
  return ts.call('POST', `/api/v1/functions/${rufid}/execute`, {
    key,
    body: { input },
    headers,
  });
}

/** The execution's stored log lines. */
export async function logLines(ts: TestServer, key: string, id: string): Promise<any[]> {
  const res = await ts.call('GET', `/api/v1/executions/${id}/logs`, { key });
  if (res.status !== 200) throw new Error(`logs ${id}: ${res.status} ${res.text}`);
  return res.body.lines as any[];
}

/** Polls the record until `done` holds (or throws with the last record). */
export async function waitForRecord(
  ts: TestServer,
  key: string,
  id: string,
  done: (record: any) => boolean,
  timeoutMs = 15_000,
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await ts.call('GET', `/api/v1/executions/${id}`, { key });
    if (res.status === 200 && done(res.body)) return res.body;
    if (Date.now() > deadline) throw new Error(`execution ${id} stuck: ${res.status} ${res.text}`);
    await sleep(25);
  }
}

/** An example under examples/ as a package (binary files base64). */
export async function examplePackage(name: string): Promise<Package> {
  const dir = path.join(REPO_ROOT, 'examples', name);
  const files: Package['files'] = {};
  let manifest: Record<string, unknown> = {};
  for (const file of await readdir(dir)) {
    const bytes = await readFile(path.join(dir, file));
    if (file === 'relay.json') manifest = JSON.parse(bytes.toString('utf8'));
    else if (file.endsWith('.wasm')) files[file] = { base64: bytes.toString('base64') };
    else files[file] = bytes.toString('utf8');
  }
  return { manifest, files };
}

/** The environment variable a test puts in a manifest to find the sandbox's processes on the host. */
export const MARK_VAR = 'E2E_SANDBOX_MARK';

/** Host pids whose environment carries `E2E_SANDBOX_MARK=<mark>` (the sandbox's processes). */
export async function markedProcesses(mark: string): Promise<number[]> {
  // Synchronous reads: a scan of /proc with one async read per process took
  // over a second on a loaded machine, long enough to miss a 1 s sandbox.
  const needle = Buffer.from(`\0${MARK_VAR}=${mark}\0`);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`);
      if (Buffer.concat([Buffer.from([0]), environ]).includes(needle)) pids.push(Number(entry));
    } catch {
      // gone meanwhile, or a kernel thread
    }
  }
  return pids;
}

/** Samples the marked processes until `until` settles: the largest count seen, and every count. */
export async function peakProcesses(
  mark: string,
  until: Promise<unknown>,
): Promise<{ peak: number; samples: number[] }> {
  let done = false;
  void until.finally(() => (done = true)).catch(() => {});
  const samples: number[] = [];
  while (!done) {
    samples.push((await markedProcesses(mark)).length);
    await sleep(50);
  }
  return { peak: Math.max(0, ...samples), samples };
}

/** The host's first non-loopback IPv4 address, if it has one. */
export function hostAddress(): string | undefined {
  return Object.values(os.networkInterfaces())
    .flat()
    .find((a) => a?.family === 'IPv4' && !a.internal)?.address;
}

/** A TCP listener on every host address that counts the connections it accepts. */
export async function hostListener(): Promise<{
  port: number;
  connections: () => number;
  close: () => Promise<void>;
}> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
