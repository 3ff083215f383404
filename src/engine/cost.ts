/**
 * The cost model: what an execution is charged, in cost units (by default
 * priced like common FaaS offerings: a fee per invocation plus GB-seconds
 * of allocated memory over billed duration, rounded up to 1 ms).
 */

export interface CostRates {
  perInvocation: number;
  perGbSecond: number;
}

export const DEFAULT_COST_RATES: CostRates = Object.freeze({
  perInvocation: 0.0000002,
  perGbSecond: 0.0000166667,
});

/** Cost of one attempt that held `memoryMb` for `runMs`. */
export function executionCost(memoryMb: number, runMs: number, rates = DEFAULT_COST_RATES): number {
  const billedSeconds = Math.ceil(Math.max(runMs, 0)) / 1000;
  const cost = rates.perInvocation + (memoryMb / 1024) * billedSeconds * rates.perGbSecond;
  return Math.round(cost * 1e12) / 1e12;
}
