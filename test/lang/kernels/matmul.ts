// Tiled f32 matmul C = A @ B: each block owns a BM x BN tile of C and walks K in BK steps, staging
// the A and B tiles in shared memory between barriers. Edge tiles read 0 past M, N and K (so the
// padded products add nothing) and the store drops lanes past M and N.
import { f32, global, kernel } from '../../../dsl/index.js';

export const matmul = kernel({
  name: 'matmul',
  params: { a: global(f32, ['M', 'K']), b: global(f32, ['K', 'N']), c: global(f32, ['M', 'N'], 'write') },
  consts: { BM: [16, 8], BN: [16, 32], BK: [8, 16] },
})`
  grid(cdiv(M, BM), cdiv(N, BN));
  threads(128);
  const m0 = blockIdx.x * BM;
  const n0 = blockIdx.y * BN;
  const sa = shared(f32, [BM, BK]);
  const sb = shared(f32, [BK, BN]);
  let acc = zeros(f32, [BM, BN]);
  for (let k = 0; k < K; k += BK) {
    sa.store(load(a, [m0, k], [BM, BK]));
    sb.store(load(b, [k, n0], [BK, BN]));
    sync();
    acc = dot(sa.load(), sb.load(), acc);
    sync();
  }
  store(c, [m0, n0], acc);
`;
