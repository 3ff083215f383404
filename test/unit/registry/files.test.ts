import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RelayError } from '../../../src/domain/index.ts';
import { normalisePath, readFiles, sha256 } from '../../../src/registry/index.ts';

const CAPS = { maxFileBytes: 100, maxPackageBytes: 250, maxFiles: 5 };

function fails(code: string, message: RegExp) {
  return (err: unknown) =>
    err instanceof RelayError && err.code === code && message.test(err.message);
}

test('paths are normalised: ./ and repeated slashes dropped', () => {
  assert.equal(normalisePath('./src//lib/./a.py'), 'src/lib/a.py');
});

test('an empty path is rejected', () => {
  assert.throws(() => normalisePath(''), fails('INVALID_PACKAGE', /empty file path/));
});

test('an absolute path is rejected', () => {
  assert.throws(() => normalisePath('/etc/passwd'), fails('INVALID_PACKAGE', /absolute/));
});

test('a Windows drive path is rejected as absolute', () => {
  assert.throws(() => normalisePath('C:/x.py'), fails('INVALID_PACKAGE', /absolute/));
});

test('a .. segment is rejected', () => {
  assert.throws(() => normalisePath('a/../b.py'), fails('INVALID_PACKAGE', /contains '\.\.'/));
});

test('a backslash is rejected', () => {
  assert.throws(() => normalisePath('a\\b.py'), fails('INVALID_PACKAGE', /backslash/));
});

test('a NUL character is rejected', () => {
  assert.throws(() => normalisePath('a\0.py'), fails('INVALID_PACKAGE', /NUL/));
});

test('a path naming no file (only dots and slashes) is rejected', () => {
  assert.throws(() => normalisePath('./'), fails('INVALID_PACKAGE', /names no file/));
});

test('no files at all is rejected', () => {
  assert.throws(() => readFiles({}, CAPS), fails('INVALID_PACKAGE', /no files/));
});

test('more files than the cap is rejected', () => {
  const files = Object.fromEntries(Array.from({ length: 6 }, (_, i) => [`f${i}`, 'x']));
  assert.throws(() => readFiles(files, CAPS), fails('INVALID_PACKAGE', /6 files; the cap is 5/));
});

test('two paths equal after normalisation are rejected naming both', () => {
  assert.throws(
    () => readFiles({ 'a.py': '', './a.py': '' }, CAPS),
    fails('INVALID_PACKAGE', /'\.\/a\.py' and 'a\.py'/),
  );
});

test('a file that is also used as a directory is rejected', () => {
  assert.throws(
    () => readFiles({ lib: '', 'lib/x.py': '' }, CAPS),
    fails('INVALID_PACKAGE', /'lib' is a file/),
  );
});

test('invalid base64 is rejected naming the file', () => {
  assert.throws(
    () => readFiles({ 'b.bin': { base64: 'abc' } }, CAPS),
    fails('INVALID_PACKAGE', /'b\.bin' is not valid base64/),
  );
});

test('a file over the per-file cap is PAYLOAD_TOO_LARGE naming it', () => {
  assert.throws(
    () => readFiles({ 'big.txt': 'x'.repeat(101) }, CAPS),
    fails('PAYLOAD_TOO_LARGE', /'big\.txt' is 101 bytes/),
  );
});

test('a package over the total cap is PAYLOAD_TOO_LARGE', () => {
  const files = { a: 'x'.repeat(100), b: 'x'.repeat(100), c: 'x'.repeat(100) };
  assert.throws(() => readFiles(files, CAPS), fails('PAYLOAD_TOO_LARGE', /exceeds the cap of 250/));
});

test('text is stored as UTF-8 and base64 is decoded; each file gets its sha256', () => {
  const files = readFiles(
    { 'z.txt': 'héllo', 'a.bin': { base64: Buffer.from([0, 255]).toString('base64') } },
    CAPS,
  );
  assert.deepEqual(
    files.map((f) => [f.path, f.size]),
    [
      ['a.bin', 2],
      ['z.txt', 6],
    ],
  );
  assert.equal(files[1]!.digest, sha256(Buffer.from('héllo', 'utf8')));
});
