/**
 * The process logger: structured JSON (pino) at the configured level, with
 * credentials redacted before anything is written.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import type { RelayConfig } from '../config/index.ts';

export type { Logger } from 'pino';

/** Paths of log fields that may carry credentials. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-relay-branch-key"]',
  'headers.authorization',
  'headers["x-relay-branch-key"]',
  'adminKey',
  'key',
];

/** Build the logger for this process; `destination` defaults to stdout. */
export function createLogger(
  config: Pick<RelayConfig, 'logLevel'>,
  destination?: DestinationStream,
): Logger {
  const options = {
    level: config.logLevel,
    base: { service: 'relay' },
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
  };
  return destination ? pino(options, destination) : pino(options);
}
