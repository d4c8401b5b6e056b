// Layer norm over the last axis, for rows longer than one tile: BM rows per block, three passes
// over BN-wide column tiles (sum for the mean, sum of squared deviations for the variance, then
// normalize, scale and shift). Lanes past N read 0, so the first pass needs no mask; the second
// masks them explicitly, because there x - mean would be -mean, not 0.
import { f32, global, kernel } from '../../../dsl/index.js';

export const layerNorm = kernel({
  name: 'layer_norm',
  params: {
    x: global(f32, ['M', 'N']),
    gamma: global(f32, ['N']),
    beta: global(f32, ['N']),
    y: global(f32, ['M', 'N'], 'write'),
    eps: f32,
  },
  consts: { BM: 4, BN: 32 },
})`
  grid(cdiv(M, BM));
  threads(128);
  const row = blockIdx.x * BM;
  let s = zeros(f32, [BM, BN]);
  for (let k = 0; k < N; k += BN) {
    s += load(x, [row, k], [BM, BN]);
  }
  const mean = s.sum(1, { keepdim: true }) / N;
  let q = zeros(f32, [BM, BN]);
  for (let k = 0; k < N; k += BN) {
    const inside = (arange(BN, k) < N).unsqueeze(0);
    const d = where(inside, load(x, [row, k], [BM, BN]) - mean, 0);
    q += d * d;
  }
  const rstd = rsqrt(q.sum(1, { keepdim: true }) / N + eps);
  for (let k = 0; k < N; k += BN) {
    const xhat = (load(x, [row, k], [BM, BN]) - mean) * rstd;
    const g = load(gamma, [k], [BN]).unsqueeze(0);
    const b = load(beta, [k], [BN]).unsqueeze(0);
    store(y, [row, k], xhat * g + b);
  }
`;
