export { EventQueue } from './event-queue.js';
export { Simulator, SimulationError, type EventHandle, type Handler, type RunOptions } from './simulator.js';
export { RandomStream, RandomStreams } from './random.js';
export { Bag, LruList, removeAt, truncate, type Bagged, type Linked } from './collections.js';
