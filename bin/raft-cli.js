#!/usr/bin/env node
import { main } from '../dist/src/cli/raft-cli.js';

await main(process.argv);
