// Split-K epilogue: y[M, N] = sum over s of part[s, M, N]. Each block adds up one row's BN columns.
import { f32, global, kernel } from '../../dsl/index.js';

export const splitKReduce = kernel({
  name: 'qmatmul_splitk_reduce',
  params: {
    part: global(f32, ['S', 'M', 'N']),
    y: global(f32, ['M', 'N'], 'write'),
  },
  consts: { BN: [256, 64, 1024], TH: [64, 32, 128] },
})`
  grid(cdiv(N, BN), M);
  threads(TH);
  const n0 = blockIdx.x * BN;
  let acc = zeros(f32, [BN]);
  for (let z = 0; z < S; z++) {
    acc += load(part, [z, blockIdx.y, n0], [BN]);
  }
  store(y, [blockIdx.y, n0], acc.unsqueeze(0));
`;
