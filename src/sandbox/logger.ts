/**
 * The slice of a structured logger the sandbox layer uses. The process
 * logger (pino) satisfies it; tests may pass a silent one.
 */

type LogFn = (obj: Record<string, unknown>, msg?: string) => void;

export interface SandboxLogger {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
}

/** A logger that drops everything. */
export function silentLogger(): SandboxLogger {
  const drop: LogFn = () => undefined;
  return { debug: drop, info: drop, warn: drop, error: drop };
}

/** A logger writing JSON lines to stderr, for callers without a process logger. */
export function stderrLogger(
  minLevel: 'debug' | 'info' | 'warn' | 'error' = 'info',
): SandboxLogger {
  const levels = ['debug', 'info', 'warn', 'error'] as const;
  const min = levels.indexOf(minLevel);
  const make =
    (level: (typeof levels)[number]): LogFn =>
    (obj, msg) => {
      if (levels.indexOf(level) < min) return;
      process.stderr.write(`${JSON.stringify({ level, time: Date.now(), ...obj, msg })}\n`);
    };
  return { debug: make('debug'), info: make('info'), warn: make('warn'), error: make('error') };
}
