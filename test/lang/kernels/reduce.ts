// Sum of a long vector: one block walks the whole input in BN-wide tiles, accumulating lane-wise
// (each lane sums every BN-th element), then reduces the BN lanes. The accumulator dtype is the
// input's for i32 (exact, wrapping) and f32 for floats.
import { type DType, global, kernel } from '../../../dsl/index.js';

export function sumAll(dtype: DType, acc: DType) {
  return kernel({
    name: `sum_${dtype.name}`,
    params: { x: global(dtype, ['N']), y: global(acc, [1], 'write') },
    consts: { BN: 1024 },
  })`
    grid(1);
    threads(256);
    let a = zeros(${acc}, [BN]);
    for (let k = 0; k < N; k += BN) {
      a += load(x, [k], [BN]).to(${acc});
    }
    store(y, [0], a.sum(0, { keepdim: true }));
  `;
}
