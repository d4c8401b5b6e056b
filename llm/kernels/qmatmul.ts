// The float path of the quantized matmul y[M, N] = x[M, K] · W[N, K]ᵀ, W weight-only quantized.
// One kernel body serves decode GEMV (BM = 1: per-group lane-wise partial sums scaled once per
// group into a [BN, 4] accumulator, the pattern the backends fuse) and GEMM / small-M GEMV (BM > 1:
// a `dot` per K step). Each K step loads a weight tile and dequantizes it in registers ((q - zero) *
// scale, q * scale + min or q * scale; the per-group form factors the scale and the min out of the
// group's sum) and accumulates in f32. Split-K variants write per-split partial sums to
// part[S, M, N], which reduce.ts adds up. Edge tiles need no code: masked loads read 0 past N and K
// (and x reads 0 there, so a zero point or min on a padded lane adds nothing).
import { f32, global, i32, kernel, type Layout, local, spatial } from '../../dsl/index.js';
import type { Kernel } from '../../dsl/lang/kernel.js';
import { cached, type KernelSpec, offsetCode, quantParams, storedWeight } from './spec.js';
import { TILE_COLS, tiledShapeExpr } from './weight-tiles.js';

/**
 * Tunable consts (the first candidate is the default): rows of x per block (1 = the elementwise GEMV
 * form), output columns per block, K step, threads per block. BK must be a multiple of the group G or
 * G a multiple of BK (matmul.ts picks one); a per-channel format has G >= K.
 */
export const QMATMUL_CONSTS = {
  BM: [1, 2, 4, 8, 16, 32],
  BN: [8, 4, 16, 32, 64],
  BK: [128, 32, 64, 256, 512],
  TH: [64, 32, 128, 256],
};

/**
 * The layout of the GEMV's [BN, ST] weight tile that gives each of TH threads one run of consecutive
 * weights of a row (WebGPU: each thread then reads the words its run spans once and takes every
 * weight with shifts known at compile time, dsl/backend/wgsl/runs.ts); undefined where the tile does
 * not split so.
 */
export function weightRunLayout(BN: number, ST: number, TH: number): Layout | undefined {
  const across = TH / BN; // threads per row
  if (!Number.isInteger(across) || across < 1 || ST % across !== 0 || ST / across < 2) return undefined;
  return spatial(BN, across).local(1, ST / across);
}

/**
 * The float-path kernel for a weight format. With `split`, block z of the third grid dim covers K
 * range [z * KS, min(K, (z + 1) * KS)) (KS a multiple of BK) and writes part[z, M, N]; without it, the
 * block covers all of K and writes y[M, N]. With `runs` (the layout weightRunLayout gives for the
 * launch's BN, ST and TH, BM = 1 with lane sums), the GEMV loads its weight tiles in that layout; the
 * kernel then serves only those consts. With `tileRows` > 0, w comes in WASM weight tiles of that
 * many rows (weight-tiles.ts; BN must divide the tile's rows and BK its 128 columns).
 */
