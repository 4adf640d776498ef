export * from './agent.js';
export * from './compat.js';
export * from './fabric.js';
export * from './connector.js';
