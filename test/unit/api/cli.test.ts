/** CLI pieces that need no server: directory packing, tables, failure → exit code. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApiError } from '../../../src/cli/client.ts';
import { UsageError } from '../../../src/cli/context.ts';
import { describeFailure, main } from '../../../src/cli/index.ts';
import { table } from '../../../src/cli/output.ts';
import { PackError, packDirectory } from '../../../src/cli/pack.ts';
import { makeTempDir } from '../../support/tmp.ts';

test('packDirectory sends text as text, binary as base64, and skips node_modules and .git', async (t) => {
  const dir = await makeTempDir('relay-pack-');
  t.after(() => dir.cleanup());
  await writeFile(
    path.join(dir.path, 'relay.json'),
    JSON.stringify({ name: 'hello', runtime: 'node24', entrypoint: 'index.handler' }),
  );
  await writeFile(path.join(dir.path, 'index.mjs'), 'export const handler = async () => 1;\n');
  await writeFile(path.join(dir.path, 'img.png'), Buffer.from([0x89, 0x50, 0x00, 0xff]));
  await mkdir(path.join(dir.path, 'node_modules', 'x'), { recursive: true });
  await writeFile(path.join(dir.path, 'node_modules', 'x', 'a.js'), '');
  await mkdir(path.join(dir.path, '.git'));
  await writeFile(path.join(dir.path, '.git', 'HEAD'), '');
  await mkdir(path.join(dir.path, 'lib'));
  await writeFile(path.join(dir.path, 'lib', 'util.js'), 'export {}');
  const pkg = await packDirectory(dir.path);
  assert.equal(pkg.name, 'hello');
  assert.deepEqual(pkg.manifest, { runtime: 'node24', entrypoint: 'index.handler' });
  assert.deepEqual(Object.keys(pkg.files).sort(), ['img.png', 'index.mjs', 'lib/util.js']);
  assert.deepEqual(pkg.files['img.png'], {
    base64: Buffer.from([0x89, 0x50, 0x00, 0xff]).toString('base64'),
  });
});

test('packDirectory without relay.json is a PackError naming the dir', async (t) => {
  const dir = await makeTempDir('relay-pack-');
  t.after(() => dir.cleanup());
  await assert.rejects(
    packDirectory(dir.path),
    (err: unknown) => err instanceof PackError && /no relay\.json/.test(err.message),
  );
});

test('tables align columns', () => {
  assert.equal(
    table(
      ['A', 'LONG'],
      [
        ['xx', 1],
        ['y', null],
      ],
    ),
    'A   LONG\nxx  1\ny   -',
  );
});

test('failures map to exit codes: usage 2, server 1', () => {
  assert.equal(describeFailure(new UsageError('x')).code, 2);
  const server = describeFailure(new ApiError(404, 'FUNCTION_NOT_FOUND', 'gone'));
  assert.deepEqual(server, { message: 'FUNCTION_NOT_FOUND: gone', code: 1 });
});

test('main with an unknown option exits 2 and writes to stderr only', async () => {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['functions', 'ls', '--bogus'], {
    env: {},
    cwd: '/',
    io: { out: (s) => out.push(s), err: (s) => err.push(s) },
  });
  assert.equal(code, 2);
  assert.deepEqual(out, []);
  assert.match(err.join('\n'), /unknown option '--bogus'/);
});

test('main --help exits 0', async () => {
  const out: string[] = [];
  const code = await main(['--help'], {
    env: {},
    cwd: '/',
    io: { out: (s) => out.push(s), err: () => {} },
  });
  assert.equal(code, 0);
  assert.match(out.join('\n'), /deploy/);
});
