// Kernels and checks shared by the relaxed-SIMD suites (wasm-relaxed*.test.ts).
import type { DType } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';

/** 2^-24: the unit roundoff of f32. */
export const U = 2 ** -24;

/**
 * |fused - unfused| for a sum of `terms` products of magnitude <= termBound onto a start value of
 * magnitude <= initBound: each order of roundings is within gamma(n) = n u / (1 - n u) of the exact
 * sum of |terms| (Higham, recursive summation, with or without FMA), so the two differ by at most
 * 2 gamma(terms + 1) (terms * termBound + initBound); 2.01 covers the 1 / (1 - n u) for n < 10^5.
 */
export function accumulateTolerance(terms: number, termBound: number, initBound: number): () => number {
  return () => 2.01 * (terms + 1) * U * (terms * termBound + initBound);
}

/** i16x8.relaxed_dot_i8x16_i7x16_s (0xfd 0x112) and f32x4.relaxed_madd (0xfd 0x105), LEB128 opcodes. */
export const RELAXED_DOT = [0xfd, 0x92, 0x02] as const;
export const RELAXED_MADD = [0xfd, 0x85, 0x02] as const;

/** c[M, N] = a[M, K] @ b[K, N] in `acc`, both cast to `op` first (dot operands share one dtype). */
export function intMatmul(a: DType, b: DType, acc: DType, op: DType) {
  return kernel({
    name: `rimatmul_${a.name}_${b.name}_as_${op.name}_${acc.name}`,
    params: { a: global(a, ['M', 'K']), b: global(b, ['K', 'N']), c: global(acc, ['M', 'N'], 'write') },
    consts: { BM: 5, BN: 6, BK: 200 },
  })`
    grid(cdiv(M, BM), cdiv(N, BN));
    threads(32);
    const m0 = blockIdx.x * BM;
    const n0 = blockIdx.y * BN;
    let acc = zeros(${acc}, [BM, BN]);
    for (let k = 0; k < K; k += BK) {
      acc = dot(load(a, [m0, k], [BM, BK]).to(${op}), load(b, [k, n0], [BK, BN]).to(${op}), acc);
    }
    store(c, [m0, n0], acc);
  `;
}
