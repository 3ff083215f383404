/** The provider conformance suite against plain child processes (no isolation). */
import { ResourceLimitsEnforcer } from '../../../src/sandbox/limits/index.ts';
import { silentLogger } from '../../../src/sandbox/logger.ts';
import { ProcessProvider } from '../../../src/sandbox/process/provider.ts';
import { runProviderConformance } from './conformance.ts';

const cgroups = ResourceLimitsEnforcer.create({ logger: silentLogger() });
const usable = cgroups.mode !== 'none';
await cgroups.close();

runProviderConformance('process', () => new ProcessProvider({ logger: silentLogger() }), {
  isolated: false,
  cgroups: usable,
});
