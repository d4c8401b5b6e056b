// Row softmax: BM rows per block, each row one BN-wide tile (N <= BN). Lanes past N (and rows past
// M) read -Infinity, so they do not move the row max and add exp(-inf) = 0 to the sum; the store
// drops them.
import { f32, global, i32, kernel } from '../../../dsl/index.js';

export const softmax = kernel({
  name: 'softmax',
  params: { x: global(f32, ['M', 'N']), y: global(f32, ['M', 'N'], 'write') },
  consts: { BM: 4, BN: 64 },
})`
  grid(cdiv(M, BM));
  threads(128);
  const row = blockIdx.x * BM;
  const t = load(x, [row, 0], [BM, BN], { other: -Infinity });
  const e = exp(t - t.max(1, { keepdim: true }));
  store(y, [row, 0], e / e.sum(1, { keepdim: true }));
`;

/**
 * Softmax over only the first `n` columns of each row (a scalar param, n <= N), as attention does
 * with a length mask: an explicit load mask makes lanes at or past `n` read -Infinity, and the same
 * mask on the store leaves columns n.. of y untouched.
 */
export const softmaxPrefix = kernel({
  name: 'softmax_prefix',
  params: { x: global(f32, ['M', 'N']), y: global(f32, ['M', 'N'], 'write'), n: i32 },
  consts: { BM: 4, BN: 64 },
})`
  grid(cdiv(M, BM));
  threads(128);
  const row = blockIdx.x * BM;
  const keep = (arange(BN) < n).unsqueeze(0).broadcast(BM, BN);
  const t = load(x, [row, 0], [BM, BN], { other: -Infinity, mask: keep });
  const e = exp(t - t.max(1, { keepdim: true }));
  store(y, [row, 0], e / e.sum(1, { keepdim: true }), { mask: keep });
`;
