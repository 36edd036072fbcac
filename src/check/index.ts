/** History recording formats and the consistency checkers for the KV store. */
export * from './history.js';
export * from './linearizability.js';
export * from './generate.js';
