// The WASM device layout of quantized weights: tiles of TR = 64 output rows by TC = 128 weights of
// K, each tile's rows consecutive in memory, tiles ordered by row block and then by K:
//   wt[(n / TR * cdiv(K, TC) + k / TC) * TR + n % TR, k % TC] = w[n, k]
// so wt is [cdiv(N, TR) * cdiv(K, TC) * TR, TC], padded with code 0 past N and K. The int path's
// GEMV block (BN = 64 rows) then streams one contiguous stretch of memory (all its rows' K) instead
// of 64 rows K bytes apart, 64 streams that the hardware prefetcher does not follow: the u4/g128
// 4096x4096 int8 GEMV ran 1.2-1.3x faster with relaxed SIMD and 1.15x with baseline SIMD
// (docs/llm-formats.md, "WASM weight tiles"). A tile row is 16 * bits bytes, so every row starts on
// a byte at every width. Kernels read a [BN, BK] piece at row
// (n0 / TR * cdiv(K, TC) + k / TC) * TR + n0 % TR, column k % TC; BN must divide TR and BK divide
// TC (matmul.ts plans so). Padding is harmless: activations past K read 0, and outputs past N are
// not stored. llm/weight-tiles.ts lays a host matrix out so.

export const WEIGHT_TILE = { rows: 64, cols: 128 } as const;

/** The shape of a tiled [N, K] weight matrix. */
export function tiledShape(n: number, k: number): [number, number] {
  const { rows, cols } = WEIGHT_TILE;
  return [Math.ceil(n / rows) * Math.ceil(k / cols) * rows, cols];
}

/** The tiled weights' shape in a kernel signature, from the kernel's N and K. */
export function tiledShapeExpr(): [string, string] {
  const { rows, cols } = WEIGHT_TILE;
  return [`cdiv(N, ${rows}) * cdiv(K, ${cols}) * ${rows}`, `${cols}`];
}
