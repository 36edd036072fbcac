/** The real-process fault-testing harness: fault proxies, nemesis, workload, runner. */
export * from './fault-proxy.js';
export * from './network.js';
export * from './nemesis.js';
export * from './workload.js';
export * from './history-writer.js';
export * from './chaos-run.js';
