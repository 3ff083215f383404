/**
 * Python and Node handlers that misbehave on request: one source per
 * runtime, the behaviour named by `event.case`, so every case runs the
 * same code a user could deploy. Results are symbolic errno names
 * (EROFS, ENOENT, ECONNREFUSED) in both languages.
 */
import assert from 'node:assert/strict';
import type { Package } from './support.ts';

export const PYTHON_PROBE = String.raw`"""Misbehaves on request, for Relay's end-to-end tests."""
import errno
import os
import socket
import subprocess
import sys
import time

count = 0


class BadInput(Exception):
    pass


def code(err):
    return errno.errorcode.get(err.errno, str(err.errno))


def handler(event, context):
    global count
    case = event["case"]
    if case == "raise":
        raise BadInput("input was rejected: " + event["why"])
    if case == "count":
        count += 1
        return {"count": count, "version": context.function_version, "branch": context.branch}
    if case == "sleep":
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        time.sleep(60)
    if case == "loop":
        while True:
            pass
    if case == "memory":
        hog = []
        while True:
            hog.append(b"\x01" * (8 << 20))
    if case == "fork":
        while True:
            try:
                os.fork()
            except OSError:
                pass
    if case == "exit":
        os._exit(1)
    if case == "write":
        targets = {"code": __file__, "task": "/var/task/new.txt", "root": "/new.txt",
                   "etc": "/etc/new.txt", "tmp": "/tmp/new.txt"}
        result = {}
        for label, path in targets.items():
            try:
                with open(path, "a") as f:
                    f.write("x")
                result[label] = "ok"
            except OSError as err:
                result[label] = code(err)
        return result
    if case == "read":
        result = {}
        for path in event["paths"]:
            try:
                with open(path, "rb") as f:
                    f.read(1)
                result[path] = "ok"
            except OSError as err:
                result[path] = code(err)
        return result
    if case == "connect":
        try:
            socket.create_connection((event["host"], event["port"]), timeout=2).close()
            return "connected"
        except OSError as err:
            return code(err)
    if case == "routes":
        with open("/proc/net/route") as f:
            return [line.split()[:2] for line in f.read().splitlines()[1:]]
    if case == "flood":
        line = "x" * 1023
        for _ in range(10240):
            print(line)
        return "done"
    if case == "env":
        return dict(os.environ)
    raise ValueError("unknown case " + case)
`;

export const NODE_PROBE = String.raw`// Misbehaves on request, for Relay's end-to-end tests.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';

let count = 0;

class BadInput extends Error {}

// Every process it starts starts more, and none gives up when the kernel says no.
const BOMB = 'const { spawn } = require("node:child_process"); const go = () => { try { spawn(process.execPath, ["-e", process.argv[1]], { stdio: "ignore" }).on("error", () => {}); } catch {} setImmediate(go); }; go();';

export async function handler(event, context) {
  switch (event.case) {
    case 'raise':
      throw new BadInput('input was rejected: ' + event.why);
    case 'count':
      count += 1;
      return { count, version: context.functionVersion, branch: context.branch };
    case 'sleep':
      spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
      return new Promise((resolve) => setTimeout(resolve, 60000));
    case 'loop':
      for (;;);
    case 'memory': {
      const hog = [];
      for (;;) hog.push(Buffer.alloc(8 << 20, 1));
    }
    case 'fork':
      for (;;) {
        try {
          spawn(process.execPath, ['-e', BOMB, BOMB], { stdio: 'ignore' }).on('error', () => {});
        } catch {}
        await new Promise((resolve) => setImmediate(resolve));
      }
    case 'exit':
      process.exit(1);
    case 'write': {
      const targets = { code: fileURLToPath(import.meta.url), task: '/var/task/new.txt', root: '/new.txt', etc: '/etc/new.txt', tmp: '/tmp/new.txt' };
      const result = {};
      for (const [label, path] of Object.entries(targets)) {
        try {
          fs.appendFileSync(path, 'x');
          result[label] = 'ok';
        } catch (err) {
          result[label] = err.code;
        }
      }
      return result;
    }
    case 'read': {
      const result = {};
      for (const path of event.paths) {
        try {
          fs.readFileSync(path);
          result[path] = 'ok';
        } catch (err) {
          result[path] = err.code;
        }
      }
      return result;
    }
    case 'connect':
      return new Promise((resolve) => {
        const socket = net.connect(event.port, event.host);
        socket.setTimeout(2000, () => resolve('ETIMEDOUT'));
        socket.on('connect', () => { socket.destroy(); resolve('connected'); });
        socket.on('error', (err) => resolve(err.code));
      });
    case 'routes':
      return fs.readFileSync('/proc/net/route', 'utf8').split('\n').slice(1).filter(Boolean).map((line) => line.split(/\s+/).slice(0, 2));
    case 'flood': {
      const line = 'x'.repeat(1023);
      for (let i = 0; i < 10240; i++) console.log(line);
      return 'done';
    }
    case 'env':
      return { ...process.env };
    default:
      throw new Error('unknown case ' + event.case);
  }
}
`;

/** The Python probe as a package; `tag` changes its digest (a new version). */
export function pythonProbe(manifest: Record<string, unknown> = {}, tag = ''): Package {
  return {
    manifest: { runtime: 'python3.11', entrypoint: 'main.handler', ...manifest },
    files: { 'main.py': `${PYTHON_PROBE}# ${tag}\n` },
  };
}

/** The Node probe as a package; `tag` changes its digest (a new version). */
export function nodeProbe(manifest: Record<string, unknown> = {}, tag = ''): Package {
  return {
    manifest: { runtime: 'node24', entrypoint: 'index.handler', ...manifest },
    files: { 'index.mjs': `${NODE_PROBE}// ${tag}\n` },
  };
}

/**
 * The `write` case's answer: its own code, /var/task, / and /etc refused —
 * EROFS (a read-only mount) or EACCES (the sandbox's user may not write
 * there; which comes first depends on the host user sandboxes run as) —
 * and /tmp writable.
 */
export function expectWritesRefused(output: Record<string, string>): void {
  const { tmp, ...outside } = output;
  assert.equal(tmp, 'ok');
  assert.deepEqual(Object.keys(outside).sort(), ['code', 'etc', 'root', 'task']);
  for (const [target, code] of Object.entries(outside)) {
    assert.ok(code === 'EROFS' || code === 'EACCES', `${target}: ${code}`);
  }
}
