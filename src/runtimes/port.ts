/**
 * A runtime adapter knows how to start one language's bootstrap: which
 * interpreter, which arguments, which host paths it must see read-only.
 * It knows nothing of isolation; a sandbox provider decides where the
 * paths appear and wraps the command.
 */
import type { Runtime } from '../domain/index.ts';

/** Paths as the process inside the sandbox will see them. */
export interface LaunchPaths {
  /** The function's files (read-only). */
  taskDir: string;
  /** The installed dependency set (read-only), when the function has one. */
  depsDir: string | undefined;
  /** The runtime's bootstrap directory (read-only). */
  bootstrapDir: string;
  /** The only writable place. */
  tmpDir: string;
}

export interface RuntimeLaunch {
  /** argv[0] is an absolute interpreter path. */
  argv: string[];
  /** The complete environment of the bootstrap (nothing is inherited). */
  env: Record<string, string>;
}

export interface RuntimeAdapter {
  readonly runtime: Runtime;
  /** Host directory holding this runtime's bootstrap files. */
  readonly bootstrapDir: string;
  /** Host paths the interpreter needs read-only (bound at the same path in bwrap). */
  readonly hostPaths: readonly string[];
  /** Smallest pids limit the interpreter can start under (threads count on cgroup v1). */
  readonly minPids: number;
  launch(entrypoint: string, paths: LaunchPaths): RuntimeLaunch;
  /** Null when the entrypoint names something the package has, else why not. */
  checkEntrypoint(entrypoint: string, files: readonly string[]): string | null;
}