export function qmatmulKernel(spec: KernelSpec, split: boolean, runs?: Layout, tileRows = 0): Kernel {
  if (runs && tileRows > 0)
    throw new RangeError('qmatmulKernel: thread runs and weight tiles do not combine');
  const family =
    `qmatmul/${split ? 'split' : 'full'}${runs ? `/runs ${runs.shape} ${runs.numThreads}` : ''}` +
    (tileRows > 0 ? `/tiles${tileRows}` : '');
  return cached(family, spec, () => {
    const params = {
      ...quantParams(spec),
      ...(tileRows > 0 ? { w: global(storedWeight(spec), tiledShapeExpr(tileRows)) } : {}),
      ...(split ? { part: globalPart(), KS: i32 } : { y: globalOut() }),
    };
    return kernel({
      name: `qmatmul_${spec.weight.name}_g${spec.group}${split ? '_splitk' : ''}`,
      params,
      consts: {
        ...QMATMUL_CONSTS,
        G: spec.group,
        OFF: offsetCode(spec),
        SPLIT: split ? 1 : 0,
        RUNS: runs ? 1 : 0,
        TILED: tileRows > 0 ? 1 : 0,
        TR: Math.max(tileRows, 1),
        TC: TILE_COLS,
        BIAS: spec.signBias ?? 0,
      },
    })`
      // REP: a K step spans whole groups (scales repeat G times); otherwise a group spans whole K
      // steps, or all of K (per channel), and one scale column serves the step.
      const REP = BK % G == 0;
      if (SPLIT == 1) { grid(cdiv(N, BN), cdiv(M, BM), S); } else { grid(cdiv(N, BN), cdiv(M, BM)); }
      threads(TH);
      const n0 = blockIdx.x * BN;
      const m0 = blockIdx.y * BM;
      let kBegin = 0;
      let kEnd = K;
      if (SPLIT == 1) {
        kBegin = blockIdx.z * KS;
        kEnd = min(K, kBegin + KS);
      }
      // LANES (BM = 1): a step covers one scale column (ST = G when a K step spans groups); its
      // products are summed lane-wise into [BN, 4] and scaled once (the WASM backend keeps those
      // sums in registers). Otherwise BM = 1 accumulates an elementwise [BN, BK] tile, and BM > 1
      // a dot per step.
      const LANES = BM == 1 && (!REP || G % 4 == 0);
      const ST = LANES && REP ? G : BK;
      let acc = zeros(f32, LANES ? [BN, 4] : (BM == 1 ? [BN, BK] : [BM, BN]));
      for (let k = kBegin; k < kEnd; k += ST) {
        const g = k / G;
        // TILED: where the tile piece that holds rows n0.. at k starts (weight-tiles.ts).
        const wr = TILED == 1 ? (n0 / TR * cdiv(K, TC) + k / TC) * TR + n0 % TR : n0;
        const wc = TILED == 1 ? k % TC : k;
        if (LANES) {
          // RUNS: the layout is only checked (against BN, ST, TH) where it is taken.
          const q = (RUNS == 1 ? load(w, [n0, k], [BN, ST], { layout: ${runs ?? local(1)} }) : load(w, [wr, wc], [BN, ST])).to(f32);
          const xt = load(x, [m0, k], [1, ST]).to(f32);
          const sc = load(s, [n0, g], [BN, 1]).to(f32);
          const qx = (q * xt).reshape(BN, ST / 4, 4).sum(1);
          if (OFF == 0) {
            // BIAS: codes stored as q + BIAS, taken off like a zero point.
            if (BIAS == 0) {
              acc += qx * sc;
            } else {
              acc += (qx - BIAS * xt.reshape(1, ST / 4, 4).sum(1)) * sc;
            }
          } else {
            // Σ (q - zp) x = Σ q x - zp Σ x and Σ (q sc + mn) x = sc Σ q x + mn Σ x.
            const xs = xt.reshape(1, ST / 4, 4).sum(1);
            if (OFF == 1) {
              acc += (qx - load(zp, [n0, g], [BN, 1]).to(f32) * xs) * sc;
            } else {
              acc += qx * sc + xs * load(mn, [n0, g], [BN, 1]).to(f32);
            }
          }
        } else {
          const q = BIAS == 0 ? load(w, [wr, wc], [BN, BK]).to(f32) : load(w, [wr, wc], [BN, BK]).to(f32) - BIAS;
          const sc = REP ? load(s, [n0, g], [BN, BK / G]).to(f32).repeat(1, G) : load(s, [n0, g], [BN, 1]).to(f32);
          const wd = OFF == 1
            ? (q - (REP ? load(zp, [n0, g], [BN, BK / G]).to(f32).repeat(1, G) : load(zp, [n0, g], [BN, 1]).to(f32))) * sc
            : (OFF == 2
              ? q * sc + (REP ? load(mn, [n0, g], [BN, BK / G]).to(f32).repeat(1, G) : load(mn, [n0, g], [BN, 1]).to(f32))
              : q * sc);
          if (BM == 1) {
            acc += wd * load(x, [m0, k], [1, BK]).to(f32);
          } else {
            acc = dot(load(x, [m0, k], [BM, BK]).to(f32), wd.transpose(), acc);
          }
        }
      }
      const out = BM == 1 ? acc.sum(1).unsqueeze(0) : acc;
      if (SPLIT == 1) { store(part, [blockIdx.z, m0, n0], out); } else { store(y, [m0, n0], out); }
    `;
  });
}

function globalOut() {
  return global(f32, ['M', 'N'], 'write');
}

function globalPart() {
  return global(f32, ['S', 'M', 'N'], 'write');
}
