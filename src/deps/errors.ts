/**
 * The typed failure of a dependency install. It is a RelayError with code
 * DEPENDENCY_INSTALL_FAILED, which reads as error type
 * `DependencyInstallFailed` in execution records, and it carries the
 * installer's last lines so users see why (missing package, bad version).
 */
import { RelayError } from '../domain/index.ts';

/** Lines of installer output kept in errors and build states. */
export const LOG_TAIL_LINES = 60;
const LOG_TAIL_CHARS = 8 * 1024;
/** Lines of that tail repeated in the error message itself. */
const MESSAGE_LINES = 20;

/** The last lines of installer output, bounded in lines and characters. */
export function tailLines(text: string, lines = LOG_TAIL_LINES): string {
  const all = text.replace(/\r\n?/g, '\n').split('\n');
  while (all.length > 0 && all[all.length - 1]!.trim() === '') all.pop();
  while (all.length > 0 && all[0]!.trim() === '') all.shift();
  let tail = all.slice(-lines).join('\n');
  if (tail.length > LOG_TAIL_CHARS) tail = tail.slice(tail.length - LOG_TAIL_CHARS);
  return tail;
}

export interface DependencyInstallDetails {
  key: string;
  runtime: string;
  /** Installer output tail (both attempts when the bypass retry ran). */
  log: string;
  attempts: number;
  timedOut: boolean;
}

export class DependencyInstallError extends RelayError {
  readonly key: string;
  readonly runtime: string;
  readonly log: string;
  readonly attempts: number;
  readonly timedOut: boolean;

  constructor(reason: string, details: DependencyInstallDetails) {
    const shown = tailLines(details.log, MESSAGE_LINES);
    super('DEPENDENCY_INSTALL_FAILED', shown === '' ? reason : `${reason}:\n${shown}`);
    this.name = 'DependencyInstallError';
    this.key = details.key;
    this.runtime = details.runtime;
    this.log = details.log;
    this.attempts = details.attempts;
    this.timedOut = details.timedOut;
  }
}

export function isDependencyInstallError(err: unknown): err is DependencyInstallError {
  return err instanceof DependencyInstallError;
}
