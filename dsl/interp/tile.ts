// A tile value in the interpreter: a row-major array of exact element values (float64 holds every
// value of every dtype exactly, u32 included).
import { type Shape, stridesOf } from '../ir/shapes.js';

export interface TileValue {
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Multi-index of flat position `flat` in a row-major tile. */
export function unflatten(flat: number, shape: Shape): number[] {
  const idx = new Array<number>(shape.length);
  for (let i = shape.length - 1; i >= 0; i--) {
    idx[i] = flat % shape[i];
    flat = Math.floor(flat / shape[i]);
  }
  return idx;
}

/**
 * For each element of `target` (a broadcast result shape), the flat index of the element of a
 * tile of shape `source` that broadcasting reads.
 */
export function broadcastIndex(source: Shape, target: Shape): Int32Array {
  const n = sizeOf(target);
  const out = new Int32Array(n);
  const srcStrides = stridesOf(source);
  const offset = target.length - source.length;
  for (let flat = 0; flat < n; flat++) {
    const idx = unflatten(flat, target);
    let s = 0;
    for (let i = 0; i < source.length; i++) {
      if (source[i] !== 1) s += idx[offset + i] * srcStrides[i];
    }
    out[flat] = s;
  }
  return out;
}
