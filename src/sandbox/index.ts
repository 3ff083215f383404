/**
 * The sandbox layer's public face: build a provider (`bwrap`, `process` or
 * `auto`), a SandboxManager with its warm pool, and run one-off commands
 * isolated (runIsolated). Other folders import only this file.
 *
 * Limits travel with the request: SandboxSpec.limits (memory, cpus, pids,
 * /tmp size, file size, result size) is fixed when a sandbox starts and is
 * part of its pool key; StartOptions.timeoutMs bounds loading the function;
 * InvokeOptions.timeoutMs is each invocation's wall clock.
 */
import type { RelayConfig } from '../config/index.ts';
import { BwrapProvider, probeBwrap, type SandboxProviderOptions } from './bwrap/provider.ts';
import { stderrLogger, type SandboxLogger } from './logger.ts';
import { SandboxManager } from './manager.ts';
import type { SandboxProvider } from './port.ts';
import { ProcessProvider } from './process/provider.ts';

export type * from './port.ts';
export {
  SandboxManager,
  type AcquireResult,
  type SandboxStats,
  type SandboxManagerOptions,
} from './manager.ts';
export {
  runIsolated,
  createIsolatedRunner,
  IsolatedRunner,
  type IsolatedCommand,
  type IsolatedResult,
  type IsolationOptions,
  type Bind,
} from './isolated.ts';
export { ResourceLimitsEnforcer, type CgroupMode } from './limits/index.ts';
export { grantSandboxTraversal } from './credentials.ts';
export type { SandboxLogger } from './logger.ts';
export { silentLogger } from './logger.ts';
export { compileSeccompFilter } from './bwrap/seccomp.ts';
export { MAX_LOG_LINE_BYTES } from './protocol.ts';

export type ProviderName = 'bwrap' | 'process' | 'auto';

export interface CreateProviderOptions extends Partial<SandboxProviderOptions> {
  bwrapPath?: string;
  /** Parent of the process provider's per-sandbox temp dirs. */
  tmpRoot?: string;
}

/** Build a provider; `auto` picks bwrap when it works on this host, else `process`. */
export async function createProvider(
  name: ProviderName,
  options: CreateProviderOptions = {},
): Promise<SandboxProvider> {
  const logger = options.logger ?? stderrLogger();
  let chosen: 'bwrap' | 'process' = name === 'auto' ? 'process' : name;
  if (name === 'auto' && (await probeBwrap(options.bwrapPath))) chosen = 'bwrap';
  if (name === 'bwrap' && !(await probeBwrap(options.bwrapPath))) {
    throw new Error(
      'SANDBOX_RUNTIME=bwrap but bubblewrap does not run here (is it installed, and are user namespaces allowed?)',
    );
  }
  if (name === 'auto' && chosen === 'process')
    logger.warn({}, 'bubblewrap is not usable here: falling back to the process provider');
  // Without a given enforcer the provider makes and owns one (closing it removes Relay's parent cgroup).
  const common = { ...options, logger };
  return chosen === 'bwrap' ? new BwrapProvider(common) : new ProcessProvider(common);
}

/** The SandboxManager for these settings (provider from `SANDBOX_RUNTIME`, warm pool sizing). */
export async function createSandboxManager(
  config: Pick<RelayConfig, 'sandbox'>,
  logger: SandboxLogger = stderrLogger(),
  options: CreateProviderOptions = {},
): Promise<SandboxManager> {
  const provider = await createProvider(config.sandbox.runtime, { ...options, logger });
  return new SandboxManager(provider, {
    warmIdleMs: config.sandbox.warmIdleSeconds * 1000,
    warmMax: config.sandbox.warmMax,
    logger,
  });
}
