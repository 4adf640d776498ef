export * from './units.js';
export * from './kv.js';
export * from './compute.js';
export * from './transfer.js';
export * from './estimate.js';
export * from './bounds.js';
export * from './nixlbench.js';
export * from './domain.js';
