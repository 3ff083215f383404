/**
 * relay.json validation: shape, runtime, entrypoint rule per runtime,
 * env and secret names, and limits within the tenant's caps. Errors name
 * the field so a deploy failure says what to fix.
 */
import { z } from 'zod';
import {
  RUNTIMES,
  RelayError,
  type Manifest,
  type Runtime,
  type TenantLimits,
} from '../domain/index.ts';
import { SECRET_NAME_PATTERN } from '../secrets/index.ts';

export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;
const JS_IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

const envName = z
  .string()
  .regex(ENV_NAME_PATTERN, 'must be letters, digits and underscores, not starting with a digit');

const manifestSchema = z.strictObject({
  runtime: z.enum(RUNTIMES),
  entrypoint: z.string().min(1).max(256),
  dependencies: z
    .union([
      z.array(z.string().min(1).max(512)).max(500),
      z.record(z.string().min(1).max(214), z.string().max(256)),
    ])
    .optional(),
  limits: z
    .strictObject({
      timeoutSeconds: z.number().positive().optional(),
      memoryMb: z.number().int().positive().optional(),
      cpus: z.number().positive().optional(),
    })
    .optional(),
  env: z.record(envName, z.string().max(32 * 1024)).optional(),
  secrets: z
    .array(
      z.string().regex(SECRET_NAME_PATTERN, 'must be A-Z, 0-9 and _, not starting with a digit'),
    )
    .max(100)
    .optional(),
  network: z.boolean().optional(),
  maxAttempts: z.number().int().min(1).max(10).optional(),
});

function fail(message: string): never {
  throw new RelayError('INVALID_MANIFEST', message);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = ['manifest', ...issue.path.map(String)].join('.');
  if (issue.code === 'unrecognized_keys')
    return `${where}: unknown field ${issue.keys.map((k) => `'${k}'`).join(', ')}`;
  if (issue.code === 'invalid_value' && issue.path[0] === 'runtime') {
    return `${where}: expected one of ${RUNTIMES.join(', ')}`;
  }
  if (issue.code === 'invalid_key')
    return `${where}: invalid name (letters, digits and underscores, not starting with a digit)`;
  return `${where}: ${issue.message}`;
}

/** Validate a manifest's shape; throws INVALID_MANIFEST naming the first bad field. */
export function parseManifest(raw: unknown): Manifest {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    fail('manifest: expected a JSON object (relay.json)');
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) fail(describeIssue(parsed.error.issues[0]!));
  const m = parsed.data;
  if (m.secrets && new Set(m.secrets).size !== m.secrets.length)
    fail('manifest.secrets: names must be unique');
  if (m.dependencies !== undefined) checkDependencies(m.runtime, m.dependencies);
  return m;
}

function checkDependencies(runtime: Runtime, deps: string[] | Record<string, string>): void {
  if (runtime === 'wasm') fail('manifest.dependencies: wasm functions cannot declare dependencies');
  if (runtime === 'python3.11' && !Array.isArray(deps)) {
    fail('manifest.dependencies: python3.11 expects a list of requirement lines');
  }
  if (runtime === 'node24' && Array.isArray(deps)) {
    fail('manifest.dependencies: node24 expects an object of package name → version range');
  }
}

/**
 * Which package files an entrypoint may point at; an error message when
 * the entrypoint itself is malformed.
 */
export function entrypointCandidates(runtime: Runtime, entrypoint: string): string[] | string {
  if (runtime === 'wasm') {
    if (!entrypoint.endsWith('.wasm'))
      return `'${entrypoint}' must name a .wasm file of the package`;
    return [entrypoint.replace(/^\.\//, '')];
  }
  const dot = entrypoint.lastIndexOf('.');
  const target = dot > 0 ? entrypoint.slice(0, dot) : '';
  const func = entrypoint.slice(dot + 1);
  if (runtime === 'python3.11') {
    const modules = target.split('.');
    if (dot <= 0 || !IDENT.test(func) || !modules.every((p) => IDENT.test(p))) {
      return `'${entrypoint}' must be module.function (e.g. main.handler)`;
    }
    const base = modules.join('/');
    return [`${base}.py`, `${base}/__init__.py`];
  }
  // node24: Lambda-style "path/file.handler" → path/file.js|.mjs|.cjs
  if (dot <= 0 || !JS_IDENT.test(func) || target.split('/').some((p) => p === '' || p === '..')) {
    return `'${entrypoint}' must be file.function (e.g. index.handler)`;
  }
  const base = target.replace(/^\.\//, '');
  return [`${base}.js`, `${base}.mjs`, `${base}.cjs`];
}

/** Throws INVALID_MANIFEST unless the entrypoint names a file that is in the package. */
export function checkEntrypoint(manifest: Manifest, paths: ReadonlySet<string>): void {
  const candidates = entrypointCandidates(manifest.runtime, manifest.entrypoint);
  if (typeof candidates === 'string') fail(`manifest.entrypoint: ${candidates}`);
  if (candidates.some((c) => paths.has(c))) return;
  fail(
    `manifest.entrypoint: '${manifest.entrypoint}' needs ${candidates.join(' or ')} in the package files`,
  );
}

/** Throws LIMIT_EXCEEDS_CAP when a declared limit is above the tenant's cap. */
export function checkLimits(manifest: Manifest, caps: TenantLimits): void {
  const l = manifest.limits ?? {};
  const checks: [string, number | undefined, number][] = [
    ['timeoutSeconds', l.timeoutSeconds, caps.maxTimeoutSeconds],
    ['memoryMb', l.memoryMb, caps.maxMemoryMb],
    ['cpus', l.cpus, caps.maxCpus],
  ];
  for (const [name, value, cap] of checks) {
    if (value !== undefined && value > cap) {
      throw new RelayError(
        'LIMIT_EXCEEDS_CAP',
        `manifest.limits.${name}: ${value} exceeds the tenant's cap of ${cap}`,
      );
    }
  }
}
