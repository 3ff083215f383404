/**
 * Starts a real Relay server for end-to-end tests: a fresh data dir, port 0,
 * silent logs, and whatever settings a test overrides; with `execution: true`
 * also the execution plane with a worker, as `relay serve` runs it.
 * `restart()` stops it and starts another on the same data; `close()` stops
 * it and removes the dir.
 */
/* eslint-disable @typescript-eslint/no-explicit-any -- response bodies are JSON that tests assert on by value */
import { chmod, readFile } from 'node:fs/promises';
import { loadConfig, type RelayConfig } from '../../src/config/index.ts';
import type { ExecutionPlane } from '../../src/execution-plane.ts';
import { startServer, type Graph, type RelayServer, type ServerOptions } from '../../src/main.ts';
import { makeTempDir, type TempDir } from './tmp.ts';

export interface HttpResult<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface CallOptions {
  /** API key for Authorization; `null` sends none. Defaults to the bootstrap key. */
  key?: string | null;
  body?: unknown;
  /** Sent as is (for malformed JSON tests); sets Content-Type application/json unless given. */
  rawBody?: string | Buffer;
  headers?: Record<string, string>;
}

export interface TestServer {
  url: string;
  /** The operator+admin key of tenant `default`. */
  key: string;
  dataDir: string;
  config: Readonly<RelayConfig>;
  server: RelayServer;
  /** The execution plane (queue, engine, sandboxes, worker) when started with `execution: true`. */
  plane: ExecutionPlane | undefined;
  /** Call the server; paths are absolute (`/api/v1/...`). */
  call<T = any>(method: string, path: string, options?: CallOptions): Promise<HttpResult<T>>;
  /** Stop and start again on the same data dir and settings. */
  restart(): Promise<void>;
  /** Stop the server and remove the data dir. */
  close(): Promise<void>;
}

export interface TestServerOptions extends ServerOptions {
  /** Also build the execution plane with a worker (API, queue and worker in one process). */
  execution?: boolean;
}

/** Start a server; `env` overrides settings as environment variables would. */
export async function startTestServer(
  env: Record<string, string> = {},
  options: TestServerOptions = {},
): Promise<TestServer> {
  const dir: TempDir = await makeTempDir('relay-e2e-');
  // Sandboxes may run as another host user (65534 when the server runs as
  // root) and bind package dirs under the data dir by path: let them search it.
  if (options.execution) await chmod(dir.path, 0o711);
  const config = loadConfig({
    RELAY_DATA_DIR: dir.path,
    PORT: '0',
    RELAY_LOG_LEVEL: 'silent',
    ...env,
  });
  const { execution, ...serverOptions } = options;
  let plane: ExecutionPlane | undefined;
  // Loaded only when asked for, so control-plane tests never load the sandbox code.
  const withPlane = async (graph: Graph) => {
    const { createExecutionPlane } = await import('../../src/execution-plane.ts');
    plane = await createExecutionPlane(graph, { worker: true });
    return plane;
  };
  const extensions = [...(execution ? [withPlane] : []), ...(serverOptions.extensions ?? [])];
  const open = () => startServer(config, { print: () => {}, ...serverOptions, extensions });
  let server: RelayServer;
  try {
    server = await open();
  } catch (err) {
    await dir.cleanup();
    throw err;
  }
  const key =
    config.bootstrapApiKey ??
    server.bootstrap.generatedKey ??
    (await readFile(server.bootstrap.keyFile!, 'utf8')).trim();

  const handle: TestServer = {
    get url() {
      return server.url;
    },
    key,
    dataDir: dir.path,
    config,
    get server() {
      return server;
    },
    get plane() {
      return plane;
    },
    async call(method, path, opts = {}) {
      const headers: Record<string, string> = { ...opts.headers };
      const auth = opts.key === undefined ? key : opts.key;
      if (auth !== null) headers.authorization ??= `Bearer ${auth}`;
      let body: string | Buffer | undefined;
      if (opts.rawBody !== undefined) body = opts.rawBody;
      else if (opts.body !== undefined) body = JSON.stringify(opts.body);
      if (body !== undefined) headers['content-type'] ??= 'application/json';
      const res = await fetch(`${server.url}${path}`, { method, headers, body });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        // not JSON (e.g. the docs page): keep the text
      }
      return { status: res.status, headers: res.headers, body: parsed as any, text };
    },
    async restart() {
      await server.close();
      server = await open();
    },
    async close() {
      try {
        await server.close();
      } finally {
        await dir.cleanup();
      }
    },
  };
  return handle;
}
