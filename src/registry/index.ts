/** The function registry: packages, version ledger, branch heads, resolve, materialisation. */
export { createRegistry, checkBranchName, FUNCTION_NAME_PATTERN } from './service.ts';
export type {
  Registry,
  Resolved,
  PackageInput,
  FunctionDetail,
  RegistryOptions,
} from './service.ts';
export {
  parseManifest,
  checkEntrypoint,
  checkLimits,
  entrypointCandidates,
  ENV_NAME_PATTERN,
} from './manifest.ts';
export { readFiles, normalisePath, sha256 } from './files.ts';
export type { FileBody, PackageFile, FileCaps } from './files.ts';
export { packageDigest, canonicalJson } from './digest.ts';
export { LruCache } from './cache.ts';
