/** Experiment files: load and validate one (every sweep point included), then expand its sweep into points. */
export * from '../spec/experiment.js';
export { expandPoints, loadExperiment } from './load.js';
export type { LoadedExperiment, LoadOptions } from './load.js';
export { experimentFileSchema, fieldPaths } from './schema.js';
