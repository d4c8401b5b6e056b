// The integer path of the quantized matmul: activations quantized to i8 per block of QB elements
// (quantize-act.ts: x ≈ xq * xs), weights seen as integers wi (spec.ts integerWeights: w = wi * s / MUL),
// and each QB step is one integer `dot` (i32 accumulation, exact), scaled into the f32 accumulator:
//   acc[m, n] += dot(xq[m, k..k+QB], wi[n, k..k+QB]) * xs[m, k / QB] * s[n, k / G] / MUL
// (plus xs * sum(xq) * min[n, g] for 'min' offsets). QB divides G, or G >= K (one scale per channel).
// The backends lower i8 dots to packed integer dot instructions (dot4I8Packed, i32x4.dot_i16x8_s).
// Split-K works as in qmatmul.ts.
import { f32, global, i8, i16, i32, kernel } from '../../dsl/index.js';
import type { Kernel } from '../../dsl/lang/kernel.js';
import { cached, integerWeights, type KernelSpec, offsetCode, quantParams } from './spec.js';

/** Tunable consts (first = default): rows of x per block, output columns per block, threads. */
export const QMATMUL_INT_CONSTS = {
  BM: [1, 2, 4, 8, 16, 32],
  BN: [8, 4, 16, 32, 64],
  TH: [64, 32, 128, 256],
};

/** The integer-path kernel for a weight format (undefined when the weights have no integer form). */
export function qmatmulIntKernel(spec: KernelSpec, qb: number, split: boolean): Kernel | undefined {
  const iw = integerWeights(spec);
  if (!iw) return undefined;
  const wi = iw.wi === 'i8' ? i8 : i16;
  return cached(`qmatmul-int/b${qb}/${split ? 'split' : 'full'}`, spec, () => {
    const { x: _x, ...weights } = quantParams(spec);
    const params = {
      xq: global(i8, ['M', 'K']),
      xs: global(f32, ['M', `cdiv(K, ${qb})`]),
      ...weights,
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
        OFF: offsetCode(spec),
        SPLIT: split ? 1 : 0,
        FLOAT: float ? 1 : 0,
        MUL: iw.mul,
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
        const xt = load(xq, [m0, k], [BM, QB]).to(${wi});
        const q = load(w, [n0, k], [BN, QB]);
        const wq = FLOAT == 1
          ? (q.to(f32) * MUL).to(${wi})
          : (OFF == 1 ? q.to(${wi}) - load(zp, [n0, g], [BN, 1]).to(${wi}) : q.to(${wi}));
        const d = dot(xt, wq.transpose()).to(f32);
        const xsc = load(xs, [m0, k / QB], [BM, 1]);
        const wsc = load(s, [n0, g], [BN, 1]).to(f32).reshape(1, BN) * (1.0 / MUL);
        if (OFF == 2) {
          const xsum = xt.to(i32).sum(1, { keepdim: true }).to(f32);
          acc += xsc * (d * wsc + xsum * load(mn, [n0, g], [BN, 1]).to(f32).reshape(1, BN));
        } else {
          acc += d * xsc * wsc;
        }
      }
      if (SPLIT == 1) { store(part, [blockIdx.z, m0, n0], acc); } else { store(y, [m0, n0], acc); }
    `;
  });
}
