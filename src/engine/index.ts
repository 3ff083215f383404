/** The ExecutionEngine, its lifecycle (prepare, run, finalize) and the cost model. */
export { ExecutionEngine, ExecutionFailure } from './engine.ts';
export type { EngineDeps } from './engine.ts';
export { ExecutionPreparer, effectiveLimits } from './prepare.ts';
export type { PreparerDeps, PreparedExecution, EffectiveLimits } from './prepare.ts';
export { finalizeExecution } from './finalize.ts';
export { executionCost, DEFAULT_COST_RATES } from './cost.ts';
export { verdictFor, NON_RETRYABLE_ERROR_TYPES } from './outcome.ts';
export { Slots } from './slots.ts';
export type * from './types.ts';
