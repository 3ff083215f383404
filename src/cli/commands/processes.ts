/**
 * The long-running processes: `relay serve` (API, scheduler and worker in
 * one, on embedded SQLite by default), `relay api` (HTTP only; functions
 * run in workers elsewhere) and `relay worker` (claims and runs executions,
 * no HTTP). All take their settings from the environment.
 */
import type { Command } from 'commander';
import { loadConfig } from '../../config/index.ts';
import type { CliEnv } from '../context.ts';

/** Resolves when the process is told to stop; a second signal exits at once. */
function stopSignal(onSecond: () => void): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let seen = false;
    const handler = (signal: NodeJS.Signals) => {
      if (seen) onSecond();
      seen = true;
      resolve(signal);
    };
    process.on('SIGTERM', handler);
    process.on('SIGINT', handler);
  });
}

export function registerProcessCommands(program: Command, env: CliEnv): void {
  const serveWith = (worker: boolean) => async () => {
    const config = loadConfig(env.env);
    const { runServer } = await import('../../main.ts');
    const { createExecutionPlane } = await import('../../execution-plane.ts');
    const server = await runServer(config, {
      extensions: [(graph) => createExecutionPlane(graph, { worker })],
    });
    await server.closed;
  };

  program
    .command('serve')
    .description(
      'start Relay in one process: API, queue and worker (settings from the environment; see README)',
    )
    .action(serveWith(true));

  program
    .command('api')
    .description(
      'start the HTTP API only; executions run in `relay worker` processes sharing its database and queue',
    )
    .action(serveWith(false));

  program
    .command('worker')
    .description(
      'start a worker: claims executions from the queue and runs them (no HTTP); SIGTERM drains it',
    )
    .action(async () => {
      const config = loadConfig(env.env);
      const { buildGraph } = await import('../../main.ts');
      const { createExecutionPlane } = await import('../../execution-plane.ts');
      const graph = await buildGraph(config);
      const plane = await createExecutionPlane(graph, { worker: true });
      graph.logger.info(
        {
          worker: plane.worker?.id,
          queue: plane.queue.backend,
          concurrency: config.execution.concurrency,
        },
        'relay worker started',
      );
      const signal = await stopSignal(() => process.exit(130));
      graph.logger.info({ signal, graceSeconds: config.shutdownGraceSeconds }, 'worker draining');
      try {
        await plane.close();
      } finally {
        await graph.store.close();
      }
      graph.logger.info({}, 'worker stopped');
    });
}
