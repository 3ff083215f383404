/**
 * The composition root: builds the object graph (store → secrets →
 * tenancy → registry → HTTP app) from the settings, runs migrations and
 * the first-start bootstrap, and listens. The execution engine and worker
 * plug in here: build them from `graph` and pass their routes to the app.
 */
import type { AddressInfo } from 'node:net';
import type { RelayConfig } from './config/index.ts';
import { buildApp, type RoutePlugin, type ZodApp } from './api/index.ts';
import { createRegistry, type Registry } from './registry/index.ts';
import { createSecretsService, type SecretsService } from './secrets/index.ts';
import { createStore, type ControlStore } from './store/index.ts';
import { bootstrap, createTenancy, type BootstrapResult, type Tenancy } from './tenancy/index.ts';
import { createLogger, type Logger } from './telemetry/logger.ts';

/** The long-lived services every part of Relay shares. */
export interface Graph {
  config: Readonly<RelayConfig>;
  logger: Logger;
  store: ControlStore;
  secrets: SecretsService;
  tenancy: Tenancy;
  registry: Registry;
}

/** Something built on top of the graph (e.g. the execution plane) that brings routes and needs closing. */
export interface Extension {
  routes?: RoutePlugin[];
  rootRoutes?: RoutePlugin[];
  /** Called after the HTTP server stopped accepting requests, before the store closes. */
  close?(): Promise<void>;
}

export interface ServerOptions {
  logger?: Logger;
  /** Extra route modules under /api/v1 and at the root. */
  routes?: RoutePlugin[];
  rootRoutes?: RoutePlugin[];
  /** Built in order once the graph exists; their routes are mounted and they are closed in reverse order. */
  extensions?: ((graph: Graph) => Promise<Extension>)[];
  /** Where the once-only bootstrap key banner goes; default stderr. */
  print?: (line: string) => void;
}

export interface RelayServer extends Graph {
  app: ZodApp;
  extensions: Extension[];
  /** Base URL, e.g. http://127.0.0.1:8080 (the real port when config.port was 0). */
  url: string;
  port: number;
  bootstrap: BootstrapResult;
  /** Stop accepting requests, finish in-flight ones, close the store; safe to call twice. */
  close(): Promise<void>;
  /** Settles once close() has finished (for `relay serve` to wait on). */
  closed: Promise<void>;
}

/** Build the shared services (store migrated, nothing listening). */
export async function buildGraph(
  config: Readonly<RelayConfig>,
  logger: Logger = createLogger(config),
): Promise<Graph> {
  const store = await createStore(config.databaseUrl);
  try {
    const secrets = createSecretsService({
      store,
      dataDir: config.dataDir,
      secretsKey: config.secretsKey,
      previousKeys: config.secretsPreviousKeys,
      logger: logger.child({ component: 'secrets' }),
    });
    const tenancy = createTenancy({ store, config });
    const registry = createRegistry({ store, config, secrets });
    return { config, logger, store, secrets, tenancy, registry };
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** Start Relay's HTTP server on config.host:config.port. */
export async function startServer(
  config: Readonly<RelayConfig>,
  options: ServerOptions = {},
): Promise<RelayServer> {
  const graph = await buildGraph(config, options.logger ?? createLogger(config));
  const { logger, store } = graph;
  let app: ZodApp | undefined;
  const extensions: Extension[] = [];
  const closeExtensions = async () => {
    for (const ext of [...extensions].reverse()) {
      try {
        await ext.close?.();
      } catch (err) {
        logger.error({ err }, 'extension failed to close');
      }
    }
  };
  try {
    const boot = await bootstrap(graph.tenancy, config);
    if (boot.generatedKey) {
      const print = options.print ?? ((line: string) => process.stderr.write(`${line}\n`));
      print(
        `Relay created tenant 'default' with an operator+admin API key (shown once):\n\n  ${boot.generatedKey}\n\nIt is also saved in ${boot.keyFile} (readable only by you).`,
      );
    }
    for (const build of options.extensions ?? []) extensions.push(await build(graph));
    app = await buildApp({
      ...graph,
      routes: [...(options.routes ?? []), ...extensions.flatMap((e) => e.routes ?? [])],
      rootRoutes: [...(options.rootRoutes ?? []), ...extensions.flatMap((e) => e.rootRoutes ?? [])],
    });
    await app.listen({ host: config.host, port: config.port });
    const port = (app.server.address() as AddressInfo).port;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    logger.info({ url, database: store.kind }, 'relay listening');

    let closing: Promise<void> | undefined;
    const server = app;
    const { promise: closed, resolve: markClosed } = Promise.withResolvers<void>();
    return {
      ...graph,
      app: server,
      url,
      port,
      bootstrap: boot,
      extensions,
      closed,
      close: () => {
        closing ??= (async () => {
          try {
            await server.close();
          } finally {
            await closeExtensions();
            await store.close();
            markClosed();
          }
        })();
        return closing;
      },
    };
  } catch (err) {
    await app?.close();
    await closeExtensions();
    await store.close();
    throw err;
  }
}

/** Start the server and stop it gracefully on SIGTERM / SIGINT (a second signal exits at once). */
export async function runServer(
  config: Readonly<RelayConfig>,
  options: ServerOptions = {},
): Promise<RelayServer> {
  const server = await startServer(config, options);
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(130);
    stopping = true;
    server.logger.info({ signal }, 'shutting down');
    server.close().then(
      () => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
      },
      (err: unknown) => {
        server.logger.error({ err }, 'shutdown failed');
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return server;
}
