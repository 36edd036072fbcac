#!/usr/bin/env node
// Runs every compiled test file under dist/test with node's test runner. Files are
// passed explicitly: given a directory, Node 20 would also run helpers as tests.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import path from 'node:path';

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) found.push(...findTests(full));
    else if (name.endsWith('.test.js')) found.push(full);
  }
  return found;
}

const filter = process.argv[2];
const files = findTests('dist/test').filter((file) => filter === undefined || file.includes(filter));
if (files.length === 0) {
  process.stderr.write('no test files found under dist/test (did the build run?)\n');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
