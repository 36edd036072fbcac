import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * Writes a small file atomically and durably: a temporary file, fsynced, renamed
 * over `file`, then its directory fsynced. A crash leaves either no file (or the
 * old one) or the whole new text.
 */
export async function writeSmallFileDurably(file: string, text: string): Promise<void> {
  const temp = `${file}.tmp-${process.pid}`;
  const handle = await fs.open(temp, 'w', 0o644);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, file);
  const dir = await fs.open(path.dirname(file), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}
