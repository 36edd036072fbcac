import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * `mkdir -p` that always terminates. Node 20's `fs.mkdir(dir, { recursive: true })`
 * loops forever when mkdir reports ENOENT although the parent exists (for example
 * under /proc, where nothing can be created): it keeps "creating the missing parent".
 * Here each level is tried at most twice: ENOENT again once the parent exists is final.
 *
 * @throws the system error (code ENOENT, ENOTDIR, EACCES, EEXIST, ...) of the level that failed.
 */
export async function makeDirs(dir: string): Promise<void> {
  const target = path.resolve(dir);
  try {
    await fs.mkdir(target);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') {
      if ((await fs.stat(target)).isDirectory()) return;
      throw err;
    }
    if (code !== 'ENOENT') throw err;
    const parent = path.dirname(target);
    if (parent === target) throw err;
    // The parent may exist by now without us: another process (the Procfile starts
    // five nodes at once under one data/) created it between our mkdir and this check.
    if (!(await isDirectory(parent))) await makeDirs(parent);
  }
  // The parent now exists: one more attempt, whose failure is final (under /proc it
  // fails with ENOENT again).
  try {
    await fs.mkdir(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && (await isDirectory(target))) return;
    throw err;
  }
}

async function isDirectory(file: string): Promise<boolean> {
  try {
    return (await fs.stat(file)).isDirectory();
  } catch {
    return false;
  }
}
