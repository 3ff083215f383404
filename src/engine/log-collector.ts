/**
 * Collects one execution's log lines: redacts secret values, enforces the
 * per-execution byte cap (lines past it are counted, then summarised by a
 * marker), and flushes to the ResultStore in batches so `logs?follow=true`
 * sees long runs live without a write per line.
 */
import type { LogStream } from '../domain/index.ts';
import type { NewLogLine } from '../store/port.ts';

export interface LogCollectorOptions {
  maxBytes: number;
  redact?: (line: string) => string;
  /** Persists a batch; failures are reported, never thrown into the run. */
  flush: (lines: NewLogLine[]) => Promise<void>;
  flushIntervalMs?: number;
  onFlushError?: (err: unknown) => void;
}

export class LogCollector {
  readonly #opts: LogCollectorOptions;
  #pending: NewLogLine[] = [];
  #bytes = 0;
  #dropped = 0;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();
  #redact: ((line: string) => string) | undefined;

  constructor(options: LogCollectorOptions) {
    this.#opts = options;
    this.#redact = options.redact;
  }

  /** Secret values become known only after pre-execution; lines from then on are redacted. */
  setRedactor(redact: ((line: string) => string) | undefined): void {
    this.#redact = redact;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get dropped(): number {
    return this.#dropped;
  }

  add(stream: LogStream, raw: string): void {
    const line = this.#redact ? this.#redact(raw) : raw;
    const size = Buffer.byteLength(line) + 1;
    if (this.#bytes + size > this.#opts.maxBytes) {
      this.#dropped++;
      return;
    }
    this.#bytes += size;
    this.#pending.push({ stream, line, time: new Date().toISOString() });
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#write();
    }, this.#opts.flushIntervalMs ?? 250);
  }

  /** Writes what is pending plus, if lines were dropped, the marker saying how many. */
  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#dropped > 0) {
      this.#pending.push({
        stream: 'system',
        time: new Date().toISOString(),
        line: `[relay] ${this.#dropped} log lines dropped: the log limit of ${this.#opts.maxBytes} bytes was reached`,
      });
    }
    this.#write();
    await this.#writing;
  }

  #write(): void {
    if (this.#pending.length === 0) return;
    const batch = this.#pending;
    this.#pending = [];
    // Batches are chained so lines keep their order in the store.
    this.#writing = this.#writing
      .then(() => this.#opts.flush(batch))
      .catch((err: unknown) => this.#opts.onFlushError?.(err));
  }
}
