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
import { createDependencyCache, createProcessInstallRunner } from '../../../src/deps/index.ts';
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

/** The install runner under test. */
export function installRunner(): InstallRunner {
  return createProcessInstallRunner();
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
