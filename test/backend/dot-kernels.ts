// Dot kernels shared by the WASM integer-dot suites (wasm-relaxed.test.ts; wasm-subbyte-dot.test.ts
// has the same kernel and can take it from here).
import type { DType } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';

/**
 * y = c + a · wᵀ in BM x BN blocks, K steps of BK, operands cast to t (a no-op where they are t):
 * dot-subbyte.ts reads 4- and 8-bit w rows in place.
 */
export function subbyteMatmul(
  a: DType,
  w: DType,
  t: DType,
  acc: DType,
  BM: number,
  BN: number,
  BK: number,
  name = `subbyte_${a.name}_${w.name}_${acc.name}`,
) {
  return kernel({
    name,
    params: {
      a: global(a, ['M', 'K']),
      w: global(w, ['N', 'K']),
      c: global(acc, ['M', 'N']),
      y: global(acc, ['M', 'N'], 'write'),
    },
    consts: { BM, BN, BK },
  })`
    grid(cdiv(M, BM), cdiv(N, BN));
    threads(32);
    const m0 = blockIdx.x * BM;
    const n0 = blockIdx.y * BN;
    let acc = load(c, [m0, n0], [BM, BN]);
    for (let k = 0; k < K; k += BK) {
      const x = load(a, [m0, k], [BM, BK]).to(${t});
      acc = dot(x, load(w, [n0, k], [BN, BK]).to(${t}).transpose(), acc);
    }
    store(y, [m0, n0], acc);
  `;
}
