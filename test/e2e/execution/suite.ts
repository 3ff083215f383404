/**
 * One end-to-end suite every runtime runs through HTTP against a server
 * that isolates functions with bubblewrap: echo, handler errors, timeout,
 * memory and fork bombs, infinite loops, file-system, network and
 * environment isolation, the log cap and warm module state. A runtime
 * states how to provoke each case and what it answers; a case that cannot
 * exist in a runtime is skipped with the reason, and its file tests what
 * stands in for it.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestServer } from '../../support/server.ts';
import {
  MARK_VAR,
  MAX_LOG_BYTES,
  REPO_ROOT,
  deploy,
  deployVersion,
  examplePackage,
  execute,
  hostAddress,
  hostListener,
  logLines,
  markedProcesses,
  newTenant,
  peakProcesses,
  startExecutionServer,
  unique,
} from './support.ts';
import type { Case, RuntimeSpec } from './spec.ts';

/** Registers the suite for one runtime. */
export function runtimeSuite(spec: RuntimeSpec): void {
  describe(`${spec.runtime} in the bwrap sandbox, over HTTP`, () => {
    let ts: TestServer;
    let key: string;
    // The server holds its bootstrap key in its own environment, as `relay serve` does.
    const hostKey = `rk_host_${randomBytes(16).toString('hex')}`;
    before(async () => {
      process.env.RELAY_BOOTSTRAP_API_KEY = hostKey;
      ts = await startExecutionServer({ RELAY_BOOTSTRAP_API_KEY: hostKey });
      key = (await newTenant(ts)).key;
    });
    after(async () => {
      delete process.env.RELAY_BOOTSTRAP_API_KEY;
      await ts?.close();
    });

    async function deployProbe(c: Case, manifest: Record<string, unknown>, params = {}) {
      const { pkg, input } = await spec.probe(c, manifest, params);
      return { rufid: await deploy(ts, key, pkg), input };
    }

    test('echo: the example returns its input with 200', async () => {
      const rufid = await deploy(ts, key, await examplePackage(spec.example));
      const input = { ping: 'pong', n: [1, 2.5], nested: { ok: true } };
      const res = await execute(ts, key, rufid, input);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.status, 'succeeded');
      assert.equal(res.body.error, null);
      assert.deepEqual([res.body.rufid, res.body.version, res.body.branch], [rufid, 1, 'main']);
      spec.expectEcho(res.body.output, { input, rufid, id: res.body.id });
    });

    test('a handler exception answers 502 with its type and message', async () => {
      const { rufid, input } = await deployProbe('raise', {});
      const res = await execute(ts, key, rufid, input);
      assert.equal(res.status, 502);
      assert.equal(res.body.status, 'failed');
      assert.equal(res.body.error.type, spec.raised.type);
      if (typeof spec.raised.message === 'string')
        assert.equal(res.body.error.message, spec.raised.message);
      else assert.match(res.body.error.message, spec.raised.message);
    });

    test('a call past its timeout answers 504 timed_out and leaves no process behind', async () => {
      const mark = unique('mark');
      const { rufid, input } = await deployProbe('sleep', {
        limits: { timeoutSeconds: 1 },
        env: { [MARK_VAR]: mark },
      });
      const call = execute(ts, key, rufid, input);
      const { peak, samples } = await peakProcesses(mark, call);
      const res = await call;
      assert.equal(res.status, 504);
      assert.equal(res.body.status, 'timed_out');
      assert.deepEqual(res.body.error, {
        type: 'TimeoutError',
        message: 'Function exceeded its timeout of 1s and was stopped',
      });
      assert.ok(
        peak >= spec.sleepingProcesses,
        `saw ${samples.join(' ')} sandbox processes while it slept: ${res.text}`,
      );
      assert.deepEqual(await markedProcesses(mark), [], 'no sandbox process outlives the timeout');
    });

    test('a memory bomb ends memory_exceeded (502) while another function runs unaffected', async () => {
      const other = await deploy(ts, key, await examplePackage(spec.example));
      const mb = spec.bombMemoryMb;
      const { rufid, input } = await deployProbe('memory', {
        limits: { timeoutSeconds: 5, memoryMb: mb },
      });
      const [bomb, echo] = await Promise.all([
        execute(ts, key, rufid, input),
        execute(ts, key, other, { during: 'bomb' }),
      ]);
      assert.equal(bomb.status, 502, bomb.text);
      assert.equal(bomb.body.status, 'memory_exceeded');
      assert.deepEqual(bomb.body.error, {
        type: 'MemoryLimitExceeded',
        message: `Function exceeded its memory limit of ${mb} MB and was stopped`,
      });
      assert.equal(echo.status, 200, echo.text);
      spec.expectEcho(echo.body.output, {
        input: { during: 'bomb' },
        rufid: other,
        id: echo.body.id,
      });
      assert.equal((await ts.call('GET', '/healthz', { key: null })).status, 200);
    });

    test(
      'a fork bomb stays within the pids limit, ends timed_out, and the server stays healthy',
      { skip: spec.absent?.fork },
      async () => {
        const mark = unique('mark');
        const other = await deploy(ts, key, await examplePackage(spec.example));
        const { rufid, input } = await deployProbe('fork', {
          limits: { timeoutSeconds: 2 },
          env: { [MARK_VAR]: mark },
        });
        const call = execute(ts, key, rufid, input);
        const peak = peakProcesses(mark, call);
        for (let i = 0; i < 100 && (await markedProcesses(mark)).length < 3; i++) await sleep(20);
        // While the bomb runs, the host answers and runs other functions.
        const [health, echo] = await Promise.all([
          ts.call('GET', '/healthz', { key: null }),
          execute(ts, key, other, { during: 'fork bomb' }),
        ]);
        const res = await call;
        assert.equal(health.status, 200);
        assert.equal(echo.status, 200, echo.text);
        assert.equal(res.status, 504);
        assert.equal(res.body.status, 'timed_out');
        assert.equal(res.body.error.type, 'TimeoutError');
        const { peak: most, samples } = await peak;
        assert.ok(
          most >= 3 && most <= ts.config.sandbox.pidsLimit,
          `sandbox processes seen: ${samples.join(' ')}; ${res.text}`,
        );
        assert.deepEqual(await markedProcesses(mark), []);
      },
    );

    test('an infinite loop is stopped at the timeout as timed_out', async () => {
      const { rufid, input } = await deployProbe('loop', { limits: { timeoutSeconds: 1 } });
      const res = await execute(ts, key, rufid, input);
      assert.equal(res.status, 504);
      assert.equal(res.body.status, 'timed_out');
      assert.equal(res.body.error.type, 'TimeoutError');
      const runMs = res.body.timings.runMs as number;
      // Killed at the deadline, not long after it (the run timer and the deadline start a tick apart).
      assert.ok(runMs >= 950 && runMs < 1500, `ran ${runMs} ms`);
    });

    test('a write outside /tmp fails; /tmp is writable', async () => {
      const { rufid, input } = await deployProbe('write', {});
      const res = await execute(ts, key, rufid, input);
      assert.equal(res.status, 200, res.text);
      spec.expectWrite(res.body.output);
      // Seen from the host: the package the sandbox was given is unchanged.
      const packages = path.join(ts.dataDir, 'packages');
      for (const digest of await readdir(packages)) {
        assert.ok(!(await readdir(path.join(packages, digest))).includes('new.txt'));
      }
    });

    test("host files are out of reach: /etc/shadow, the server's data dir, the repository", async () => {
      const hostPaths = [
        '/etc/shadow',
        path.join(ts.dataDir, 'relay.db'),
        path.join(REPO_ROOT, 'package.json'),
      ];
      for (const p of hostPaths) assert.ok(existsSync(p), `${p} exists on the host`);
      const { paths, expected } = spec.read(hostPaths);
      const { rufid, input } = await deployProbe('read', {}, { paths });
      const res = await execute(ts, key, rufid, input);
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(res.body.output, expected);
    });

    test(
      "no network unless the manifest sets network: true, and never the host's own services",
      { skip: spec.absent?.connect },
      async (t) => {
        // Listens on every host address: its loopback and the addresses the host serves on.
        const listener = await hostListener();
        t.after(() => listener.close());
        const host = hostAddress();
        const connect = async (rufid: string, to: string, port: number) => {
          const res = await execute(ts, key, rufid, { case: 'connect', host: to, port });
          assert.equal(res.status, 200, res.text);
          return `${to}:${port} ${String(res.body.output)}`;
        };
        const routes = async (rufid: string) =>
          (await execute(ts, key, rufid, { case: 'routes' })).body.output as string[][];

        const closed = (await deployProbe('connect', {})).rufid;
        assert.deepEqual(await routes(closed), [], 'loopback only: no route anywhere');
        const outside = '198.51.100.1';
        assert.deepEqual(
          [
            await connect(closed, '127.0.0.1', listener.port),
            await connect(closed, '127.0.0.1', 5432),
            await connect(closed, outside, 80),
            ...(host ? [await connect(closed, host, listener.port)] : []),
          ],
          [
            `127.0.0.1:${listener.port} ECONNREFUSED`,
            '127.0.0.1:5432 ECONNREFUSED',
            `${outside}:80 ENETUNREACH`,
            ...(host ? [`${host}:${listener.port} ENETUNREACH`] : []),
          ],
        );

        const open = (await deployProbe('connect', { network: true })).rufid;
        assert.ok(
          (await routes(open)).some(([, destination]) => destination === '00000000'),
          'a networked sandbox has a default route',
        );
        // Its 127.0.0.1 is its own, and the host's addresses are unreachable from it.
        assert.deepEqual(
          [
            await connect(open, '127.0.0.1', listener.port),
            ...(host ? [await connect(open, host, listener.port)] : []),
          ],
          [
            `127.0.0.1:${listener.port} ECONNREFUSED`,
            ...(host ? [`${host}:${listener.port} EHOSTUNREACH`] : []),
          ],
        );
        assert.equal(listener.connections(), 0);
      },
    );

    test('10 MB of output is capped at the log limit with a marker; the call still completes', async () => {
      const { rufid, input } = await deployProbe('flood', {});
      const res = await execute(ts, key, rufid, input);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.output, 'done');
      const lines = await logLines(ts, key, res.body.id);
      const kept = MAX_LOG_BYTES / 1024;
      assert.equal(lines.length, kept + 1);
      const line = 'x'.repeat(1023);
      assert.ok(
        lines.slice(0, kept).every((l) => l.stream === spec.floodStream && l.line === line),
      );
      assert.deepEqual(
        [lines[kept].stream, lines[kept].line],
        [
          'system',
          `[relay] ${10240 - kept} log lines dropped: the log limit of ${MAX_LOG_BYTES} bytes was reached`,
        ],
      );
    });

    test(
      'module state lives across warm calls of one version, never across versions or branches',
      { skip: spec.absent?.count },
      async () => {
        const first = await spec.probe('count', {}, { tag: 'v1' });
        const rufid = await deploy(ts, key, first.pkg);
        const count = async (branch?: string) => {
          const headers: Record<string, string> = branch
            ? { 'X-Relay-Branch': branch, 'X-Relay-Branch-Key': key }
            : {};
          const res = await execute(ts, key, rufid, first.input, headers);
          assert.equal(res.status, 200, res.text);
          const {
            count: n,
            version,
            branch: seen,
          } = res.body.output as { count: number; version: string; branch: string };
          return [n, version, seen];
        };
        // Versions reach handlers as strings, as Lambda's function_version / functionVersion.
        assert.deepEqual(
          [await count(), await count(), await count()],
          [
            [1, '1', 'main'],
            [2, '1', 'main'],
            [3, '1', 'main'],
          ],
        );
        const dev = await ts.call('PUT', `/api/v1/functions/${rufid}/branches/dev`, {
          key,
          body: { version: 1 },
        });
        assert.equal(dev.status, 200, dev.text);
        assert.deepEqual(
          [await count('dev'), await count('dev')],
          [
            [1, '1', 'dev'],
            [2, '1', 'dev'],
          ],
        );
        const v2 = await deployVersion(
          ts,
          key,
          rufid,
          (await spec.probe('count', {}, { tag: 'v2' })).pkg,
        );
        assert.equal(v2, 2);
        assert.deepEqual(
          [await count(), await count()],
          [
            [1, '2', 'main'],
            [2, '2', 'main'],
          ],
        );
        assert.deepEqual(await count('dev'), [3, '1', 'dev']);
      },
    );

    test("the server's environment does not reach the function; the manifest's env does", async () => {
      const { rufid, input } = await deployProbe('env', { env: { GREETING: 'from the manifest' } });
      const res = await execute(ts, key, rufid, input);
      assert.equal(res.status, 200, res.text);
      const env = spec.envOf(res.body, await logLines(ts, key, res.body.id));
      assert.equal(env.GREETING, 'from the manifest');
      assert.equal(env.RELAY_BOOTSTRAP_API_KEY, undefined);
      assert.ok(
        !Object.values(env).some((v) => v.includes(hostKey)),
        'no value carries the server key',
      );
      const allowed = new Set([...spec.runtimeEnv, 'GREETING']);
      assert.deepEqual(
        Object.keys(env).filter((name) => !allowed.has(name)),
        [],
      );
    });
  });
}
