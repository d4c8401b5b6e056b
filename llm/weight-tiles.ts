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
