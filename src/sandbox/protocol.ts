/**
 * The invoke protocol between the host and a runtime's bootstrap inside a
 * sandbox (version 1). Every bootstrap (python, node, wasm, test fixtures)
 * implements exactly this; the host side lives in session.ts.
 *
 * Process. The bootstrap starts with fd 0 = /dev/null, fd 1 = stdout and
 * fd 2 = stderr (the function's logs), fd 3 = requests (read side) and
 * fd 4 = replies (write side); no other descriptor is open. Its
 * environment is exactly RuntimeLaunch.env plus SandboxSpec.env (the
 * runtime's keys win). Everything below is UTF-8 JSON, one object per
 * line, each line ending in "\n" (JSON escapes newlines inside strings).
 *
 * 1. Readiness. After loading the handler (importing the entrypoint module
 *    and resolving the function, which runs the function's top-level code)
 *    the bootstrap writes exactly one line on fd 4, before anything else:
 *      {"ready":true}
 *    or, when loading failed (missing module, syntax error, exception at
 *    import, no such function):
 *      {"ready":false,"error":{"type":"ModuleNotFoundError","message":"...","stack":"..."}}
 *    and then exits. The host reports that error as the first invocation's
 *    outcome (kind `error`, the loader's error type) and never reuses the
 *    sandbox. Memory and time limits already apply while loading.
 * 2. Requests. One line on fd 3 per invocation:
 *      {"id":"<string>","input":<any JSON>,"context":{"executionId","tenantId",
 *       "rufid","functionName","version","branch","memoryLimitMb","deadlineMs"}}
 *    `deadlineMs` is epoch milliseconds on the host clock (the sandbox shares
 *    it); remaining time = deadlineMs - now. The host sends the next request
 *    only after the reply to the previous one. EOF on fd 3 means shut down:
 *    exit promptly.
 * 3. Replies. Exactly one line on fd 4 per request, carrying its id:
 *      {"id":"<same>","ok":true,"output":<any JSON>}
 *      {"id":"<same>","ok":false,"error":{"type":"ValueError","message":"...","stack":"..."}}
 *    A result that cannot be serialised to JSON is an `ok:false` reply with
 *    a type naming that (the runtimes use `ResultNotSerializable`). A reply
 *    line longer than limits.maxResultBytes (envelope included) ends the
 *    invocation as `result_too_large` and the sandbox is killed.
 * 4. Logs. stdout and stderr are split into lines (a line longer than
 *    MAX_LOG_LINE_BYTES is cut into pieces). Lines written while no
 *    invocation runs (module import, background threads) are delivered at
 *    the start of the next invocation. A bootstrap flushes stdout and
 *    stderr before writing the readiness line and before each reply, so
 *    every line lands in the invocation that printed it (note `python -I`
 *    ignores PYTHONUNBUFFERED). Its own diagnostics go to stderr, never
 *    to fd 4.
 * 5. Exit. Any exit other than after EOF on fd 3 or after `ready:false` is a
 *    crash, reported as `memory_exceeded` when the sandbox's cgroup counted
 *    an OOM kill, else `crashed`.
 */
import type { ExecutionError } from '../domain/index.ts';
import type { InvokeRequest } from './port.ts';

/** Lines of stdout/stderr longer than this are cut into several lines. */
export const MAX_LOG_LINE_BYTES = 64 * 1024;

export type ReadyMessage = { ready: true } | { ready: false; error: ExecutionError };

export type ReplyMessage =
  { id: string; ok: true; output: unknown } | { id: string; ok: false; error: ExecutionError };

/** Serialise a request as one protocol line. */
export function encodeRequest(request: InvokeRequest): string {
  return `${JSON.stringify({ id: request.id, input: request.input ?? null, context: request.context })}\n`;
}

/** Parse the readiness line; null when the line is not one. */
export function parseReady(line: string): ReadyMessage | null {
  const msg = parseObject(line);
  if (msg === null || typeof msg.ready !== 'boolean') return null;
  if (msg.ready) return { ready: true };
  return { ready: false, error: toExecutionError(msg.error, 'LoadError') };
}

/** Parse a reply line; null when the line is not one. */
export function parseReply(line: string): ReplyMessage | null {
  const msg = parseObject(line);
  if (msg === null || typeof msg.id !== 'string' || typeof msg.ok !== 'boolean') return null;
  if (msg.ok) return { id: msg.id, ok: true, output: msg.output ?? null };
  return { id: msg.id, ok: false, error: toExecutionError(msg.error, 'Error') };
}

function parseObject(line: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(line);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

/** Coerce whatever the bootstrap sent into an ExecutionError with string fields. */
export function toExecutionError(value: unknown, fallbackType: string): ExecutionError {
  const v = value !== null && typeof value === 'object' ? (value as Record<string, unknown>) : {};
  const error: ExecutionError = {
    type: typeof v.type === 'string' && v.type !== '' ? v.type : fallbackType,
    message: typeof v.message === 'string' ? v.message : typeof value === 'string' ? value : '',
  };
  if (typeof v.stack === 'string' && v.stack !== '') error.stack = v.stack;
  return error;
}
