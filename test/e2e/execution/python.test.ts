/** The runtime suite for Python 3.11 handlers, through HTTP with bubblewrap. */
import assert from 'node:assert/strict';
import { expectWritesRefused, pythonProbe } from './probes.ts';
import { runtimeSuite } from './suite.ts';

runtimeSuite({
  runtime: 'python3.11',
  example: 'python-echo',
  expectEcho(output, { input, rufid, id }) {
    assert.deepEqual(output.echo, input);
    assert.deepEqual(
      [output.rufid, output.version, output.branch, output.executionId],
      [rufid, '1', 'main', id],
    );
  },
  async probe(c, manifest, params = {}) {
    return {
      pkg: pythonProbe(manifest, params.tag),
      input: { case: c, why: 'no reason', paths: params.paths },
    };
  },
  raised: { type: 'BadInput', message: 'input was rejected: no reason' },
  // The bootstrap and the child the handler starts.
  sleepingProcesses: 2,
  bombMemoryMb: 64,
  expectWrite: expectWritesRefused,
  read: (paths) => ({ paths, expected: Object.fromEntries(paths.map((p) => [p, 'ENOENT'])) }),
  floodStream: 'stdout',
  envOf: (record) => record.output as Record<string, string>,
  runtimeEnv: [
    'PATH',
    'HOME',
    'TMPDIR',
    'LANG',
    'LAMBDA_TASK_ROOT',
    'RELAY_HANDLER',
    'RELAY_TASK_DIR',
    'PWD',
  ],
});
