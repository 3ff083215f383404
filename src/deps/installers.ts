/**
 * The two installers, pip and npm: the command, environment and binds of one
 * install, and the installer identity that goes into the cache key (so a new
 * interpreter, pip, npm or index never reuses a set built by another).
 *
 * Both run with an explicit environment and with user/global configuration
 * files pointed at empty files: the host's pip.conf or .npmrc (which may
 * hold registry tokens) is never visible to third-party install code, and
 * the deployment's settings are the only index configuration.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { InstallBind, InstallRunRequest } from './runner.ts';
import type { DependencyKind, DependencySpec } from './spec.ts';

const run = promisify(execFile);

export interface InstallerSettings {
  /** Python interpreter (RELAY_PYTHON), run as `python -m pip`. */
  python: string;
  pipIndexUrl?: string | undefined;
  pipFindLinks?: string | undefined;
  /** Compile .pyc at install time: the set is mounted read-only, so Python cannot cache them later. */
  pipCompile: boolean;
  npmRegistry?: string | undefined;
  /** npm-cli.js to run under Relay's own Node; found on the machine when not given. */
  npmCli?: string | undefined;
  /** Run npm lifecycle scripts (they run inside the install sandbox). */
  npmScripts: boolean;
}

/** Where one install works: all under `root`, the only writable bind. */
export interface InstallDirs {
  root: string;
  /** What becomes the cache entry's content (mounted into sandboxes). */
  content: string;
  /** HOME, TMPDIR and installer caches; thrown away afterwards. */
  home: string;
}

export interface Installer {
  readonly kind: DependencyKind;
  /** Stable description of the installer, part of every cache key. */
  identity(): Promise<Record<string, unknown>>;
  /** Installer output with noise removed, so the lines kept explain the failure. */
  clean(output: string): string;
  /** Writes the install inputs under `dirs` and describes the command to run. */
  prepare(
    spec: DependencySpec,
    dirs: InstallDirs,
    attempt: { bypassCaches: boolean },
  ): Promise<Omit<InstallRunRequest, 'timeoutMs' | 'memoryMb'>>;
}

const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';
// The machine's trust store: TLS-inspecting proxies and private registries are trusted there.
const CA_BUNDLES = ['/etc/ssl/certs/ca-certificates.crt', '/etc/pki/tls/certs/ca-bundle.crt'];

/** Installer env naming the system CA bundle (in addition to the tools' own roots). */
function trustEnv(): Record<string, string> {
  const bundle = CA_BUNDLES.find((file) => existsSync(file));
  return bundle ? { NODE_EXTRA_CA_CERTS: bundle, PIP_CERT: bundle } : {};
}

/** Read-only binds; /usr is visible in every sandbox already, so paths under it are skipped. */
function readOnly(paths: readonly string[]): InstallBind[] {
  const visible = (p: string): boolean => p === '/usr' || p.startsWith('/usr/');
  const unique = [...new Set(paths.filter((p) => p !== '' && !visible(p) && existsSync(p)))];
  return unique.map((p) => ({ host: p, sandbox: p, writable: false }));
}

function baseEnv(dirs: InstallDirs, pathPrefix = ''): Record<string, string> {
  return {
    PATH: pathPrefix + SYSTEM_PATH,
    HOME: dirs.home,
    TMPDIR: path.join(dirs.home, 'tmp'),
    LANG: 'C.UTF-8',
    ...trustEnv(),
  };
}

/** A local directory or file:// URL to bind, or null for a remote URL. */
function localSource(source: string | undefined): string | null {
  if (!source) return null;
  if (source.startsWith('file://')) return new URL(source).pathname;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source)) return null;
  return path.resolve(source);
}

// Finds pip without importing it (importing pip costs ~0.3 s, paid by the first lookup of every process).
const PYTHON_PROBE = String.raw`
import json, os, re, sys, importlib.util
spec = importlib.util.find_spec("pip")
pv, pd = None, ""
if spec and spec.origin:
    pd = os.path.dirname(os.path.dirname(spec.origin))
    m = re.search(r"__version__\s*=\s*[\x22\x27]([^\x22\x27]+)", open(spec.origin).read())
    pv = m.group(1) if m else "unknown"
stdlib = os.path.dirname(os.__file__)
print(json.dumps({"version": sys.version, "pip": pv, "paths": [os.path.realpath(sys.executable), stdlib, pd]}))
`;

