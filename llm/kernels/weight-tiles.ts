// The WASM device layout of quantized weights: tiles of TR output rows (64 or 8) by TC = 128
// weights of K, each tile's rows consecutive in memory, tiles ordered by row block, then by K:
//   wt[(n / TR * cdiv(K, TC) + k / TC) * TR + n % TR, k % TC] = w[n, k]
// so wt is [cdiv(N, TR) * cdiv(K, TC) * TR, TC], padded with code 0 past N and K. A block of TR
// output rows then streams one contiguous stretch of memory as it walks K, where in the row layout
// it read TR streams K bytes apart, more than the hardware prefetcher follows at 64 rows. TR is the
// block height of the path a format decodes one row by default (matmul.ts weightLayout): 64 for
// the int path's GEMV blocks (u4/g128 4096x4096 int8 GEMV 1.3x faster relaxed, 1.1x baseline), 8
// for the float path's (64-row tiles made its 8-row blocks 1.1-1.8x slower than rows).
// A tile row is 16 * bits bytes, so every row starts on a byte at every width. Kernels read a
// [BN, BK] piece at row (n0 / TR * cdiv(K, TC) + k / TC) * TR + n0 % TR, column k % TC; BN must
// divide TR and BK divide TC (matmul.ts plans so). Padding is harmless: activations past K read 0,
// and outputs past N are not stored. tileWeightsKernel below lays an uploaded matrix out so
// (docs/llm-formats.md, "WASM weight tiles").

import type { DType } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import type { Kernel } from '../../dsl/lang/kernel.js';
import { unsignedTwin } from './spec.js';

/** Weights of K per tile row. */
export const TILE_COLS = 128;

/** The shape of an [N, K] weight matrix in tiles of `rows` rows. */
export function tiledShape(n: number, k: number, rows: number): [number, number] {
  return [Math.ceil(n / rows) * Math.ceil(k / TILE_COLS) * rows, TILE_COLS];
}

/** The tiled weights' shape in a kernel signature, from the kernel's N and K. */
export function tiledShapeExpr(rows: number): [string, string] {
  return [`cdiv(N, ${rows}) * cdiv(K, ${TILE_COLS}) * ${rows}`, `${TILE_COLS}`];
}

const tileKernels = new Map<string, Kernel>();

/**
 * The kernel that lays `weight` [N, K] out in tiles of `rows` rows (the layout above), run once per
 * uploaded matrix: one block per tile, one [TR, TC] load (lanes past N and K read code 0) stored as
 * the tile's rows. With `signBias`, signed codes go to their unsigned twin as q + 2^(bits - 1), which
 * for a two's complement field is its sign bit flipped (spec.ts `signBias`); padding becomes the
 * code of 0 likewise. A tile row is whole 32-bit words, so on WASM both the load (where rows of K
 * start on a word) and the store move words, not elements (docs/wasm-backend.md). Small floats are
 * loaded and stored as values, so their NaN codes come out as the format's one NaN code (a NaN
 * weight makes its outputs NaN whatever its code).
 */
export function tileWeightsKernel(weight: DType, rows: number, signBias: boolean): Kernel {
  const name = `tile_weights_${weight.name}_r${rows}${signBias ? '_biased' : ''}`;
  let k = tileKernels.get(name);
  if (k) return k;
  const stored = signBias ? unsignedTwin(weight) : weight;
  k = kernel({
    name,
    params: {
      w: global(weight, ['N', 'K']),
      wt: global(stored, tiledShapeExpr(rows), 'write'),
    },
    consts: { TR: rows, TC: TILE_COLS, SIGN: signBias ? 2 ** (weight.bits - 1) : 0, TH: [64] },
  })`
    grid(cdiv(N, TR), cdiv(K, TC));
    threads(TH);
    const at = (blockIdx.x * cdiv(K, TC) + blockIdx.y) * TR;
    const tile = load(w, [blockIdx.x * TR, blockIdx.y * TC], [TR, TC]);
    if (SIGN == 0) {
      store(wt, [at, 0], tile);
    } else {
      store(wt, [at, 0], tile.view(${stored}) ^ SIGN);
    }
  `;
  tileKernels.set(name, k);
  return k;
}
