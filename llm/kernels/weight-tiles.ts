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
// and outputs past N are not stored. llm/weight-tiles.ts lays a host matrix out so
// (docs/llm-formats.md, "WASM weight tiles").

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
