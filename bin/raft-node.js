#!/usr/bin/env node
import { main } from '../dist/src/cli/raft-node.js';

await main(process.argv);
