/**
 * Buffer's own UTF-8 methods, and String.prototype.isWellFormed, which the typings
 * (ES2022 lib, @types/node) do not declare. `toString('utf8', start, end)` and
 * `write(value, offset, 'utf8')` end in the first two after normalizing their
 * arguments; called directly they cost less than that normalization for short strings.
 */
interface Utf8Buffer {
  utf8Slice(start: number, end: number): string;
  utf8Write(value: string, offset: number): number;
}

/** The UTF-8 bytes buffer[start, end) as a string (malformed bytes become U+FFFD). */
export function utf8Slice(buffer: Buffer, start: number, end: number): string {
  return (buffer as unknown as Utf8Buffer).utf8Slice(start, end);
}

/** Writes `value` as UTF-8 at `offset` (the caller made room); returns the bytes written. */
export function utf8Write(buffer: Buffer, value: string, offset: number): number {
  return (buffer as unknown as Utf8Buffer).utf8Write(value, offset);
}

/** Whether `value` has no lone surrogate, so that its UTF-8 bytes decode back to it (ES2024, Node.js 20). */
export function isWellFormed(value: string): boolean {
  return (value as unknown as { isWellFormed(): boolean }).isWellFormed();
}
