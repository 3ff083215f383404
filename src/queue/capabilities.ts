/**
 * What each backend can and cannot do, as one table of flags. Callers (the
 * worker, the API, the conformance suite) read a flag; nothing checks which
 * backend it talks to.
 */
import type { QueueBackend, QueueCapabilities } from './port.ts';

export const QUEUE_CAPABILITIES = {
  // One host: other processes on the same file learn of completions by polling.
  sqlite: {
    crossProcessCompletion: false,
    crossProcessCancel: false,
    blockingWake: false,
    multiHost: false,
    durable: true,
  },
  // LISTEN/NOTIFY on completions and cancels (never per insert); idle workers poll with backoff.
  postgres: {
    crossProcessCompletion: true,
    crossProcessCancel: true,
    blockingWake: false,
    multiHost: true,
    durable: true,
  },
  // Pub/sub for completions and cancels; idle workers block on a wake-up list.
  // Durable only as far as the server's persistence (AOF) is configured.
  redis: {
    crossProcessCompletion: true,
    crossProcessCancel: true,
    blockingWake: true,
    multiHost: true,
    durable: false,
  },
} as const satisfies Record<QueueBackend, QueueCapabilities>;
