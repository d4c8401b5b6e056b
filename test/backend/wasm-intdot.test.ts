// The integer dot path (dsl/backend/wasm/dot.ts): dot with operands of at most 8 bits into an
// integer accumulator runs on i32x4.dot_i16x8_s over i16-packed rows and columns. Integer products
// and sums wrap to the accumulator's width, which is arithmetic modulo 2^k, so the result must equal
// the interpreter's bit for bit whatever the order. Random operands (every bit pattern), K not a
// multiple of 8 (zero padding), M and N leaving edge tiles and column blocks of 1-3; 1 and 2 threads.
import { describe, expect, it } from 'vitest';
import { compileWasm, fromBase64 } from '../../dsl/backend/wasm/index.js';
import { type DType, i4, i8, i16, i32, u4, u8, u16 } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import {
  expectExactRuns,
  expectValidModules,
  hasOpcode,
  onBothThreadCounts,
  randomPatterns,
  suiteWasmDevices,
} from './wasm-differential.js';

const devices = suiteWasmDevices();

function intMatmul(op: DType, acc: DType, BM: number, BN: number, BK: number) {
  return kernel({
    name: `imatmul_${op.name}_${acc.name}`,
    params: { a: global(op, ['M', 'K']), b: global(op, ['K', 'N']), c: global(acc, ['M', 'N'], 'write') },
    consts: { BM, BN, BK },
  })`
    grid(cdiv(M, BM), cdiv(N, BN));
    threads(32);
    const m0 = blockIdx.x * BM;
    const n0 = blockIdx.y * BN;
    let acc = zeros(${acc}, [BM, BN]);
    for (let k = 0; k < K; k += BK) {
      acc = dot(load(a, [m0, k], [BM, BK]), load(b, [k, n0], [BK, BN]), acc);
    }
    store(c, [m0, n0], acc);
  `;
}

describe('integer dot via i32x4.dot_i16x8_s', () => {
  it.each([
    ['i8', 'i32', i8, i32, 8, 16, 24],
    ['u8', 'i32', u8, i32, 16, 7, 13],
    ['i4', 'i16', i4, i16, 5, 10, 8],
    ['u4', 'u8', u4, u8, 4, 6, 19],
    ['i8', 'u16', i8, u16, 3, 9, 32],
  ] as const)('%s operands into %s', async (_, __, op, acc, BM, BN, BK) => {
    const [M, N, K] = [23, 29, 71];
    const program = intMatmul(op, acc, BM, BN, BK).compile().program;
    const a = randomPatterns(op, [M, K], 1);
    const b = randomPatterns(op, [K, N], 2);
    const artifact = compileWasm(program);
    expectValidModules(artifact);
    // The integer path is what ran: i32x4.dot_i16x8_s (0xfd 0xba 0x01) is in the module.
    expect(hasOpcode(fromBase64(artifact.wasm), [0xfd, 0xba, 0x01])).toBe(true);
    const c = randomPatterns(acc, [M, N], 4); // written only: its random bits are the poison
    await expectExactRuns(program, { a, b, c }, onBothThreadCounts(devices, artifact));
  });
});
