/**
 * What a package declares it depends on, normalised so that equal sets
 * written differently (order, comments, spacing) give one cache key.
 *
 * Python: `requirements.txt` at the package root and/or `dependencies: [..]`
 * in relay.json (merged). Lines are trimmed, comments and blank lines
 * dropped, continuations joined, whitespace collapsed, then sorted and
 * de-duplicated. Global pip options (`-r`, `-i`, `--extra-index-url`, ...)
 * are refused: the index is the deployment's choice, and the installer
 * sees only the normalised list, never other files of the package.
 *
 * Node: `package.json` dependencies (plus optionalDependencies and
 * overrides) and/or `dependencies: {name: range}` in relay.json. With a
 * `package-lock.json` the install is `npm ci`, which checks the lock
 * against package.json, so then every dependency field is kept as written.
 */
import type { Manifest, Runtime } from '../domain/index.ts';
import { RelayError } from '../domain/index.ts';

export type DependencyKind = 'python' | 'node';

/** Package files the dependency spec may read (root of the package only). */
export const DEPENDENCY_FILES = ['requirements.txt', 'package.json', 'package-lock.json'] as const;
export type DependencyFile = (typeof DEPENDENCY_FILES)[number];
export type DependencyFiles = Partial<Record<DependencyFile, Buffer>>;

export interface DependencySpec {
  runtime: Runtime;
  kind: DependencyKind;
  /** Python: requirement lines. Node: `name@range` lines. Sorted, for keys and display. */
  requirements: string[];
  /** Node: the package.json the installer writes (dependency fields only; no scripts). */
  packageJson?: Record<string, unknown>;
  /** Node: package-lock.json bytes; present means `npm ci`. */
  lockfile?: Buffer;
}

function invalid(message: string): RelayError {
  return new RelayError('INVALID_MANIFEST', message);
}

/** The declared dependency set, or null when there is nothing to install. */
export function specFor(manifest: Manifest, files: DependencyFiles): DependencySpec | null {
  switch (manifest.runtime) {
    case 'python3.11':
      return pythonSpec(manifest, files);
    case 'node24':
      return nodeSpec(manifest, files);
    case 'wasm':
      if (hasDeclared(manifest.dependencies)) {
        throw invalid('WebAssembly functions cannot declare dependencies');
      }
      return null;
  }
}

function hasDeclared(deps: Manifest['dependencies']): boolean {
  if (deps === undefined) return false;
  return Array.isArray(deps) ? deps.length > 0 : Object.keys(deps).length > 0;
}

function text(bytes: Buffer, file: string): string {
  const decoded = bytes.toString('utf8');
  if (decoded.includes('\uFFFD')) throw invalid(`${file} is not valid UTF-8`);
  return decoded.replace(/^\uFEFF/, '');
}

