/**
 * Retention: a periodic sweep deleting finished execution records (and
 * their logs) older than the configured age.
 */
import type { ResultStorePort } from './port.ts';

export interface RetentionSweeper {
  /** Runs one sweep now; resolves with the number of records deleted. */
  sweepNow(): Promise<number>;
  stop(): void;
}

/** Starts sweeping every `intervalMs`; the timer never keeps the process alive. */
export function startRetentionSweeper(
  results: ResultStorePort,
  retentionHours: number,
  intervalMs = 10 * 60_000,
  onError: (err: unknown) => void = () => {},
): RetentionSweeper {
  const sweepNow = () =>
    results.sweep(new Date(Date.now() - retentionHours * 3_600_000).toISOString());
  const timer = setInterval(() => {
    sweepNow().catch(onError);
  }, intervalMs);
  timer.unref();
  return { sweepNow, stop: () => clearInterval(timer) };
}
