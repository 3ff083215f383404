/**
 * `relay invoke`, `relay logs` and `relay executions` as a user runs them:
 * a subprocess speaking HTTP to a server that runs functions in bwrap.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { TestServer } from '../../support/server.ts';
import { makeTempDir, type TempDir } from '../../support/tmp.ts';
import { pythonProbe } from './probes.ts';
import {
  deploy,
  deployVersion,
  examplePackage,
  newTenant,
  startExecutionServer,
  type Package,
} from './support.ts';

const BIN = fileURLToPath(new URL('../../../bin/relay.ts', import.meta.url));

/** Prints `lines` lines, `gap` seconds apart, then answers. */
const SLOW: Package = {
  manifest: { runtime: 'python3.11', entrypoint: 'main.handler', limits: { timeoutSeconds: 10 } },
  files: {
    'main.py': [
      'import time',
      'def handler(event, context):',
      '    for i in range(event["lines"]):',
      '        print(f"line {i}", flush=True)',
      '        time.sleep(event["gap"])',
      '    return {"printed": event["lines"]}',
      '',
    ].join('\n'),
  },
};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

describe('relay invoke, logs and executions', () => {
  let ts: TestServer;
  let work: TempDir;
  before(async () => {
    ts = await startExecutionServer();
    work = await makeTempDir('relay-cli-exec-');
  });
  after(async () => {
    await ts?.close();
    await work?.cleanup();
  });

  /** Starts `relay ...args` as `key`; `onStdout` sees output as it arrives. */
  function relay(key: string, args: string[], onStdout?: (text: string) => void): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['--disable-warning=ExperimentalWarning', BIN, ...args],
        {
          cwd: work.path,
          env: { PATH: process.env.PATH ?? '', RELAY_URL: ts.url, RELAY_API_KEY: key },
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        onStdout?.(stdout);
      });
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  test('invoke prints the output and exits 0; --json prints the record', async () => {
    const { key } = await newTenant(ts);
    const rufid = await deploy(ts, key, await examplePackage('python-echo'));
    const human = await relay(key, ['invoke', rufid, '--input', '{"ping": "pong"}']);
    assert.equal(human.code, 0, human.stderr);
    assert.equal(human.stderr, '');
    assert.deepEqual(JSON.parse(human.stdout).echo, { ping: 'pong' });
    const json = await relay(key, ['invoke', rufid, '--input', '[1, 2]', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const record = JSON.parse(json.stdout);
    assert.deepEqual(
      [record.status, record.rufid, record.branch, record.version],
      ['succeeded', rufid, 'main', 1],
    );
    assert.deepEqual(record.output.echo, [1, 2]);
  });

  test('an execution that did not succeed exits 1 with one line naming its status and error', async () => {
    const { key } = await newTenant(ts);
    const rufid = await deploy(ts, key, pythonProbe({ limits: { timeoutSeconds: 1 } }));
    const failed = await relay(key, [
      'invoke',
      rufid,
      '--input',
      '{"case": "raise", "why": "cli"}',
    ]);
    assert.equal(failed.code, 1);
    assert.equal(failed.stdout, '');
    assert.match(
      failed.stderr,
      /^relay: execution ex_\w+ failed: BadInput: input was rejected: cli\n$/,
    );
    const slow = await relay(key, ['invoke', rufid, '--input', '{"case": "sleep"}', '--json']);
    assert.equal(slow.code, 1);
    const record = JSON.parse(slow.stdout);
    assert.equal(record.status, 'timed_out');
    assert.equal(
      slow.stderr,
      `relay: execution ${record.id} timed_out: TimeoutError: Function exceeded its timeout of 1s and was stopped\n`,
    );
  });

  test('invoke --branch with --branch-key and --input @file runs the branch with the file as input', async () => {
    const tenant = await newTenant(ts);
    const pkg = await examplePackage('python-echo');
    const rufid = await deploy(ts, tenant.key, pkg);
    const dev = await deployVersion(
      ts,
      tenant.key,
      rufid,
      { ...pkg, files: { ...pkg.files, 'x.txt': 'dev' } },
      'dev',
    );
    const mint = async (scopes: string[]) =>
      String(
        (await ts.call('POST', '/api/v1/keys', { key: tenant.key, body: { name: 'k', scopes } }))
          .body.key,
      );
    const invokeKey = await mint(['invoke']);
    const branchKey = await mint(['branch']);
    const file = path.join(work.path, 'input.json');
    await writeFile(file, '{"from": "a file"}');

    const run = await relay(invokeKey, [
      'invoke',
      rufid,
      '--branch',
      'dev',
      '--branch-key',
      branchKey,
      '--input',
      `@${file}`,
      '--json',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const record = JSON.parse(run.stdout);
    assert.deepEqual(
      [record.branch, record.version, record.output.echo],
      ['dev', dev, { from: 'a file' }],
    );

    const denied = await relay(invokeKey, ['invoke', rufid, '--branch', 'dev']);
    assert.equal(denied.code, 1);
    assert.equal(denied.stderr, 'relay: BRANCH_ACCESS_DENIED: Branch access denied\n');
  });

  test('invoke with input that is not JSON is a usage error (exit 2)', async () => {
    const { key } = await newTenant(ts);
    const run = await relay(key, ['invoke', '000000000000', '--input', '{nope']);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /^relay: --input is not valid JSON/);
    const missing = await relay(key, ['invoke', '000000000000', '--input', '@no-such-file.json']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^relay: cannot read the input file no-such-file\.json/);
  });

  test('invoke --async prints the id; logs --follow streams lines while it runs, then exits 0', async () => {
    const { key } = await newTenant(ts);
    const rufid = await deploy(ts, key, SLOW);
    const queued = await relay(key, [
      'invoke',
      rufid,
      '--async',
      '--json',
      '--input',
      '{"lines": 4, "gap": 0.4}',
    ]);
    assert.equal(queued.code, 0, queued.stderr);
    const { id, status } = JSON.parse(queued.stdout);
    assert.equal(status, 'queued');
    // Asked when the first line shows up: the execution must still be running then.
    let statusAtFirstLine: Promise<string> | undefined;
    const follow = await relay(key, ['logs', id, '--follow'], (out) => {
      if (statusAtFirstLine || !out.includes('line 0')) return;
      statusAtFirstLine = ts
        .call('GET', `/api/v1/executions/${id}`, { key })
        .then((r) => String(r.body.status));
    });
    assert.equal(follow.code, 0, follow.stderr);
    assert.equal(follow.stdout, 'line 0\nline 1\nline 2\nline 3\n');
    assert.equal(await statusAtFirstLine, 'running', 'the first line arrived before the end');

    const logs = await relay(key, ['logs', id, '--json']);
    assert.deepEqual(
      JSON.parse(logs.stdout).map((l: { stream: string; line: string }) => [l.stream, l.line]),
      [0, 1, 2, 3].map((i) => ['stdout', `line ${i}`]),
    );
    const shown = await relay(key, ['executions', 'show', id]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^${id}  succeeded\\n  function  ${rufid}@main v1 `));
    assert.match(shown.stdout, /\n {2}output {4}\{"printed":4\}\n?$/);
  });

  test('executions ls filters by status and function', async () => {
    const { key } = await newTenant(ts);
    const probe = await deploy(ts, key, pythonProbe());
    const echo = await deploy(ts, key, await examplePackage('python-echo'));
    await relay(key, ['invoke', probe, '--input', '{"case": "raise", "why": "ls"}']);
    await relay(key, ['invoke', probe, '--input', '{"case": "count"}']);
    await relay(key, ['invoke', echo, '--input', '1']);

    const failed = await relay(key, ['executions', 'ls', '--status', 'failed', '--json']);
    assert.equal(failed.code, 0, failed.stderr);
    assert.deepEqual(
      JSON.parse(failed.stdout).map((r: { rufid: string; status: string }) => [r.rufid, r.status]),
      [[probe, 'failed']],
    );
    const ofProbe = await relay(key, ['executions', 'ls', '--rufid', probe]);
    const rows = ofProbe.stdout.trimEnd().split('\n');
    assert.match(rows[0]!, /^ID\s+STATUS\s+FUNCTION\s+DURATION\s+CREATED\s+ERROR$/);
    // Columns are at least two spaces apart (durations and times hold single spaces).
    assert.deepEqual(
      rows.slice(1).map((r) => {
        const cells = r.split(/ {2,}/);
        return [cells[1], cells[5]];
      }),
      [
        ['succeeded', '-'],
        ['failed', 'BadInput'],
      ],
    );
  });
});
