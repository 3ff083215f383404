/**
 * The runtime adapters themselves: entrypoint checks, launch commands and
 * environments, host paths and pids limits (measured on real bootstraps),
 * and the examples under examples/ running through them.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Manifest } from '../../../src/domain/index.ts';
import { createRuntimes, type LaunchPaths } from '../../../src/runtimes/index.ts';
import { startBootstrap } from '../../support/invoke-client.ts';
import { startReady, taskDirs } from './fixtures.ts';

const runtimes = createRuntimes();
const paths: LaunchPaths = {
  taskDir: '/var/task',
  depsDir: undefined,
  bootstrapDir: '/opt/relay',
  tmpDir: '/tmp',
};

test('createRuntimes gives one adapter per runtime, with the binaries asked for', () => {
  assert.deepEqual(Object.keys(runtimes).sort(), ['node24', 'python3.11', 'wasm']);
  for (const [name, adapter] of Object.entries(runtimes)) assert.equal(adapter.runtime, name);
  const custom = createRuntimes({ pythonPath: '/usr/bin/python3.11', nodePath: process.execPath });
  assert.equal(custom['python3.11'].launch('main.handler', paths).argv[0], '/usr/bin/python3.11');
  assert.equal(
    custom.node24.launch('index.handler', paths).argv[0],
    realpathSync(process.execPath),
  );
});

test('checkEntrypoint accepts what the package has and says what is missing', () => {
  const cases: [keyof typeof runtimes, string, string[], string | null][] = [
    ['python3.11', 'main.handler', ['main.py', 'relay.json'], null],
    ['python3.11', 'pkg.mod.handler', ['pkg/__init__.py', './pkg/mod.py'], null],
    ['python3.11', 'pkg.handler', ['pkg/__init__.py'], null],
    [
      'python3.11',
      'main.handler',
      ['app.py'],
      'entrypoint main.handler: main.py not found in the package',
    ],
    [
      'python3.11',
      'main',
      ['main.py'],
      'entrypoint main: expected module.function, e.g. main.handler',
    ],
    ['node24', 'index.handler', ['index.mjs'], null],
    ['node24', 'index.handler', ['index.cjs'], null],
    ['node24', 'src/app.handler', ['src/app.js'], null],
    [
      'node24',
      'index.handler',
      ['main.js'],
      'entrypoint index.handler: none of index.mjs, index.js, index.cjs found in the package',
    ],
    [
      'node24',
      '../up.handler',
      ['index.js'],
      'entrypoint ../up.handler: expected module.function, e.g. index.handler',
    ],
    ['wasm', 'echo.wasm', ['echo.wasm', 'echo.wat'], null],
    [
      'wasm',
      'echo.wasm',
      ['other.wasm'],
      'entrypoint echo.wasm: echo.wasm not found in the package',
    ],
    [
      'wasm',
      '../etc/x.wasm',
      ['x.wasm'],
      'entrypoint ../etc/x.wasm: expected the path of a .wasm file in the package, e.g. echo.wasm',
    ],
  ];
  for (const [runtime, entrypoint, files, expected] of cases) {
    assert.equal(
      runtimes[runtime].checkEntrypoint(entrypoint, files),
      expected,
      `${runtime} ${entrypoint}`,
    );
  }
});

test('launch: absolute interpreter, fast and isolated flags, a complete environment', () => {
  const withDeps = { ...paths, depsDir: '/opt/deps' };
  const python = runtimes['python3.11'].launch('main.handler', withDeps);
  assert.deepEqual(python.argv.slice(0, 5), ['/usr/bin/python3', '-I', '-S', '-B', '-c']);
  assert.equal(python.argv.at(-1), '/opt/relay');
  assert.deepEqual(python.env, {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: '/tmp',
    TMPDIR: '/tmp',
    LANG: 'C.UTF-8',
    LAMBDA_TASK_ROOT: '/var/task',
    RELAY_HANDLER: 'main.handler',
    RELAY_TASK_DIR: '/var/task',
    RELAY_DEPS_DIR: '/opt/deps',
  });
  const node = runtimes.node24.launch('index.handler', withDeps);
  assert.ok(node.argv[0]!.startsWith('/'));
  assert.deepEqual(node.argv.slice(1), [
    '--disable-warning=ExperimentalWarning',
    '--disable-sigusr1',
    '/opt/relay/node.cjs',
  ]);
  assert.equal(node.env.NODE_PATH, '/opt/deps/node_modules');
  assert.equal(runtimes.node24.launch('index.handler', paths).env.NODE_PATH, undefined);
  const wasm = runtimes.wasm.launch('echo.wasm', paths);
  assert.equal(wasm.argv.at(-1), '/opt/relay/wasm.cjs');
  assert.equal(wasm.env.RELAY_HANDLER, 'echo.wasm');
});

test('hostPaths name the interpreter and what it loads', () => {
  const python = runtimes['python3.11'].hostPaths;
  assert.ok(python.includes('/usr/bin/python3'));
  assert.ok(python.includes(realpathSync('/usr/bin/python3')));
  assert.ok(
    python.some((path) => existsSync(join(path, 'os.py'))),
    'the stdlib dir',
  );
  for (const path of python) assert.ok(existsSync(path), path);
  assert.deepEqual(runtimes.node24.hostPaths, [realpathSync(process.execPath)]);
  assert.deepEqual(runtimes.wasm.hostPaths, runtimes.node24.hostPaths);
});

test('the python bootstrap is compiled on the host so starts skip compiling it', () => {
  runtimes['python3.11'].launch('main.handler', paths);
  const cache = join(runtimes['python3.11'].bootstrapDir, '__pycache__');
  assert.ok(readdirSync(cache).some((file) => file.startsWith('relay_bootstrap.')));
});

function threads(pid: number): number {
  return readdirSync(`/proc/${pid}/task`).length;
}

test('every bootstrap runs within its minPids, threads included', async (t) => {
  const node = await startReady(t, runtimes.node24, 'index.handler', {
    // Async file I/O starts the libuv thread pool.
    'index.mjs':
      "import { readFile } from 'node:fs/promises';\nexport const handler = async () => (await readFile('index.mjs')).length;\n",
  });
  await node.invoke(null);
  assert.ok(
    threads(node.child.pid!) <= runtimes.node24.minPids,
    `node threads ${threads(node.child.pid!)}`,
  );
  const wasm = await startReady(t, runtimes.wasm, 'echo.wasm', {
    'echo.wasm': readFileSync(new URL('../../../examples/wasm-echo/echo.wasm', import.meta.url)),
  });
  await wasm.invoke(null);
  assert.ok(
    threads(wasm.child.pid!) <= runtimes.wasm.minPids,
    `wasm threads ${threads(wasm.child.pid!)}`,
  );
  const python = await startReady(t, runtimes['python3.11'], 'main.handler', {
    'main.py': 'def handler(event, context):\n    return 1\n',
  });
  await python.invoke(null);
  assert.ok(threads(python.child.pid!) <= runtimes['python3.11'].minPids);
});

test('each example under examples/ deploys and echoes through its runtime', async (t) => {
  const root = new URL('../../../examples/', import.meta.url);
  const examples = readdirSync(root).filter((name) =>
    existsSync(new URL(`${name}/relay.json`, root)),
  );
  assert.deepEqual(examples.sort(), ['node-echo', 'python-echo', 'wasm-echo']);
  for (const name of examples) {
    const taskDir = new URL(name, root).pathname;
    const manifest = JSON.parse(readFileSync(join(taskDir, 'relay.json'), 'utf8')) as Manifest;
    const adapter = runtimes[manifest.runtime];
    assert.equal(adapter.checkEntrypoint(manifest.entrypoint, readdirSync(taskDir)), null, name);
    const { tmpDir } = taskDirs(t, {});
    const client = startBootstrap(adapter, manifest.entrypoint, {
      taskDir,
      depsDir: undefined,
      tmpDir,
    });
    t.after(() => client.kill());
    assert.deepEqual(await client.ready, { ready: true }, `${name}: ${client.stderr}`);
    const output = (await client.invoke({ hello: 'world' })).output as { echo?: unknown };
    assert.deepEqual(manifest.runtime === 'wasm' ? output : output.echo, { hello: 'world' }, name);
    await client.close();
  }
});
