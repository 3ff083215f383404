/** Declared dependencies: normalised specs, the content-addressed install cache, and pre-baked builds. */
export { createDependencyCache } from './cache.ts';
export type {
  DependencyCache,
  DependencyCacheOptions,
  DependencyLease,
  EnsureResult,
  CacheStats,
  DepsLogger,
} from './cache.ts';
export type { EvictResult } from './evict.ts';
export { createBuildService, initialBuildState, declaresDependencies } from './build.ts';
export type { BuildService, BuildServiceOptions } from './build.ts';
export { specFor, normaliseRequirements, DEPENDENCY_FILES } from './spec.ts';
export type { DependencySpec, DependencyKind, DependencyFiles } from './spec.ts';
export { DependencyInstallError, isDependencyInstallError } from './errors.ts';
export type { InstallRunner, InstallRunRequest, InstallRunResult, InstallBind } from './runner.ts';
export { findNpmCli } from './installers.ts';
