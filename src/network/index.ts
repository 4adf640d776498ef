export { Network, NetworkError, type NetworkOptions } from './network.js';
export type { Flow, FlowSpec, FlowState } from './flow.js';
export type { Link } from './link.js';