/** pip, run by the configured interpreter into `--target`. */
export function createPipInstaller(settings: InstallerSettings): Installer {
  let probe: Promise<{ version: string; pip: string | null; paths: string[] }> | undefined;
  const python = settings.python;
  const findLinks = settings.pipFindLinks;
  const indexUrl = settings.pipIndexUrl;
  function probed(): NonNullable<typeof probe> {
    probe ??= run(python, ['-c', PYTHON_PROBE], {
      timeout: 15_000,
      env: { PATH: SYSTEM_PATH },
    }).then(
      ({ stdout }) =>
        JSON.parse(stdout) as { version: string; pip: string | null; paths: string[] },
    );
    probe.catch(() => (probe = undefined));
    return probe;
  }
  return {
    kind: 'python',
    clean: (output) => output,
    async identity() {
      const info = await probed();
      return {
        installer: 'pip',
        python,
        version: info.version,
        pip: info.pip,
        indexUrl: indexUrl ?? null,
        findLinks: findLinks ?? null,
        compile: settings.pipCompile,
      };
    },
    async prepare(spec, dirs) {
      const info = await probed();
      if (!info.pip) {
        throw new Error(`${python} has no pip module (on Debian: apt-get install python3-pip)`);
      }
      const requirements = path.join(dirs.home, 'requirements.txt');
      await mkdir(path.join(dirs.home, 'tmp'), { recursive: true });
      await mkdir(dirs.content, { recursive: true });
      await writeFile(requirements, `${spec.requirements.join('\n')}\n`);
      const argv = [
        python,
        '-m',
        'pip',
        'install',
        '--target',
        dirs.content,
        '--requirement',
        requirements,
        '--no-input',
        '--disable-pip-version-check',
        '--no-cache-dir',
        '--no-warn-script-location',
        '--progress-bar',
        'off',
      ];
      if (!settings.pipCompile) argv.push('--no-compile');
      if (indexUrl) argv.push('--index-url', indexUrl);
      if (findLinks) argv.push('--find-links', findLinks);
      // Find-links alone is the air-gapped setup: do not fall back to a public index.
      if (findLinks && !indexUrl) argv.push('--no-index');
      const sources = [findLinks, indexUrl ?? (findLinks ? undefined : 'https://pypi.org/simple')];
      const network = sources.some((s) => s !== undefined && localSource(s) === null);
      return {
        argv,
        env: {
          ...baseEnv(dirs),
          PYTHONNOUSERSITE: '1',
          PIP_CONFIG_FILE: '/dev/null',
          // Installs run as whoever runs Relay, often root in containers; the warning is noise.
          PIP_ROOT_USER_ACTION: 'ignore',
        },
        binds: [
          ...readOnly([...info.paths, localSource(findLinks) ?? '', localSource(indexUrl) ?? '']),
          { host: dirs.root, sandbox: dirs.root, writable: true },
        ],
        network,
        cwd: dirs.home,
      };
    },
  };
}

/** npm-cli.js candidates: the npm shipped with this Node, then the usual system places. */
export function findNpmCli(nodeBin: string = process.execPath): string | undefined {
  const candidates = [
    path.join(path.dirname(nodeBin), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
    '/usr/lib/node_modules/npm/bin/npm-cli.js',
    '/usr/local/lib/node_modules/npm/bin/npm-cli.js',
    '/usr/share/nodejs/npm/bin/npm-cli.js',
  ];
  const found = candidates.find((c) => existsSync(c));
  return found === undefined ? undefined : realpathSync(found);
}

/** npm prints its whole usage after a usage error, burying the reason above it. */
function dropNpmUsage(output: string): string {
  const lines = output.split('\n');
  const start = lines.findIndex((l) => /^npm error Usage:/.test(l));
  if (start < 0) return output;
  const end = lines.findIndex((l, i) => i > start && /^npm error Run "npm help/.test(l));
  return [...lines.slice(0, start), ...(end < 0 ? [] : lines.slice(end))].join('\n');
}

/** npm, run by Relay's own Node (the runtime that will load the modules). */
export function createNpmInstaller(settings: InstallerSettings): Installer {
  const nodeBin = realpathSync(process.execPath);
  const npmCli = settings.npmCli ?? findNpmCli(nodeBin);
  const npmRoot = npmCli ? path.dirname(path.dirname(npmCli)) : undefined;
  function npmVersion(): string | null {
    if (!npmRoot) return null;
    const pkg = JSON.parse(readFileSync(path.join(npmRoot, 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? null;
  }
  return {
    kind: 'node',
    clean: dropNpmUsage,
    async identity() {
      return {
        installer: 'npm',
        node: process.version,
        npm: npmVersion(),
        registry: settings.npmRegistry ?? null,
        scripts: settings.npmScripts,
      };
    },
    async prepare(spec, dirs, attempt) {
      if (!npmCli || !npmRoot) {
        throw new Error('npm was not found on this machine (on Debian: apt-get install npm)');
      }
      await mkdir(path.join(dirs.home, 'tmp'), { recursive: true });
      await mkdir(dirs.content, { recursive: true });
      // Empty user and global configs (npm refuses one file for both).
      const userrc = path.join(dirs.home, 'npmrc');
      const globalrc = path.join(dirs.home, 'npmrc-global');
      await writeFile(userrc, '');
      await writeFile(globalrc, '');
      await writeFile(
        path.join(dirs.content, 'package.json'),
        `${JSON.stringify(spec.packageJson ?? {}, null, 2)}\n`,
      );
      if (spec.lockfile)
        await writeFile(path.join(dirs.content, 'package-lock.json'), spec.lockfile);
      const argv = [
        nodeBin,
        npmCli,
        spec.lockfile ? 'ci' : 'install',
        '--omit=dev',
        '--foreground-scripts',
      ];
      if (!spec.lockfile) argv.push('--no-package-lock');
      if (!settings.npmScripts) argv.push('--ignore-scripts');
      if (attempt.bypassCaches) argv.push('--prefer-online');
      const env: Record<string, string> = {
        ...baseEnv(dirs, `${path.dirname(nodeBin)}:`),
        npm_config_cache: path.join(dirs.home, 'npm-cache'),
        npm_config_userconfig: userrc,
        npm_config_globalconfig: globalrc,
        npm_config_update_notifier: 'false',
        npm_config_audit: 'false',
        npm_config_fund: 'false',
        npm_config_progress: 'false',
        // No debug log files: they would point at a directory removed after the install.
        npm_config_logs_max: '0',
      };
      if (settings.npmRegistry) env.npm_config_registry = settings.npmRegistry;
      return {
        argv,
        env,
        binds: [
          ...readOnly([path.dirname(nodeBin), npmRoot]),
          { host: dirs.root, sandbox: dirs.root, writable: true },
        ],
        network: true,
        cwd: dirs.content,
      };
    },
  };
}
