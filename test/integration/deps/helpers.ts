/**
 * Shared set-up for the dependency tests: a temporary data dir per test,
 * a wheelhouse of small pure-Python wheels built in the test (this machine
 * cannot reach PyPI), and a cache configured like an air-gapped deployment.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { TestContext } from 'node:test';
import { loadConfig } from '../../../src/config/index.ts';
import { createDependencyCache } from '../../../src/deps/index.ts';
import { runIsolated } from '../../../src/sandbox/index.ts';
import type {
  DependencyCache,
  DependencyCacheOptions,
  InstallRunner,
} from '../../../src/deps/index.ts';

const run = promisify(execFile);
export const PYTHON = '/usr/bin/python3';

/** A temporary directory removed when the test ends. */
export async function tempDir(t: TestContext, prefix = 'relay-deps-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The install runner under test: the sandbox's own (bwrap when it works on this machine). */
export function installRunner(): InstallRunner {
  return (request) => runIsolated(request);
}

/**
 * Builds a pure-Python wheel `<name>-<version>` whose module has
 * `greet(name)` and `VERSION`; `padBytes` adds an incompressible data file
 * (to give the installed set a size for eviction tests).
 */
export async function buildWheel(
  wheelhouse: string,
  name: string,
  version = '1.0.0',
  padBytes = 0,
): Promise<void> {
  const src = await mkdtemp(path.join(tmpdir(), `relay-wheel-${name}-`));
  try {
    await mkdir(path.join(src, name));
    await writeFile(
      path.join(src, 'pyproject.toml'),
      [
        '[build-system]',
        'requires = ["setuptools"]',
        'build-backend = "setuptools.build_meta"',
        '[project]',
        `name = "${name}"`,
        `version = "${version}"`,
        '[tool.setuptools.package-data]',
        `${name} = ["*.bin"]`,
        '',
      ].join('\n'),
    );
    await writeFile(
      path.join(src, name, '__init__.py'),
      `VERSION = "${version}"\n\ndef greet(who):\n    return f"hello {who} from ${name}"\n`,
    );
    if (padBytes > 0) await writeFile(path.join(src, name, 'pad.bin'), randomBytes(padBytes));
    await run(
      PYTHON,
      [
        '-m',
        'pip',
        'wheel',
        '--no-deps',
        '--no-build-isolation',
        '--no-index',
        '-w',
        wheelhouse,
        src,
      ],
      // Nothing inherited: the machine's PIP_* settings must not leak into the build.
      { env: { PATH: '/usr/bin:/bin', HOME: src, PIP_CONFIG_FILE: '/dev/null' }, cwd: src },
    );
  } finally {
    await rm(src, { recursive: true, force: true });
  }
}

const ZIP_WHEEL = `
import base64, hashlib, os, sys, zipfile
out, name, version, pad = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
info = f"{name}-{version}.dist-info"
files = {
    f"{name}/__init__.py": f'VERSION = "{version}"\\n\\ndef greet(who):\\n    return f"hello {{who}} from {name}"\\n'.encode(),
    f"{info}/METADATA": f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n".encode(),
    f"{info}/WHEEL": b"Wheel-Version: 1.0\\nGenerator: relay-tests\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n",
}
if pad:
    files[f"{name}/pad.bin"] = os.urandom(pad)
record = []
for path, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append(f"{path},sha256={digest},{len(data)}")
record.append(f"{info}/RECORD,,")
files[f"{info}/RECORD"] = ("\\n".join(record) + "\\n").encode()
with zipfile.ZipFile(os.path.join(out, f"{name}-{version}-py3-none-any.whl"), "w") as whl:
    for path, data in files.items():
        whl.writestr(path, data)
`;

/**
 * The same wheel as buildWheel, zipped directly (no build backend): a few
 * milliseconds instead of a couple of seconds, for tests about the cache
 * rather than about building.
 */
export async function zipWheel(
  wheelhouse: string,
  name: string,
  version = '1.0.0',
  padBytes = 0,
): Promise<void> {
  await run(PYTHON, ['-c', ZIP_WHEEL, wheelhouse, name, version, String(padBytes)], {
    env: { PATH: '/usr/bin:/bin' },
  });
}

export interface CacheWorld {
  dataDir: string;
  wheelhouse: string;
  cache: DependencyCache;
  /** Another cache object on the same data dir (as a second process would have). */
  another(overrides?: Partial<DependencyCacheOptions>): DependencyCache;
}

/** A cache over a fresh data dir whose pip installs come only from `wheelhouse`. */
export async function cacheWorld(
  t: TestContext,
  options: { cacheMb?: number; wheelhouse?: string } & Partial<DependencyCacheOptions> = {},
): Promise<CacheWorld> {
  const dataDir = await tempDir(t);
  const wheelhouse = options.wheelhouse ?? path.join(dataDir, 'wheelhouse');
  await mkdir(wheelhouse, { recursive: true });
  const config = loadConfig({
    RELAY_DATA_DIR: dataDir,
    PIP_FIND_LINKS: wheelhouse,
    RELAY_DEPS_CACHE_MB: String(options.cacheMb ?? 4096),
  });
  const make = (overrides: Partial<DependencyCacheOptions> = {}): DependencyCache =>
    createDependencyCache({
      dataDir,
      config,
      runner: installRunner(),
      installTimeoutMs: 120_000,
      ...options,
      ...overrides,
    });
  return { dataDir, wheelhouse, cache: make(), another: make };
}

/** Runs `code` with the project's Python and the installed set on PYTHONPATH. */
export async function python(dir: string, code: string): Promise<string> {
  const { stdout } = await run(PYTHON, ['-c', code], {
    env: { PATH: '/usr/bin:/bin', PYTHONPATH: dir, PYTHONDONTWRITEBYTECODE: '1' },
  });
  return stdout.trim();
}
