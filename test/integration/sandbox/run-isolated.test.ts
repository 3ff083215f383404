/** runIsolated: one-off commands under the sandbox's isolation and limits. */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createIsolatedRunner, runIsolated } from '../../../src/sandbox/index.ts';
import { ResourceLimitsEnforcer } from '../../../src/sandbox/limits/index.ts';
import { silentLogger } from '../../../src/sandbox/logger.ts';
import { PYTHON } from './fixtures/runtime.ts';

const T = { timeout: 30_000 };
const asRoot = process.getuid?.() === 0;
const rootOnly = asRoot ? {} : { skip: 'Relay is not root: commands run as its own user' };
const py = (code: string): string[] => [PYTHON, '-I', '-S', '-c', code];

describe('runIsolated with bwrap', () => {
  let dir: string;
  let enforcer: ResourceLimitsEnforcer;
  const base = {
    env: { PATH: '/usr/bin', LANG: 'C.UTF-8' },
    network: false,
    timeoutMs: 10_000,
    memoryMb: 128,
    cwd: '/out',
  };

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'relay-isolated-'));
    enforcer = ResourceLimitsEnforcer.create({ logger: silentLogger() });
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await enforcer.close();
  });

  const run = (code: string, extra: Partial<Parameters<typeof runIsolated>[0]> = {}) =>
    runIsolated(
      {
        ...base,
        argv: py(code),
        binds: [{ host: dir, sandbox: '/out', writable: true }],
        ...extra,
      },
      { mode: 'bwrap', enforcer },
    );

  test('runs the command, captures its output and writes through a writable bind', T, async () => {
    const r = await run(
      'import sys; open("/out/f.txt","w").write("made"); print("out"); print("err", file=sys.stderr); sys.exit(3)',
    );
    assert.equal(r.code, 3);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal(r.timedOut, false);
    assert.equal(readFileSync(path.join(dir, 'f.txt'), 'utf8'), 'made');
  });

  test('sees only its binds, the interpreter and the given environment', T, async () => {
    const r = await run(
      'import os, json; print(json.dumps([sorted(os.listdir("/")), os.path.exists("/work"), dict(os.environ)]))',
    );
    const [root, work, env] = JSON.parse(r.stdout);
    assert.equal(work, false);
    assert.ok(!root.includes('home') && !root.includes('root') && !root.includes('work'));
    assert.deepEqual(Object.keys(env).sort(), ['LANG', 'PATH', 'PWD']);
  });

  test('a read-only bind cannot be written', T, async () => {
    // Read-only binds must be reachable by the sandbox user; mkdtemp made this one owner-only.
    chmodSync(dir, 0o755);
    const r = await runIsolated(
      {
        ...base,
        argv: py('open("/out/x","w")'),
        binds: [{ host: dir, sandbox: '/out', writable: false }],
      },
      { mode: 'bwrap', enforcer },
    );
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Read-only file system/);
  });

  test('the network is off unless asked for, and then reaches the npm registry', T, async () => {
    const code =
      'import socket\ntry:\n  socket.create_connection(("registry.npmjs.org", 443), timeout=10); print("up")\nexcept OSError as e: print("down", e)';
    assert.match((await run(code)).stdout, /^down/);
    assert.equal((await run(code, { network: true })).stdout, 'up\n');
    const probe = 'import os; print(os.path.exists("/etc/resolv.conf"))';
    assert.equal((await run(probe, { network: true })).stdout.trim(), 'True');
  });

  test("with network the host's own loopback services stay out of reach", T, async () => {
    const code =
      'import socket\ntry:\n  socket.create_connection(("10.0.2.2", 5432), timeout=5); print("up")\nexcept OSError as e: print("down")';
    assert.equal((await run(code, { network: true })).stdout, 'down\n');
  });

  test(
    'with Relay as root the command runs as uid 65534 and what it writes is handed back to the owner',
    { ...T, ...rootOnly },
    async () => {
      const r = await run(
        'import os; open("/out/owned","w").write("x"); os.chmod("/out/owned", 0o4755); print(os.getuid(), os.getgroups())',
      );
      assert.equal(r.stdout, '65534 []\n');
      const st = statSync(path.join(dir, 'owned'));
      assert.equal(st.uid, 0);
      assert.equal(st.mode & 0o4000, 0, 'the set-uid bit did not survive the change of owner');
      assert.equal(statSync(dir).uid, 0);
    },
  );

  test(
    'a read-only bind the sandbox user cannot reach is refused, naming the directory',
    { ...T, ...rootOnly },
    async () => {
      const hidden = mkdtempSync(path.join(tmpdir(), 'relay-hidden-'));
      try {
        await assert.rejects(
          runIsolated(
            {
              ...base,
              argv: py('pass'),
              binds: [{ host: hidden, sandbox: '/in', writable: false }],
            },
            { mode: 'bwrap', enforcer },
          ),
          new RegExp(`${hidden}.*not reachable by uid 65534.*chmod o\\+x`),
        );
      } finally {
        rmSync(hidden, { recursive: true, force: true });
      }
    },
  );

  test('the wall clock kills the command and everything it started', T, async () => {
    const started = Date.now();
    const r = await run(
      'import os, time\nfor _ in range(3):\n  os.fork() or time.sleep(60)\ntime.sleep(60)',
      { timeoutMs: 500 },
    );
    assert.equal(r.timedOut, true);
    assert.equal(r.signal, 'SIGKILL');
    assert.ok(Date.now() - started < 10_000);
  });

  test('exceeding memory is reported from the cgroup', T, async () => {
    const r = await run('x = []\nwhile True: x.append(bytearray(8 << 20))', { memoryMb: 64 });
    assert.equal(r.memoryExceeded, true);
    assert.notEqual(r.code, 0);
  });

  test('aborting the signal kills the command', T, async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const r = await run('import time; time.sleep(60)', { signal: controller.signal });
    assert.equal(r.cancelled, true);
  });

  test('output beyond the cap keeps its tail', T, async () => {
    const r = await run('print("a" * 5000); print("end")', { maxOutputBytes: 100 });
    assert.equal(r.stdout.length, 100);
    assert.ok(r.stdout.endsWith('end\n'));
  });
});

describe('runIsolated without bwrap', () => {
  test('refuses binds that would need remapping', async () => {
    await assert.rejects(
      runIsolated(
        {
          argv: ['/usr/bin/true'],
          env: {},
          binds: [{ host: '/tmp', sandbox: '/out', writable: true }],
          network: false,
          timeoutMs: 1000,
          memoryMb: 64,
          cwd: '/',
        },
        { mode: 'process' },
      ),
      /cannot remap/,
    );
  });

  test('runs the command in its limits', T, async () => {
    const r = await runIsolated(
      {
        argv: py('print("plain")'),
        env: {},
        binds: [],
        network: false,
        timeoutMs: 5000,
        memoryMb: 64,
        cwd: '/',
      },
      { mode: 'process' },
    );
    assert.equal(r.code, 0);
    assert.equal(r.stdout, 'plain\n');
  });
});

describe('createIsolatedRunner', () => {
  test('serves many commands with one probe and one parent cgroup', T, async () => {
    const runner = await createIsolatedRunner({ logger: silentLogger() });
    try {
      for (let i = 0; i < 3; i++) {
        const r = await runner.run({
          argv: py(`print(${i})`),
          env: {},
          binds: [],
          network: false,
          timeoutMs: 5000,
          memoryMb: 64,
          cwd: '/tmp',
        });
        assert.equal(r.stdout, `${i}\n`);
      }
    } finally {
      await runner.close();
    }
  });
});
