/** What a configuration's output costs, from its USD per hour (`plan --gpu-cost`; planner.ts configCost). */

/**
 * USD per million output tokens: the hour's cost over the output tokens an hour serves at `outputTokensPerS`. Null
 * without a price or with no output.
 */
export function usdPerMillionTokens(costUsdPerHour: number | null, outputTokensPerS: number): number | null {
  if (costUsdPerHour === null || !(outputTokensPerS > 0)) return null;
  return (costUsdPerHour / (outputTokensPerS * 3600)) * 1e6;
}
