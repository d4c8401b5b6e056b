// Shape validation shared by the devices' tensor constructors.

/** Validates a shape (naming `fn` in errors) and returns a frozen copy and its element count. */
export function checkShape(fn: string, shape: readonly number[]): { shape: readonly number[]; size: number } {
  if (!Array.isArray(shape)) {
    throw new TypeError(`${fn}: shape must be an array of dimensions, got ${String(shape)}`);
  }
  let size = 1;
  for (const [axis, d] of shape.entries()) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(
        `${fn}: shape [${shape.join(', ')}] has dimension ${axis} = ${d}; each dimension must be a ` +
          'non-negative integer',
      );
    }
    size *= d;
  }
  if (!Number.isSafeInteger(size)) {
    throw new RangeError(`${fn}: shape [${shape.join(', ')}] has ${size} elements, too many to index`);
  }
  return { shape: Object.freeze(shape.slice()), size };
}
