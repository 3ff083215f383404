/** The generated seccomp program: well-formed classic BPF for each supported architecture. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileSeccompFilter, seccompSupported } from '../../../src/sandbox/bwrap/seccomp.ts';

const RET = 0x06;
const JMP_CLASS = 0x05;

for (const arch of ['x64', 'arm64']) {
  test(`the ${arch} filter checks the architecture first and every jump stays inside the program`, () => {
    const prog = compileSeccompFilter(arch);
    assert.equal(prog.length % 8, 0);
    const n = prog.length / 8;
    assert.ok(n > 40 && n < 4096);
    assert.equal(prog.readUInt16LE(0), 0x20); // ld [4]: seccomp_data.arch
    assert.equal(prog.readUInt32LE(4), 4);
    for (let i = 0; i < n; i++) {
      const code = prog.readUInt16LE(i * 8);
      if ((code & 0x07) === JMP_CLASS) {
        assert.ok(i + 1 + prog.readUInt8(i * 8 + 2) < n);
        assert.ok(i + 1 + prog.readUInt8(i * 8 + 3) < n);
      }
    }
    assert.equal(prog.readUInt16LE((n - 1) * 8), RET);
  });
}

test('an unknown architecture is refused rather than left unfiltered', () => {
  assert.equal(seccompSupported('riscv64'), false);
  assert.throws(() => compileSeccompFilter('riscv64'), /no seccomp filter/);
});
