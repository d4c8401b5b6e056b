// The integer dot path (dsl/backend/wasm/dot.ts): dot with operands of at most 8 bits into an
// integer accumulator runs on i32x4.dot_i16x8_s over i16-packed rows and columns. Integer products
// and sums wrap to the accumulator's width, which is arithmetic modulo 2^k, so the result must equal
// the interpreter's bit for bit whatever the order. Random operands (every bit pattern), K not a
// multiple of 8 (zero padding), M and N leaving edge tiles and column blocks of 1-3; 1 and 2 threads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWasm, fromBase64 } from '../../dsl/backend/wasm/index.js';
import { type DType, i4, i8, i16, i32, u4, u8, u16 } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import { interpret } from '../../dsl/interp/interpret.js';
import { Tensor } from '../../dsl/tensor.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { randomInt, randomU32, rng } from '../helpers/random.js';

const devices: WasmDevice[] = [];

beforeAll(async () => {
  devices.push(await createWasmDevice({ threads: 1 }), await createWasmDevice({ threads: 2 }));
});

afterAll(() => {
  for (const d of devices) d.destroy();
});

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

function randomTensor(d: DType, shape: number[], seed: number): Tensor {
  const r = rng(seed);
  const t = Tensor.zeros(d, shape);
  for (let i = 0; i < t.size; i++)
    t.setPattern(i, d.bits === 32 ? randomU32(r) : randomInt(r, 0, 2 ** d.bits - 1));
  return t;
}

function hasOpcode(bytes: Uint8Array, op: readonly number[]): boolean {
  for (let i = 0; i + op.length <= bytes.length; i++) if (op.every((b, j) => bytes[i + j] === b)) return true;
  return false;
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
    const a = randomTensor(op, [M, K], 1);
    const b = randomTensor(op, [K, N], 2);
    const want = randomTensor(acc, [M, N], 3);
    interpret(program, { a: a.clone(), b: b.clone(), c: want });
    const artifact = compileWasm(program);
    expect(WebAssembly.validate(fromBase64(artifact.wasm) as Uint8Array<ArrayBuffer>)).toBe(true);
    // The integer path is what ran: i32x4.dot_i16x8_s (0xfd 0xba 0x01) is in the module.
    expect(hasOpcode(fromBase64(artifact.wasm), [0xfd, 0xba, 0x01])).toBe(true);
    for (const device of devices) {
      const da = device.upload(a);
      const db = device.upload(b);
      const dc = device.upload(randomTensor(acc, [M, N], 4));
      await device.launch(artifact, { a: da, b: db, c: dc });
      const got = (await device.read(dc)).patterns();
      const exp = want.patterns();
      const bad: string[] = [];
      for (let i = 0; i < exp.length && bad.length < 5; i++)
        if (got[i] !== exp[i]) bad.push(`[${i}] got ${got[i]} want ${exp[i]}`);
      expect(bad, `${device.threads} threads`).toEqual([]);
      for (const t of [da, db, dc]) t.destroy();
    }
  });
});
