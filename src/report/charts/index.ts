/** Charts: Vega-Lite specs from summaries and the catalog, rendered headless to SVG and PNG. */
export * from './data.js';
export * from './kinds.js';
export * from './render.js';
export * from './write.js';
export * from './text-width.js';
export * from './pareto.js';
export * from './autoscale.js';
