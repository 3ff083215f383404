/**
 * What the runtime adapters share: the environment every bootstrap starts
 * with, entrypoint parsing and the checks on a package's file list.
 */
import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LaunchPaths } from './port.ts';

/** Environment variables a bootstrap reads; the function's own env may not rely on them. */
export const RUNTIME_ENV_KEYS = [
  'PATH',
  'HOME',
  'TMPDIR',
  'LANG',
  'LAMBDA_TASK_ROOT',
  'NODE_PATH',
  'RELAY_HANDLER',
  'RELAY_TASK_DIR',
  'RELAY_DEPS_DIR',
] as const;

/** The environment every bootstrap starts with; nothing is inherited from the host. */
export function baseEnv(entrypoint: string, paths: LaunchPaths): Record<string, string> {
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: paths.tmpDir,
    TMPDIR: paths.tmpDir,
    LANG: 'C.UTF-8',
    // Lambda handlers use it to find files shipped with the function.
    LAMBDA_TASK_ROOT: paths.taskDir,
    RELAY_HANDLER: entrypoint,
    RELAY_TASK_DIR: paths.taskDir,
  };
  if (paths.depsDir !== undefined) env.RELAY_DEPS_DIR = paths.depsDir;
  return env;
}

/** The host directory of a runtime's bootstrap files, given the adapter module's URL. */
export function bootstrapDirOf(moduleUrl: string, ...segments: string[]): string {
  return join(dirname(fileURLToPath(moduleUrl)), ...segments);
}

/** The path and its resolved target (both must be visible when the path is a symlink). */
export function withRealPath(path: string): string[] {
  try {
    const real = realpathSync(path);
    return real === path ? [path] : [path, real];
  } catch {
    return [path];
  }
}

export interface HandlerRef {
  /** Module path with `/` separators, without extension: `pkg/mod`. */
  modulePath: string;
  /** Exported function name: `handler`. */
  name: string;
}

/**
 * Splits `module.handler` at its last dot. Python modules may be dotted
 * (`pkg.mod.handler`); both runtimes accept `dir/file.handler`.
 */
export function parseHandlerRef(entrypoint: string, dotsAreDirs: boolean): HandlerRef | null {
  const dot = entrypoint.lastIndexOf('.');
  if (dot <= 0 || dot === entrypoint.length - 1) return null;
  const name = entrypoint.slice(dot + 1);
  let modulePath = entrypoint.slice(0, dot);
  if (dotsAreDirs) modulePath = modulePath.replaceAll('.', '/');
  if (!/^[A-Za-z_$][\w$]*$/.test(name) || !isSafeRelativePath(modulePath)) return null;
  return { modulePath, name };
}

/** A relative path that stays inside the package. */
export function isSafeRelativePath(path: string): boolean {
  if (path === '' || path.startsWith('/') || path.includes('\\')) return false;
  return path.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/** The package's file paths as a set, without any leading `./`. */
export function fileSet(files: readonly string[]): Set<string> {
  return new Set(files.map((file) => file.replace(/^(\.\/)+/, '')));
}
