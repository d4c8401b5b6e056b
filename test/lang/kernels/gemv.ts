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
