// The integer path of the quantized matmul: activations quantized to i8 per block of QB elements
// (quantize-act.ts: x ≈ xq * xs, with xsum = sum(xq) per block), weights seen as integers wi (spec.ts
// integerWeights: w = wi * s / MUL), and each QB step is one integer `dot` of the raw codes,
// dot(xq, q) (i32 accumulation, exact), with the offset applied once per block from xsum:
//   zero point z: dot(x, q - z) = dot(x, q) - z * sum(x)
//   float min mn: dot(x, q * s + mn) = s * dot(x, q) + mn * sum(x)
// The scales and offsets come repacked (repack.ts) as f32 factors ws = s / MUL and wo (-z s / MUL, or
// mn) in column blocks of NB = 64 outputs, [cdiv(N, NB), groups * NB]: a block's BN factors of group
// g are one [1, BN] row piece, and its factors of all groups one contiguous stretch. One block step is
//   acc[m, n] += xs[m, b] * (dot(xq, q)[m, n] * ws[g, n] + xsum[m, b] * wo[g, n])
// with b = k / QB and g = k / G (ws[g, n] standing for ws[n / NB, g * NB + n % NB]). QB divides G,
// or G >= K (one scale per channel). The inner op is thus a pure
// dot(i8 activations, transpose(int weights)), which the backends lower to packed integer dots
// (WASM: dot-subbyte.ts reads 4- and 8-bit weights in place; WebGPU: dot4I8Packed).
// Split-K works as in qmatmul.ts.
import { f32, global, i8, i16, i32, kernel } from '../../dsl/index.js';
import type { Kernel } from '../../dsl/lang/kernel.js';
import { INT_SCALE_BLOCK } from './repack.js';
import { cached, integerWeights, type KernelSpec, offsetCode, storedWeight } from './spec.js';
import { TILE_COLS, tiledShapeExpr } from './weight-tiles.js';

/**
 * Tunable consts (first = default): rows of x per block, output columns per block (each divides
 * INT_SCALE_BLOCK, so a block's scales lie in one column block of ws / wo), threads.
 */
export const QMATMUL_INT_CONSTS = {
  BM: [1, 2, 4, 8, 16, 32],
  BN: [8, 4, 16, 32, 64],
  TH: [64, 32, 128, 256],
};

/**
 * The integer-path kernel for a weight format (undefined when the weights have no integer form).
 * With `tileRows` > 0, w comes in WASM weight tiles of that many rows (weight-tiles.ts; BN must
 * divide the tile's rows and QB its 128 columns).
 */
export function qmatmulIntKernel(
  spec: KernelSpec,
  qb: number,
  split: boolean,
  tileRows = 0,
): Kernel | undefined {
  const iw = integerWeights(spec);
  if (!iw) return undefined;
  const wi = iw.wi === 'i8' ? i8 : i16;
  const family = `qmatmul-int/b${qb}/${split ? 'split' : 'full'}${tileRows > 0 ? `/tiles${tileRows}` : ''}`;
  return cached(family, spec, () => {
    const offset = offsetCode(spec);
    const bias = spec.signBias ?? 0;
    const groups = `cdiv(K, ${spec.group})`;
    const NB = INT_SCALE_BLOCK;
    const scales = [`cdiv(N, ${NB})`, `${groups} * ${NB}`];
    const params = {
      xq: global(i8, ['M', 'K']),
      xs: global(f32, ['M', `cdiv(K, ${qb})`]),
      ...(offset || bias ? { xsum: global(f32, ['M', `cdiv(K, ${qb})`]) } : {}),
      w: global(storedWeight(spec), tileRows > 0 ? tiledShapeExpr(tileRows) : ['N', 'K']),
      ws: global(f32, scales),
      ...(offset ? { wo: global(f32, scales) } : {}),
      ...(split
        ? { part: global(f32, ['S', 'M', 'N'], 'write'), KS: i32 }
        : { y: global(f32, ['M', 'N'], 'write') }),
    };
    const float = spec.weight.kind === 'float';
    return kernel({
      name: `qmatmul_int_${spec.weight.name}_g${spec.group}${split ? '_splitk' : ''}`,
      params,
      consts: {
        ...QMATMUL_INT_CONSTS,
        QB: qb,
        G: spec.group,
        OFF: offset,
        SPLIT: split ? 1 : 0,
        FLOAT: float ? 1 : 0,
        MUL: iw.mul,
        NB,
        TILED: tileRows > 0 ? 1 : 0,
        TR: Math.max(tileRows, 1),
        TC: TILE_COLS,
        BIAS: bias,
      },
    })`
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
      let acc = zeros(f32, [BM, BN]);
      for (let k = kBegin; k < kEnd; k += QB) {
        const g = k / G;
        const b = k / QB;
        const xt = load(xq, [m0, k], [BM, QB]).to(${wi});
        // TILED: the [BN, QB] piece of the tile that holds rows n0.. at k (weight-tiles.ts).
        const wt = TILED == 1
          ? load(w, [(n0 / TR * cdiv(K, TC) + k / TC) * TR + n0 % TR, k % TC], [BN, QB])
          : load(w, [n0, k], [BN, QB]);
        const d = FLOAT == 1
          ? dot(xt, (wt.to(f32) * MUL).to(${wi}).transpose()).to(f32)
          : dot(xt, wt.to(${wi}).transpose()).to(f32);
        const xsc = load(xs, [m0, b], [BM, 1]);
        const wsc = load(ws, [n0 / NB, g * NB + n0 % NB], [1, BN]);
        if (OFF == 0) {
          if (BIAS == 0) {
            acc += xsc * (d * wsc);
          } else {
            // Codes stored as q + BIAS: dot(x, q) = dot(x, q + BIAS) - BIAS * sum(x), exact in f32
            // (integers below 2^24), so the sum equals the unbiased one bit for bit.
            acc += xsc * ((d - BIAS * load(xsum, [m0, b], [BM, 1])) * wsc);
          }
        } else {
          acc += xsc * (d * wsc + load(xsum, [m0, b], [BM, 1]) * load(wo, [n0 / NB, g * NB + n0 % NB], [1, BN]));
        }
      }
      if (SPLIT == 1) { store(part, [blockIdx.z, m0, n0], acc); } else { store(y, [m0, n0], acc); }
    `;
  });
}
