#!/usr/bin/env node
// node-foreman (`nf`) reads `-f` as `--forward PORT` and crashes on a Procfile path,
// while Ruby foreman and most READMEs write `foreman start -f Procfile`. This bin
// rewrites `-f X` / `--procfile=X` into node-foreman's `-j X` and then runs node-foreman
// in this same process, so signals (Ctrl-C) reach it exactly as they would reach `nf`.
import { createRequire } from 'node:module';
import path from 'node:path';

export function translateArgs(args) {
  const out = [];
  for (let i = 0; i < args.length; i += 1) {
    const arg = args[i];
    if (arg === '-f' || arg === '--file') {
      out.push('-j');
    } else if (arg.startsWith('--file=')) {
      out.push('-j', arg.slice('--file='.length));
    } else {
      out.push(arg);
    }
  }
  return out;
}

const require = createRequire(import.meta.url);
const nfPath = path.join(path.dirname(require.resolve('foreman/package.json')), 'nf.js');
process.argv = [process.argv[0], nfPath, ...translateArgs(process.argv.slice(2))];
require(nfPath);
