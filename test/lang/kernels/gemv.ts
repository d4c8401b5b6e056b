// Quantized GEMV y = W x with per-group f16 scales: W is N x K in any weight dtype (u4, i3,
// f4e2m1, f6e3m2, ...), scale s[n, g] applies to weights k in [g*G, (g+1)*G). Each block computes BN
// outputs, walking K in BK steps (BK a multiple of G); `zero` is subtracted from every weight (the
// usual u4 zero point 8; 0 for signed and float weights). Lanes past K read 0 in w, s and x, so edge
// tiles add nothing, however K falls within a group.
import { type DType, f16, f32, global, kernel } from '../../../dsl/index.js';

export function gemv(wt: DType, group: number, zero = 0) {
  return kernel({
    name: `gemv_${wt.name}_g${group}`,
    params: {
      x: global(f32, ['K']),
      w: global(wt, ['N', 'K']),
      s: global(f16, ['N', `cdiv(K, ${group})`]),
      y: global(f32, ['N'], 'write'),
    },
    consts: { BN: 8, BK: 128, G: group },
  })`
    grid(cdiv(N, BN));
    threads(64);
    const n0 = blockIdx.x * BN;
    let acc = zeros(f32, [BN, BK]);
    for (let k = 0; k < K; k += BK) {
      const wq = load(w, [n0, k], [BN, BK]).to(f32) - ${zero};
      const sc = load(s, [n0, k / G], [BN, BK / G]).to(f32).repeat(1, G);
      const xt = load(x, [k], [BK]).unsqueeze(0);
      acc += wq * sc * xt;
    }
    store(y, [n0], acc.sum(1));
  `;
}

/**
 * The same GEMV with the zero point and the scale applied once per group: each K step (one group, G
 * a multiple of 4) sums w * x and x lane-wise into [BN, 4] and [1, 4] partial sums
 * (`reshape(BN, G / 4, 4).sum(1)`: lane j adds elements j, j + 4, ... in order), and adds
 * (wx - zero * xs) * scale to a [BN, 4] accumulator; the four lanes are summed at the end. Results
 * differ from `gemv` by rounding only (another order of the same sums); the WASM backend keeps the
 * partial sums in registers, so a weight costs a decode, a convert, a multiply and an add.
 */
export function gemvGrouped(wt: DType, group: number, zero = 0) {
  if (group % 4 !== 0) throw new Error(`gemvGrouped: group ${group} is not a multiple of 4`);
  return kernel({
    name: `gemv_grouped_${wt.name}_g${group}`,
    params: {
      x: global(f32, ['K']),
      w: global(wt, ['N', 'K']),
      s: global(f16, ['N', `cdiv(K, ${group})`]),
      y: global(f32, ['N'], 'write'),
    },
    consts: { BN: 8, G: group },
  })`
    grid(cdiv(N, BN));
    threads(64);
    const n0 = blockIdx.x * BN;
    let acc = zeros(f32, [BN, 4]);
    for (let k = 0; k < K; k += G) {
      const xt = load(x, [k], [G]).unsqueeze(0);
      const part = (load(w, [n0, k], [BN, G]).to(f32) * xt).reshape(BN, G / 4, 4).sum(1);
      const xs = xt.reshape(1, G / 4, 4).sum(1);
      acc += (part - ${zero} * xs) * load(s, [n0, k / G], [BN, 1]).to(f32);
    }
    store(y, [n0], acc.sum(1));
  `;
}
