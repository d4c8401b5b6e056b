// Host side of the WASM weight tiles (kernels/weight-tiles.ts): a row-major [N, K] weight tensor
// laid out as [cdiv(N, rows) * cdiv(K, 128) * rows, 128] tiles, zero-padded. uploadQuantizedMatrix
// uploads WASM weights so. When a row of K weights is whole bytes (K * bits % 8 == 0, every real
// model) each tile row is one byte copy; other shapes move element by element.
import type { DType } from '../dsl/dtype.js';
import { readBits, writeBits } from '../dsl/packing.js';
import { Tensor } from '../dsl/tensor.js';
import { TILE_COLS, tiledShape } from './kernels/weight-tiles.js';

/** `w` [N, K] in tiles of `rows` rows by 128. */
export function tileWeights<D extends DType>(w: Tensor<D>, rows: number): Tensor<D> {
  if (w.shape.length !== 2) throw new RangeError(`tileWeights: expected an [N, K] tensor, got [${w.shape}]`);
  if (!Number.isInteger(rows) || rows < 1)
    throw new RangeError(`tileWeights: rows must be a positive integer, got ${rows}`);
  const [n, k] = w.shape as [number, number];
  const out = Tensor.zeros(w.dtype, tiledShape(n, k, rows));
  const cols = TILE_COLS;
  const bits = w.dtype.bits;
  const pieces = Math.ceil(k / cols);
  const copyPiece =
    (k * bits) % 8 === 0
      ? (src: number, dst: number, count: number) => {
          const from = (src * bits) / 8;
          out.data.set(w.data.subarray(from, from + (count * bits) / 8), (dst * bits) / 8);
        }
      : (src: number, dst: number, count: number) => {
          for (let i = 0; i < count; i++) writeBits(out.data, bits, dst + i, readBits(w.data, bits, src + i));
        };
  for (let row = 0; row < n; row++) {
    const block = Math.floor(row / rows);
    for (let p = 0; p < pieces; p++) {
      const tileRow = (block * pieces + p) * rows + (row % rows);
      copyPiece(row * k + p * cols, tileRow * cols, Math.min(cols, k - p * cols));
    }
  }
  return out;
}

/**
 * Signed weights as unsigned codes q + 2^(bits - 1) (the sign bit of each field flipped), in the
 * unsigned dtype of the same width: the WASM kernels' sign bias (kernels/spec.ts `signBias`), which
 * spares the int path's dot a sign step per chunk. `w` must hold a multiple of 8 elements (tiles
 * do), so the flip is one mask of `bits` bytes repeated.
 */
export function signBiased(w: Tensor, twin: DType): Tensor {
  const bits = w.dtype.bits;
  if (w.dtype.kind !== 'int' || !w.dtype.signed || twin.kind !== 'int' || twin.signed || twin.bits !== bits) {
    throw new RangeError(
      `signBiased: expected signed int weights and their unsigned twin, got ${w.dtype.name}, ${twin.name}`,
    );
  }
  if (w.size % 8 !== 0) throw new RangeError(`signBiased: ${w.size} elements is not a multiple of 8`);
  const mask = new Uint8Array(bits);
  for (let e = 0; e < 8; e++) {
    const bit = e * bits + bits - 1;
    mask[bit >> 3]! |= 1 << (bit & 7);
  }
  const out = Tensor.fromBytes(twin, w.shape, w.data.slice());
  const bytes = (w.size * bits) / 8;
  for (let i = 0; i < bytes; i++) out.data[i]! ^= mask[i % bits]!;
  return out;
}
