/** The provider conformance suite against bubblewrap. */
import { BwrapProvider, probeBwrap } from '../../../src/sandbox/bwrap/provider.ts';
import { ResourceLimitsEnforcer } from '../../../src/sandbox/limits/index.ts';
import { silentLogger } from '../../../src/sandbox/logger.ts';
import { runProviderConformance } from './conformance.ts';

// Fail loudly rather than skip: a machine without bubblewrap must not pass as isolated.
if (!(await probeBwrap())) {
  throw new Error('bubblewrap does not run here: install it (apt-get install bubblewrap)');
}
const cgroups = ResourceLimitsEnforcer.create({ logger: silentLogger() });
const usable = cgroups.mode !== 'none';
await cgroups.close();

runProviderConformance('bwrap', () => new BwrapProvider({ logger: silentLogger() }), {
  isolated: true,
  cgroups: usable,
});
