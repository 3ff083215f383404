// The invoke protocol as the JavaScript bootstraps (node.cjs, wasm.cjs) speak
// it: requests arrive on fd 3 and replies leave on fd 4, one JSON object per
// line. stdout and stderr belong to the function. Uses only modules Node has
// loaded before any user code runs, so it adds nothing measurable to start.
// The bootstraps are CommonJS: an ES module entry costs ~4 ms more CPU at
// start (the ESM loader is then set up only if the function is an ES module).
'use strict';
const { read, writeSync } = require('node:fs');
const { sep } = require('node:path');

const BOOTSTRAP_DIR = __dirname + sep;
const REQUEST_FD = 3;
const REPLY_FD = 4;

/** Writes one line on fd 4, synchronously so it can never interleave or be lost on exit. */
function sendLine(line) {
  const data = Buffer.from(`${line}\n`, 'utf8');
  let offset = 0;
  while (offset < data.length) {
    try {
      offset += writeSync(REPLY_FD, data, offset, data.length - offset);
    } catch (err) {
      // The reply pipe may have been made non-blocking by the host side.
      if (err?.code !== 'EAGAIN') throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
    }
  }
}

/** Sends an object as one line. */
function send(message) {
  sendLine(JSON.stringify(message));
}

/** The error shape of a reply: Lambda's errorType is the class name. */
function describeError(err) {
  if (err !== null && typeof err === 'object') {
    const ctor = err.constructor?.name;
    const type = ctor && ctor !== 'Error' && ctor !== 'Object' ? ctor : String(err.name || 'Error');
    return {
      type,
      message: String(err.message ?? ''),
      stack: typeof err.stack === 'string' ? functionFrames(err.stack) : '',
    };
  }
  return { type: 'Error', message: String(err), stack: '' };
}

// The stack as far as the function's own frames go: the bootstrap's frames
// below them say nothing to the function's author.
function functionFrames(stack) {
  const lines = stack.split('\n');
  const first = lines.findIndex((line) => line.includes(BOOTSTRAP_DIR));
  if (first === -1) return stack;
  let end = first;
  if (end > 0 && lines[end - 1].trim() === 'at new Promise (<anonymous>)') end -= 1;
  return lines.slice(0, end).join('\n');
}

/** A reply line for a finished invocation; a result JSON cannot express becomes ResultNotSerializable. */
function replyLine(id, output) {
  try {
    // undefined has no JSON form; Lambda answers null for it.
    const encoded = JSON.stringify(output === undefined ? null : output);
    if (encoded === undefined) {
      throw new TypeError(`a value of type ${typeof output} has no JSON form`);
    }
    return `{"id":${JSON.stringify(id)},"ok":true,"output":${encoded}}`;
  } catch (err) {
    return errorLine(id, {
      type: 'ResultNotSerializable',
      message: `The handler's return value is not JSON serializable: ${err?.message ?? err}`,
      stack: '',
    });
  }
}

/** A reply line for a failed invocation. */
function errorLine(id, error) {
  return JSON.stringify({ id: id ?? null, ok: false, error });
}

/**
 * Reads requests from fd 3 and hands them to `handle` one at a time; the
 * next read starts only after the reply, so no read holds a libuv thread
 * while the function runs. Resolves when fd 3 reaches EOF.
 */
async function serve(handle) {
  for await (const raw of lines(chunks(REQUEST_FD))) {
    const line = raw.trim();
    if (line !== '') sendLine(await handleLine(line, handle));
  }
}

/**
 * The bytes of a descriptor as they arrive. fs.read rather than a
 * net.Socket: loading `net` (and `stream` with it) costs ~2.5 ms of start.
 * The yielded view is reused by the next read.
 */
async function* chunks(fd) {
  const buffer = Buffer.allocUnsafe(64 * 1024);
  for (;;) {
    let size;
    try {
      size = await new Promise((resolve, reject) =>
        read(fd, buffer, 0, buffer.length, null, (err, n) => (err ? reject(err) : resolve(n))),
      );
    } catch (err) {
      if (err?.code !== 'EAGAIN') throw err;
      // A non-blocking descriptor (spawn's pipes are blocking) needs the event loop's poller.
      const { Socket } = await import('node:net');
      yield* new Socket({ fd, readable: true, writable: false });
      return;
    }
    if (size === 0) return;
    yield buffer.subarray(0, size);
  }
}

/** Newline-separated UTF-8 lines; split on bytes so a character cut between reads survives. */
async function* lines(source) {
  let parts = [];
  for await (const chunk of source) {
    let start = 0;
    let newline;
    while ((newline = chunk.indexOf(10, start)) !== -1) {
      parts.push(chunk.subarray(start, newline));
      yield Buffer.concat(parts).toString('utf8');
      parts = [];
      start = newline + 1;
    }
    // Copied: the chunk's buffer is overwritten by the next read.
    if (start < chunk.length) parts.push(Buffer.from(chunk.subarray(start)));
  }
  if (parts.length > 0) yield Buffer.concat(parts).toString('utf8');
}

async function handleLine(line, handle) {
  let request;
  try {
    request = JSON.parse(line);
    if (request === null || typeof request !== 'object')
      throw new Error('a request must be a JSON object');
  } catch (err) {
    return errorLine(null, {
      type: 'InvalidRequest',
      message: String(err?.message ?? err),
      stack: '',
    });
  }
  return handle(request);
}

/**
 * Makes the function's stdout and stderr block when their pipe is full, as
 * they do for Python: Node otherwise queues what the pipe cannot take and
 * writes it later, so lines printed just before a reply would arrive after
 * it and be counted against the next invocation. Done when a stream is
 * first used, so a function that never prints loads no stream code.
 */
function blockingOutput() {
  for (const name of ['stdout', 'stderr']) {
    const lazy = Object.getOwnPropertyDescriptor(process, name);
    if (!lazy?.get || !lazy.configurable) continue;
    Object.defineProperty(process, name, {
      configurable: true,
      enumerable: lazy.enumerable,
      get() {
        const stream = lazy.get.call(process);
        stream._handle?.setBlocking?.(true);
        Object.defineProperty(process, name, { configurable: true, enumerable: lazy.enumerable, value: stream });
        return stream;
      },
    });
  }
}

module.exports = { blockingOutput, describeError, errorLine, replyLine, send, sendLine, serve };
