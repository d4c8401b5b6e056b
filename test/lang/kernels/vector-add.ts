// Elementwise vector add: one BN-wide tile per block; the last block's out-of-range lanes read 0 and
// are not stored.
import { type DType, global, kernel } from '../../../dsl/index.js';

export function vectorAdd(dtype: DType) {
  return kernel({
    name: `vector_add_${dtype.name}`,
    params: { a: global(dtype, ['N']), b: global(dtype, ['N']), c: global(dtype, ['N'], 'write') },
    consts: { BN: 64 },
  })`
    grid(cdiv(N, BN));
    threads(64);
    const off = blockIdx.x * BN;
    store(c, [off], load(a, [off], [BN]) + load(b, [off], [BN]));
  `;
}