/** Requirement lines as pip reads them, minus comments, options and noise. */
export function normaliseRequirements(source: string, origin = 'requirements.txt'): string[] {
  const joined = source.replace(/\\\r?\n/g, ' ');
  const lines: string[] = [];
  for (const raw of joined.split(/\r?\n/)) {
    // pip's rule: `#` starts a comment at line start or after whitespace (not inside a URL fragment).
    const line = raw
      .replace(/(^|\s)#.*$/, '')
      .replace(/\s+/g, ' ')
      .trim();
    if (line === '') continue;
    if (line.startsWith('-')) {
      throw invalid(
        `${origin}: option lines such as "${line.split(' ')[0]}" are not supported; ` +
          'package indexes are configured by the deployment (PIP_INDEX_URL, PIP_FIND_LINKS)',
      );
    }
    lines.push(line);
  }
  return [...new Set(lines)].sort();
}

function pythonSpec(manifest: Manifest, files: DependencyFiles): DependencySpec | null {
  const declared = manifest.dependencies;
  if (declared !== undefined && !Array.isArray(declared)) {
    throw invalid('relay.json: Python dependencies are a list of requirement strings');
  }
  const fromManifest = (declared ?? []).map((d) => {
    if (typeof d !== 'string') throw invalid('relay.json: each dependency must be a string');
    if (d.includes('\n')) throw invalid('relay.json: a dependency must be one line');
    return d;
  });
  const fromFile = files['requirements.txt']
    ? text(files['requirements.txt'], 'requirements.txt')
    : '';
  const requirements = [
    ...new Set([
      ...normaliseRequirements(fromFile),
      ...normaliseRequirements(fromManifest.join('\n'), 'relay.json dependencies'),
    ]),
  ].sort();
  if (requirements.length === 0) return null;
  return { runtime: manifest.runtime, kind: 'python', requirements };
}

// npm's rules, loosely: optional @scope/, lowercase-ish, no spaces, at most 214 characters.
const NPM_NAME = /^(@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*$/i;
const LOCAL_SPEC = /^(file|link|portal|workspace):/;
const DEP_FIELDS = ['dependencies', 'optionalDependencies'] as const;
const LOCK_FIELDS = [
  'dependencies',
  'optionalDependencies',
  'devDependencies',
  'peerDependencies',
  'peerDependenciesMeta',
  'overrides',
  'allowScripts',
] as const;

function checkDeps(deps: unknown, where: string): Record<string, string> {
  if (deps === undefined) return {};
  if (deps === null || typeof deps !== 'object' || Array.isArray(deps)) {
    throw invalid(`${where} must be an object of name → version range`);
  }
  const out: Record<string, string> = {};
  for (const [name, range] of Object.entries(deps)) {
    if (!NPM_NAME.test(name) || name.length > 214)
      throw invalid(`${where}: invalid package name "${name}"`);
    if (typeof range !== 'string') throw invalid(`${where}: the range of ${name} must be a string`);
    if (LOCAL_SPEC.test(range.trim())) {
      throw invalid(
        `${where}: ${name} points at a local path ("${range}"), which cannot be installed`,
      );
    }
    out[name] = range.trim();
  }
  return out;
}

function sortedObject<T>(record: Record<string, T>): Record<string, T> {
  return Object.fromEntries(
    Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

function parsePackageJson(bytes: Buffer): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text(bytes, 'package.json'));
  } catch (err) {
    if (err instanceof RelayError) throw err;
    throw invalid(`package.json is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw invalid('package.json must be a JSON object');
  }
  const pkg = parsed as Record<string, unknown>;
  if (pkg.workspaces !== undefined) throw invalid('package.json: workspaces are not supported');
  return pkg;
}

function nodeSpec(manifest: Manifest, files: DependencyFiles): DependencySpec | null {
  const pkg = files['package.json'] ? parsePackageJson(files['package.json']) : {};
  const lockfile = files['package-lock.json'];
  const declared = manifest.dependencies;
  let fromManifest: Record<string, string> = {};
  if (Array.isArray(declared)) {
    // `["left-pad@1.3.0", "@scope/x"]` reads as name@range pairs.
    for (const entry of declared) {
      const at = entry.lastIndexOf('@');
      const [name, range] = at > 0 ? [entry.slice(0, at), entry.slice(at + 1)] : [entry, '*'];
      fromManifest[name] = range;
    }
    fromManifest = checkDeps(fromManifest, 'relay.json dependencies');
  } else {
    fromManifest = checkDeps(declared, 'relay.json dependencies');
  }

  if (lockfile) {
    if (Object.keys(fromManifest).length > 0) {
      throw invalid(
        'with a package-lock.json, declare dependencies in package.json, not relay.json',
      );
    }
    if (!files['package.json']) throw invalid('package-lock.json without a package.json');
    const packageJson: Record<string, unknown> = { name: 'relay-dependencies', private: true };
    for (const field of LOCK_FIELDS) {
      if (pkg[field] !== undefined) packageJson[field] = pkg[field];
    }
    // Keep the lock's own name/version: npm ci compares the root entry with package.json.
    if (typeof pkg.name === 'string') packageJson.name = pkg.name;
    if (typeof pkg.version === 'string') packageJson.version = pkg.version;
    const deps = {
      ...checkDeps(pkg.optionalDependencies, 'package.json optionalDependencies'),
      ...checkDeps(pkg.dependencies, 'package.json dependencies'),
    };
    const requirements = Object.entries(sortedObject(deps)).map(([n, r]) => `${n}@${r}`);
    if (requirements.length === 0) return null;
    return { runtime: manifest.runtime, kind: 'node', requirements, packageJson, lockfile };
  }

  const merged: Record<string, Record<string, string>> = {};
  for (const field of DEP_FIELDS) merged[field] = checkDeps(pkg[field], `package.json ${field}`);
  merged.dependencies = { ...merged.dependencies, ...fromManifest };
  const dependencies = sortedObject(merged.dependencies);
  const optional = sortedObject(merged.optionalDependencies ?? {});
  const requirements = Object.entries({ ...optional, ...dependencies })
    .map(([n, r]) => `${n}@${r}`)
    .sort();
  if (requirements.length === 0) return null;
  const packageJson: Record<string, unknown> = {
    name: 'relay-dependencies',
    private: true,
    dependencies,
  };
  if (Object.keys(optional).length > 0) packageJson.optionalDependencies = optional;
  // overrides pin transitive versions; allowScripts is the user's script policy (npm 11).
  if (pkg.overrides !== undefined) packageJson.overrides = pkg.overrides;
  if (pkg.allowScripts !== undefined) packageJson.allowScripts = pkg.allowScripts;
  return { runtime: manifest.runtime, kind: 'node', requirements, packageJson };
}
