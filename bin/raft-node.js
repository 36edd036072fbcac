#!/usr/bin/env -S MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072 node --max-semi-space-size=4 --heap-growing-percent=100
// The settings on the line above are RAFT_NODE_ENV and RAFT_NODE_NODE_OPTIONS (src/cli/node-launch.ts).
import { main } from '../dist/src/cli/raft-node.js';

await main(process.argv);
