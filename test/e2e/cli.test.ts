/** The `relay` command as a user runs it: a subprocess speaking HTTP to a real server. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestServer, type TestServer } from '../support/server.ts';
import { makeTempDir, type TempDir } from '../support/tmp.ts';
import { unique } from './fixtures.ts';

const BIN = fileURLToPath(new URL('../../bin/relay.ts', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function relay(args: string[], env: Record<string, string>, cwd: string): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', BIN, ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function writeFunction(dir: string, name: string, tag: string): Promise<void> {
  await mkdir(path.join(dir, 'node_modules', 'junk'), { recursive: true });
  await writeFile(
    path.join(dir, 'relay.json'),
    JSON.stringify({ name, runtime: 'python3.11', entrypoint: 'main.handler' }),
  );
  await writeFile(path.join(dir, 'main.py'), `def handler(event, context):\n    return "${tag}"\n`);
  await writeFile(path.join(dir, 'logo.bin'), Buffer.from([0, 159, 146, 150, 255]));
  await writeFile(path.join(dir, 'node_modules', 'junk', 'index.js'), 'skipped');
}

describe('relay CLI', () => {
  let ts: TestServer;
  let work: TempDir;
  let env: Record<string, string>;
  before(async () => {
    ts = await startTestServer();
    work = await makeTempDir('relay-cli-');
    env = { RELAY_URL: ts.url, RELAY_API_KEY: ts.key };
  });
  after(async () => {
    await ts.close();
    await work.cleanup();
  });

  test('deploy, deploy --branch dev, versions and promote with --json', async () => {
    const dir = path.join(work.path, unique('fn'));
    const name = unique('hello');
    await writeFunction(dir, name, 'one');

    const first = await relay(['deploy', dir, '--json', '-m', 'first'], env, work.path);
    assert.equal(first.code, 0, first.stderr);
    const created = JSON.parse(first.stdout);
    assert.equal(created.version, 1);
    assert.equal(created.branch, 'main');
    assert.equal(created.created, true);

    await writeFunction(dir, name, 'two');
    const second = await relay(['deploy', dir, '--branch', 'dev', '--json'], env, work.path);
    assert.equal(second.code, 0, second.stderr);
    assert.deepEqual(
      { rufid: JSON.parse(second.stdout).rufid, version: JSON.parse(second.stdout).version },
      { rufid: created.rufid, version: 2 },
    );

    const versions = await relay(['versions', created.rufid, '--json'], env, work.path);
    assert.equal(versions.code, 0, versions.stderr);
    const ledger = JSON.parse(versions.stdout);
    assert.deepEqual(
      ledger.map((v: { version: number; branch: string }) => [v.version, v.branch]),
      [
        [2, 'dev'],
        [1, 'main'],
      ],
    );
    assert.deepEqual(ledger[1].files.map((f: { path: string }) => f.path).sort(), [
      'logo.bin',
      'main.py',
    ]);
    assert.equal(ledger[1].message, 'first');

    const promoted = await relay(
      ['promote', created.rufid, '--from', 'dev', '--json'],
      env,
      work.path,
    );
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.equal(JSON.parse(promoted.stdout).version, 2);
    assert.equal(JSON.parse(promoted.stdout).previousVersion, 1);

    const resolved = await relay(['resolve', created.rufid, '--json'], env, work.path);
    assert.equal(JSON.parse(resolved.stdout).version, 2);

    const rolledBack = await relay(
      ['branch', 'set', created.rufid, 'main', '1', '--json'],
      env,
      work.path,
    );
    assert.equal(JSON.parse(rolledBack.stdout).version, 1);
  });

  test('human output is a table', async () => {
    const dir = path.join(work.path, unique('fn'));
    await writeFunction(dir, unique('table'), 'x');
    assert.equal((await relay(['deploy', dir], env, work.path)).code, 0);
    const ls = await relay(['functions', 'ls'], env, work.path);
    assert.equal(ls.code, 0);
    assert.match(ls.stdout, /^RUFID\s+NAME\s+BRANCHES\s+CREATED/);
  });

  test('finds the bootstrap key in the data dir when no key is given', async () => {
    const run = await relay(
      ['keys', 'ls', '--json'],
      { RELAY_URL: ts.url, RELAY_DATA_DIR: ts.dataDir },
      work.path,
    );
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout)[0].scopes, ['operator', 'admin']);
  });

  test('a server error is one line on stderr and exit code 1', async () => {
    const run = await relay(['versions', '000000000000'], env, work.path);
    assert.equal(run.code, 1);
    assert.equal(run.stderr.trim(), "relay: FUNCTION_NOT_FOUND: Function '000000000000' not found");
  });

  test('a usage error exits with code 2', async () => {
    const run = await relay(['deploy'], env, work.path);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /missing required argument 'dir'/);
  });

  test('no key anywhere is a usage error (exit 2)', async () => {
    const run = await relay(
      ['functions', 'ls'],
      { RELAY_URL: ts.url, RELAY_DATA_DIR: path.join(work.path, 'none') },
      work.path,
    );
    assert.equal(run.code, 2);
    assert.match(run.stderr, /no API key/);
  });

  test('an unreachable server is exit 1 with a hint', async () => {
    const run = await relay(
      ['functions', 'ls'],
      { RELAY_URL: 'http://127.0.0.1:9', RELAY_API_KEY: 'x'.repeat(20) },
      work.path,
    );
    assert.equal(run.code, 1);
    assert.match(run.stderr, /cannot reach Relay/);
  });
});

test('relay serve starts on a fresh data dir, prints the bootstrap key once, and stops on SIGTERM', async (t) => {
  const dir = await makeTempDir('relay-serve-');
  t.after(() => dir.cleanup());
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', BIN, 'serve'], {
    cwd: dir.path,
    env: { PATH: process.env.PATH ?? '', PORT: '0', RELAY_LOG_LEVEL: 'info' },
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      const m = /"url":"(http:[^"]+)"/.exec(stdout);
      if (m) resolve(m[1]!);
    });
    child.on('close', () => reject(new Error(`serve exited early: ${stderr}`)));
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const key = /(rk_key_[0-9a-f]{16}_[0-9a-f]{48})/.exec(stderr)?.[1];
  assert.ok(key, 'bootstrap key printed on stderr');
  const res = await fetch(`${url}/api/v1/keys`, { headers: { authorization: `Bearer ${key}` } });
  assert.equal(res.status, 200);
  assert.doesNotMatch(stdout, new RegExp(key), 'the key is not in the JSON logs');
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});
