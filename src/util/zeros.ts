const ZEROS_BYTES = 256 * 1024;
let zeros: Buffer | undefined;

/**
 * One shared buffer of zeros (256 KiB), allocated on first use and never written to:
 * the source of zero-fill writes and the reference that zero runs are compared with.
 */
export function sharedZeros(): Buffer {
  zeros ??= Buffer.alloc(ZEROS_BYTES);
  return zeros;
}
