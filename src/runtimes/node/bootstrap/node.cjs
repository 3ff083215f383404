// Relay's Node.js bootstrap: loads a Lambda-style handler (ES module or
// CommonJS) from the task dir and serves invocations over the invoke protocol
// (protocol.cjs) until fd 3 reaches EOF. Module state survives between warm
// invocations, as on Lambda.
'use strict';
const { existsSync } = require('node:fs');
const { registerHooks } = require('node:module');
const { basename, dirname, join } = require('node:path');
const { pathToFileURL } = require('node:url');
const { blockingOutput, describeError, errorLine, replyLine, send, sendLine, serve } = require('./protocol.cjs');

const EXTENSIONS = ['.mjs', '.js', '.cjs'];

class LoadError extends Error {
  constructor(type, message, stack = '') {
    super(message);
    this.error = { type, message, stack };
  }
}

// The request being served, so an uncaught exception can be reported against it.
let current = null;

async function main() {
  blockingOutput();
  const env = process.env;
  let handler;
  try {
    handler = await loadHandler(
      env.RELAY_HANDLER ?? '',
      env.RELAY_TASK_DIR ?? '.',
      env.RELAY_DEPS_DIR,
    );
  } catch (err) {
    send({ ready: false, error: err instanceof LoadError ? err.error : describeError(err) });
    process.exit(0);
  }
  send({ ready: true });
  await serve((request) => invoke(handler, request));
  // The sandbox is going away; the function's timers and sockets must not hold it up.
  process.exit(0);
}

/** Imports `path/to/module.handler` from the task dir. */
async function loadHandler(entrypoint, taskDir, depsDir) {
  const dot = entrypoint.lastIndexOf('.');
  if (dot <= 0 || dot === entrypoint.length - 1) {
    throw new LoadError(
      'ImportModuleError',
      `Bad handler '${entrypoint}': expected 'module.function', e.g. 'index.handler'`,
    );
  }
  const modulePath = entrypoint.slice(0, dot);
  const name = entrypoint.slice(dot + 1);
  try {
    // Lambda runs handlers with the task dir as cwd; relative paths rely on it.
    process.chdir(taskDir);
  } catch (err) {
    throw new LoadError('ImportModuleError', `Cannot enter the task dir: ${err.message}`);
  }
  if (depsDir) resolveFromDeps(depsDir);

  const file = EXTENSIONS.map((ext) => join(taskDir, modulePath + ext)).find((path) =>
    existsSync(path),
  );
  if (file === undefined) {
    const tried = EXTENSIONS.map((ext) => basename(modulePath) + ext).join(', ');
    throw new LoadError(
      'ImportModuleError',
      `Cannot find module '${modulePath}' in ${taskDir} (tried ${tried})`,
    );
  }
  let mod;
  try {
    // import() honours .mjs/.cjs and the nearest package.json "type" for .js.
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    const cause = describeError(err);
    throw new LoadError(
      'ImportModuleError',
      `Unable to import module '${modulePath}': ${cause.type}: ${cause.message}`,
      cause.stack,
    );
  }
  // CommonJS exports assigned dynamically are only reachable through `default`.
  const handler = typeof mod[name] === 'function' ? mod[name] : mod.default?.[name];
  if (typeof handler !== 'function') {
    throw new LoadError('HandlerNotFound', `${modulePath}.${name} is undefined or not exported`);
  }
  return handler;
}

/**
 * Bare specifiers the task dir cannot resolve are looked up in the
 * dependency dir (its node_modules). NODE_PATH covers require(); ES
 * modules ignore it, hence the resolve hook.
 */
function resolveFromDeps(depsDir) {
  const root = basename(depsDir) === 'node_modules' ? dirname(depsDir) : depsDir;
  const parentURL = pathToFileURL(join(root, 'relay-deps-resolver.js')).href;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      try {
        return nextResolve(specifier, context);
      } catch (err) {
        const bare = !/^(\.{0,2}\/|[a-z][a-z0-9+.-]*:)/i.test(specifier);
        if (!bare || (err?.code !== 'ERR_MODULE_NOT_FOUND' && err?.code !== 'MODULE_NOT_FOUND'))
          throw err;
        return nextResolve(specifier, { ...context, parentURL });
      }
    },
  });
}

function makeContext(fields, callbackSettle) {
  const deadline = Number(fields.deadlineMs ?? 0);
  const executionId = String(fields.executionId ?? '');
  const rufid = String(fields.rufid ?? '');
  return {
    awsRequestId: executionId,
    executionId,
    tenantId: String(fields.tenantId ?? ''),
    rufid,
    branch: String(fields.branch ?? ''),
    functionName: String(fields.functionName ?? ''),
    // Lambda exposes these two as strings; existing handlers expect that.
    functionVersion: String(fields.version ?? ''),
    memoryLimitInMB: String(fields.memoryLimitMb ?? ''),
    invokedFunctionArn: `relay:${fields.tenantId ?? ''}:function:${rufid}:${fields.branch ?? ''}`,
    logGroupName: `/relay/functions/${rufid}`,
    logStreamName: executionId,
    identity: undefined,
    clientContext: undefined,
    // Accepted for compatibility; a warm sandbox never waits for an empty event loop.
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    // The pre-callback Lambda API, still used by old handlers.
    done: (err, result) => callbackSettle(err, result),
    succeed: (result) => callbackSettle(null, result),
    fail: (err) => callbackSettle(err ?? new Error('failed'), undefined),
  };
}

/** Runs the handler in any of its styles: async, sync, or (event, context, callback). */
function callHandler(handler, event, fields) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (err, result) => {
      if (settled) return;
      settled = true;
      if (err !== null && err !== undefined) reject(err);
      else resolve(result);
    };
    const context = makeContext(fields, settle);
    let returned;
    try {
      returned = handler(event, context, settle);
    } catch (err) {
      settle(err);
      return;
    }
    if (returned !== null && typeof returned?.then === 'function') {
      returned.then(
        (result) => settle(null, result),
        (err) => settle(err ?? new Error('handler rejected'), undefined),
      );
    } else if (handler.length < 3) {
      settle(null, returned);
    }
    // A callback-style handler that returned no promise answers through the callback.
  });
}

async function invoke(handler, request) {
  current = request;
  try {
    return replyLine(request.id, await callHandler(handler, request.input, request.context ?? {}));
  } catch (err) {
    return errorLine(request.id, describeError(err));
  } finally {
    current = null;
  }
}

// Lambda's behaviour: an exception nobody catches fails the invocation in
// progress, and the process ends because its state can no longer be trusted.
process.on('uncaughtException', (err, origin) => {
  if (current !== null) {
    sendLine(errorLine(current.id, describeError(err)));
  } else {
    process.stderr.write(
      `Relay: ${origin === 'unhandledRejection' ? 'unhandled rejection' : 'uncaught exception'} outside an invocation: ${err?.stack ?? err}\n`,
    );
  }
  process.exit(1);
});

void main();
