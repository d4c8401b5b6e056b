// Tile sizes per layer shape and device. WebGPU keeps one small shape per kernel (16 KiB of
// workgroup memory, and every distinct kernel costs 1-3 s of pipeline creation on SwiftShader);
// WASM compiles a kernel in ~0.1 s, so there the tiles follow each layer's shape (docs/patnet.md,
// "Tile sizes"): measured on one thread, a block that covers a whole row of pixels (P = 49 or
// 196) or an exact divisor of it (784, 3136 -> 196) is 25-35% faster than 64-pixel blocks, which
// computed a ragged last block (196 = 3·64 + 4) at full cost and made every load of it an edge load.
import { pow2 } from './cache.js';

export type Backend = 'wasm' | 'webgpu';

/**
 * Widest pixel tile on WASM: [BK, BP] operand tiles stay within L1 with BK = 64; 196 (T0's 14x14
 * stage, and a divisor of 784 and 3136) is the widest measured.
 */
const WASM_MAX_BP = 196;

/** The largest divisor of p that is at most `max` and a multiple of 4 (or p itself when p <= max). */
export function pixelTile(p: number, max = WASM_MAX_BP): number {
  if (p <= max) return p;
  for (let d = max - (max % 4); d >= 16; d -= 4) if (p % d === 0) return d;
  return 64; // no good divisor: a ragged last block
}

/** The largest power of two <= max that divides k. */
export function divisorTile(k: number, max: number): number {
  let d = 1;
  while (d * 2 <= max && k % (d * 2) === 0) d *= 2;
  return d;
}

/**
 * Blocks a launch should have at least on `threads` WASM threads: two per thread, so that the
 * runtime's chunked scheduling can even out a thread that the OS descheduled.
 */
function enough(threads: number): number {
  return threads > 1 ? 2 * threads : 1;
}

/** 1x1-conv GEMM tiles for W[m, k] @ X[k, p] over a batch of n; `threads`: the WASM device's. */
export function gemmTiles(backend: Backend, m: number, p: number, k: number, n = 1, threads = 1) {
  if (backend === 'webgpu')
    return { BM: Math.min(32, pow2(m)), BP: Math.min(64, pow2(p)), BK: Math.min(16, pow2(k)) };
  // BK divides K: a K tile past the end makes every operand load an edge load (5-10x slower).
  let bm = Math.min(32, pow2(m));
  const bp = pixelTile(p);
  while (bm > 8 && n * Math.ceil(m / bm) * Math.ceil(p / bp) < enough(threads)) bm /= 2;
  return { BM: bm, BP: bp, BK: divisorTile(k, 64) };
}

/** PConv (3x3 on the first C/4 channels) tiles; `cp` = C/4 channels in and out, `p` = H*W. */
export function conv3x3Tiles(backend: Backend, cp: number, p: number, n = 1, threads = 1) {
  // WebGPU: one tile shape for every stage (two kernels per model; see model.ts).
  if (backend === 'webgpu') return { BCO: 32, BC: 16, BP: 128 };
  // WASM (one thread, T0): 8 ch 1.79 -> 0.55 ms, 16 ch 0.53 -> 0.31, 32 ch 0.24 -> 0.19,
  // 64 ch at 7x7 0.47 -> 0.16 against the shared 32x16x128 tile. On more threads the output
  // channels are split until every thread has blocks (stages 2-3 of T0 are one block otherwise).
  let bco = Math.min(64, pow2(cp));
  const bp = pixelTile(p, 196);
  while (bco > 8 && n * Math.ceil(cp / bco) * Math.ceil(p / bp) < enough(threads)) bco /= 2;
  return { BCO: bco, BC: divisorTile(cp, 64), BP: bp };
}

/**
 * Stride-K patch conv tiles: `co` output channels, `ci` input channels, `ow` output width. The
 * block computes BR whole output rows.
 */
export function patchTiles(backend: Backend, k: number, co: number, ci: number, ow: number) {
  if (backend === 'webgpu') {
    return k === 4
      ? { BCO: Math.min(16, pow2(co)), BC: 3, BR: 1 }
      : { BCO: Math.min(32, co), BC: 8, BR: Math.max(1, Math.floor(8 / ow)) };
  }
  // WASM: one output row per block was 8.4 ms for the last T0 merge (7 pixels a block) against
  // 0.5 ms with 7 rows; BR = the largest divisor of OW up to 8 keeps every block whole.
  let br = 1;
  for (let d = 2; d <= 8; d++) if (ow % d === 0) br = d;
  return k === 4
    ? { BCO: Math.min(32, pow2(co)), BC: ci, BR: Math.min(br, 4) }
    : { BCO: Math.min(64, pow2(co)), BC: divisorTile(ci, 16), BR: br };
}

/**
 * Row-batched linear tiles (the SRM gate's cfc1 and the head) for x[n, k] @ wt[k, m]. WebGPU and
 * batches above 1 keep the fixed batch tile `bn` (one kernel for every batch size). A batch of 1
 * on WASM gets BN = 1: the fixed tile multiplied 7 zero rows (head linear 1.50 -> 0.60 ms, T0;
 * BM = 200 leaves 5 blocks for 2 threads).
 */
export function linearTiles(backend: Backend, n: number, m: number, k: number, bn: number, bk: number) {
  if (backend === 'webgpu' || n > 1) return { BN: bn, BM: 64, BK: bk };
  return { BN: 1, BM: m >= 256 ? pixelTile(m, 256) : Math.min(64, pow2(m)), BK: divisorTile(k, 32) };
}
