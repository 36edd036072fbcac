#!/usr/bin/env -S node --max-semi-space-size=4
// The options on the line above are RAFT_NODE_NODE_OPTIONS (src/cli/node-launch.ts).
import { main } from '../dist/src/cli/raft-node.js';

await main(process.argv);
