// Host side of the WASM weight tiles (kernels/weight-tiles.ts): a row-major [N, K] weight tensor
// laid out as [cdiv(N, rows) * cdiv(K, 128) * rows, 128] tiles, zero-padded. uploadQuantizedMatrix
// uploads WASM weights so (with signBiased for signed weights of 1 to 7 bits). When a row of K
// weights is whole bytes (K * bits % 8 == 0, every real model) each tile row's piece is copied as
// bytes (u32 words where aligned); other shapes move element by element.
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
    (k * bits) % 8 === 0 ? byteCopier(w.data, out.data, bits) : bitCopier(w.data, out.data, bits);
  for (let row = 0; row < n; row++) {
    const block = Math.floor(row / rows);
    for (let p = 0; p < pieces; p++) {
      const tileRow = (block * pieces + p) * rows + (row % rows);
      copyPiece(row * k + p * cols, tileRow * cols, Math.min(cols, k - p * cols));
    }
  }
  return out;
}

type Copier = (src: number, dst: number, count: number) => void;

/**
 * Copies `count` elements from element `src` to element `dst` when both start on a byte: word by
 * word where the bytes allow it. (A TypedArray `set` per 64-byte piece took 60 ms per 4096x4096 u4
 * matrix, its call overhead; the loops take a few.)
 */
function byteCopier(from: Uint8Array, to: Uint8Array, bits: number): Copier {
  const aligned = from.byteOffset % 4 === 0 && to.byteOffset % 4 === 0;
  const from32 = aligned ? new Uint32Array(from.buffer, from.byteOffset, from.byteLength >> 2) : undefined;
  const to32 = aligned ? new Uint32Array(to.buffer, to.byteOffset, to.byteLength >> 2) : undefined;
  return (src, dst, count) => {
    const a = (src * bits) / 8;
    const b = (dst * bits) / 8;
    const len = (count * bits) / 8;
    if (from32 && to32 && a % 4 === 0 && b % 4 === 0 && len % 4 === 0) {
      const a4 = a >> 2;
      const b4 = b >> 2;
      for (let i = 0; i < len >> 2; i++) to32[b4 + i] = from32[a4 + i]!;
    } else {
      for (let i = 0; i < len; i++) to[b + i] = from[a + i]!;
    }
  };
}

/** Copies element by element (rows that do not start on a byte). */
function bitCopier(from: Uint8Array, to: Uint8Array, bits: number): Copier {
  return (src, dst, count) => {
    for (let i = 0; i < count; i++) writeBits(to, bits, dst + i, readBits(from, bits, src + i));
  };
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
  // 8 fields span `bits` bytes; 4 * bits bytes are whole u32 words too.
  const mask = new Uint8Array(4 * bits);
  for (let e = 0; e < 32; e++) {
    const bit = e * bits + bits - 1;
    mask[bit >> 3]! |= 1 << (bit & 7);
  }
  const out = Tensor.fromBytes(twin, w.shape, w.data);
  const bytes = (w.size * bits) / 8;
  const data = out.data;
  if (data.byteOffset % 4 === 0 && bytes % (4 * bits) === 0) {
    const words = new Uint32Array(data.buffer, data.byteOffset, bytes >> 2);
    const mask32 = new Uint32Array(mask.buffer);
    for (let i = 0; i < words.length; i += bits) {
      for (let j = 0; j < bits; j++) words[i + j]! ^= mask32[j]!;
    }
  } else {
    for (let i = 0; i < bytes; i++) data[i]! ^= mask[i % (4 * bits)]!;
  }
  return out;
}
