/** Measured benchmark results (genai-perf, vLLM bench serve, plain CSV) read into one normalised MeasuredPoint type. */
export * from './types.js';
export { isMeasureFormat, readMeasurements } from './read.js';
export type { ReadOptions } from './read.js';
export { PLAIN_COLUMNS } from './plain-csv.js';
