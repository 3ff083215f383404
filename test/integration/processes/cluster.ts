/**
 * Relay as separate OS processes, the way it runs on several machines: one
 * `relay api` and any number of `relay worker`s, each with its own data dir,
 * sharing a Postgres schema (control plane) and a queue (a Redis key prefix
 * or the same Postgres schema), all of them fresh for the test and removed
 * by close(). Processes are found by what they log (pino JSON on stdout).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { CallOptions, HttpResult } from '../../support/server.ts';
import { freshPgSchema, type PgSchema } from '../../support/postgres.ts';
import { makeTempDir, type TempDir } from '../../support/tmp.ts';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const NODE = `${REPO}node_modules/.bin/node`;
export const REDIS_URL = process.env.RELAY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

export interface RelayProcess {
  readonly role: 'api' | 'worker';
  readonly child: ChildProcess;
  /** The worker's id (attempts and logs name it); the API's URL for the API. */
  readonly name: string;
  /** Resolves with the exit code (null when killed by a signal) and signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every JSON log line so far. */
  readonly logs: Record<string, unknown>[];
  kill(signal: NodeJS.Signals): void;
}

export interface ClusterOptions {
  /** `redis` (default) or `postgres`: where the queue lives. */
  queue?: 'redis' | 'postgres';
  /** Settings for every process (short leases and grace periods are the test's to choose). */
  env?: Record<string, string>;
}

export interface Cluster {
  api: RelayProcess;
  /** RELAY_DATABASE_URL of every process (carries `?schema=`). */
  databaseUrl: string;
  /** The operator+admin key of tenant `default`. */
  key: string;
  workers: RelayProcess[];
  /** The worker process with this id. */
  worker(id: string): RelayProcess;
  /** Start one more worker; resolves once it claims. */
  addWorker(env?: Record<string, string>): Promise<RelayProcess>;
  call<T = unknown>(method: string, path: string, options?: CallOptions): Promise<HttpResult<T>>;
  /** Kill every process, drop the schema, delete the queue's keys and the data dirs. */
  close(): Promise<void>;
}

/** Start a `relay <role>` process; resolves when it logged `ready` (its name is taken from that line). */
async function startProcess(
  role: 'api' | 'worker',
  env: Record<string, string>,
  ready: (line: Record<string, unknown>) => string | undefined,
): Promise<RelayProcess> {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(RELAY_|EXECUTION_|SANDBOX_|PORT$|HOST$)/.test(k),
    ),
  );
  const child = spawn(NODE, ['--disable-warning=ExperimentalWarning', 'bin/relay.ts', role], {
    cwd: REPO,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let stderr = '';
  const exited = once(child, 'exit').then(([code, signal]) => ({
    code: code as number | null,
    signal: signal as NodeJS.Signals | null,
  }));
  const name = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const text = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const line = JSON.parse(text) as Record<string, unknown>;
          logs.push(line);
          const found = ready(line);
          if (found !== undefined) resolve(found);
        } catch {
          // not a log line
        }
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    void exited.then(({ code, signal }) =>
      reject(new Error(`relay ${role} exited (${code ?? signal}) before it was ready:\n${stderr}`)),
    );
    setTimeout(
      () => reject(new Error(`relay ${role} not ready in 30 s:\n${stderr}`)),
      30_000,
    ).unref();
  });
  return { role, child, name, exited, logs, kill: (signal) => void child.kill(signal) };
}

/** Start an API and `workers` workers sharing a fresh schema and queue namespace. */
export async function startCluster(
  workers: number,
  options: ClusterOptions = {},
): Promise<Cluster> {
  const pg: PgSchema = await freshPgSchema('relay_proc');
  const prefix = `proc-${randomBytes(6).toString('hex')}`;
  const key = `rk_test_${randomBytes(16).toString('hex')}`;
  const databaseUrl = `${pg.url}?schema=${pg.schema}`;
  const shared: Record<string, string> = {
    RELAY_DATABASE_URL: databaseUrl,
    // Unset, the queue shares the database URL (and so its schema).
    ...(options.queue === 'postgres'
      ? {}
      : { RELAY_QUEUE_URL: `${REDIS_URL}?keyPrefix=${prefix}` }),
    RELAY_BOOTSTRAP_API_KEY: key,
    RELAY_SECRETS_KEY: randomBytes(32).toString('hex'),
    RELAY_LOG_LEVEL: 'info',
    ...options.env,
  };
  const dirs: TempDir[] = [];
  const procs: RelayProcess[] = [];
  const dataDir = async () => {
    const dir = await makeTempDir('relay-proc-');
    dirs.push(dir);
    return dir.path;
  };
  const close = async () => {
    for (const p of procs)
      if (p.child.exitCode === null && p.child.signalCode === null) p.kill('SIGKILL');
    await Promise.all(procs.map((p) => p.exited));
    await pg.drop();
    if (options.queue !== 'postgres') {
      const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        const keys = await redis.keys(`*relay:${prefix}*`);
        if (keys.length > 0) await redis.del(...keys);
      } finally {
        redis.disconnect();
      }
    }
    await Promise.all(dirs.map((d) => d.cleanup()));
  };
  try {
    const api = await startProcess(
      'api',
      { ...shared, PORT: '0', RELAY_DATA_DIR: await dataDir() },
      (l) => (l.msg === 'relay listening' ? String(l.url) : undefined),
    );
    procs.push(api);
    const addWorker = async (env: Record<string, string> = {}) => {
      const worker = await startProcess(
        'worker',
        { ...shared, RELAY_DATA_DIR: await dataDir(), ...env },
        (l) => (l.msg === 'relay worker started' ? String(l.worker) : undefined),
      );
      procs.push(worker);
      cluster.workers.push(worker);
      return worker;
    };
    const cluster: Cluster = {
      api,
      databaseUrl,
      key,
      workers: [],
      addWorker,
      worker: (id) => {
        const found = cluster.workers.find((w) => w.name === id);
        if (!found) throw new Error(`no worker ${id} in this cluster`);
        return found;
      },
      call: (method, path, opts) => call(api.name, key, method, path, opts),
      close,
    };
    await Promise.all(Array.from({ length: workers }, () => addWorker()));
    return cluster;
  } catch (err) {
    await close();
    throw err;
  }
}

/** One HTTP call to the API, as the e2e TestServer makes it. */
async function call<T>(
  base: string,
  defaultKey: string,
  method: string,
  path: string,
  opts: CallOptions = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = { ...opts.headers };
  const auth = opts.key === undefined ? defaultKey : opts.key;
  if (auth !== null) headers.authorization ??= `Bearer ${auth}`;
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  if (body !== undefined) headers['content-type'] ??= 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, headers: res.headers, body: parsed as T, text };
}
