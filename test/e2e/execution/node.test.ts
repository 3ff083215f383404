/** The runtime suite for Node.js 24 handlers, through HTTP with bubblewrap. */
import assert from 'node:assert/strict';
import { expectWritesRefused, nodeProbe } from './probes.ts';
import { runtimeSuite } from './suite.ts';

runtimeSuite({
  runtime: 'node24',
  example: 'node-echo',
  expectEcho(output, { input, rufid, id }) {
    assert.deepEqual(output.echo, input);
    assert.deepEqual(
      [output.rufid, output.version, output.branch, output.executionId],
      [rufid, '1', 'main', id],
    );
  },
  async probe(c, manifest, params = {}) {
    return {
      pkg: nodeProbe(manifest, params.tag),
      input: { case: c, why: 'no reason', paths: params.paths },
    };
  },
  raised: { type: 'BadInput', message: 'input was rejected: no reason' },
  // The bootstrap and the child the handler starts.
  sleepingProcesses: 2,
  // Node itself needs about 40 MB.
  bombMemoryMb: 128,
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
    'NODE_PATH',
    'RELAY_HANDLER',
    'RELAY_TASK_DIR',
    'PWD',
  ],
});
