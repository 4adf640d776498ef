/** What a configuration costs, from a price per GPU-hour (`plan --gpu-cost`). */

/** USD per hour for a configuration's GPUs at a price per GPU-hour; null without a price. */
export function costPerHour(gpus: number, usdPerGpuHour: number | undefined): number | null {
  return usdPerGpuHour === undefined ? null : gpus * usdPerGpuHour;
}

/**
 * USD per million output tokens: the hour's cost over the output tokens an hour serves at `outputTokensPerS`. Null
 * without a price or with no output.
 */
export function usdPerMillionTokens(costUsdPerHour: number | null, outputTokensPerS: number): number | null {
  if (costUsdPerHour === null || !(outputTokensPerS > 0)) return null;
  return (costUsdPerHour / (outputTokensPerS * 3600)) * 1e6;
}
