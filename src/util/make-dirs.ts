import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * `mkdir -p` that always terminates. Node 20's `fs.mkdir(dir, { recursive: true })`
 * loops forever when mkdir reports ENOENT although the parent exists (for example
 * under /proc, where nothing can be created): it keeps "creating the missing parent".
 * Here each level is created once; ENOENT with an existing parent is final.
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
    if (parent === target || (await isDirectory(parent))) throw err;
    await makeDirs(parent);
  }
  // The parent now exists: one more attempt, whose failure is final.
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
