/** The provider conformance suite against bubblewrap. */
import { BwrapProvider } from '../../../src/sandbox/bwrap/provider.ts';
import { ResourceLimitsEnforcer } from '../../../src/sandbox/limits/index.ts';
import { silentLogger } from '../../../src/sandbox/logger.ts';
import { runProviderConformance } from './conformance.ts';

const cgroups = ResourceLimitsEnforcer.create({ logger: silentLogger() });
const usable = cgroups.mode !== 'none';
await cgroups.close();

runProviderConformance('bwrap', () => new BwrapProvider({ logger: silentLogger() }), {
  isolated: true,
  cgroups: usable,
});
