// The sub-byte dot lowering (dsl/backend/wasm/dot-subbyte.ts): dot(a, load(w).to(T).transpose(), acc)
// with w an int of 1..8 bits reads the weights in place (nibble planes, widened bytes, or fields
// isolated by masks, dot-fields.ts, into i32x4.dot_i16x8_s). Integer results must equal the
// interpreter's bit for bit. Random operands over every bit pattern, K not a multiple of the chunk
// (tails), K that makes rows start mid-byte or mid-group (the element path), the last rows' chunks
// ending near the tensor's end (the 16-byte loads' overread guard), N and K leaving edge tiles
// (weight rows past N, columns past K), M = 1, 2 and 5 (the lowering's 4-row, 2-row and 4+1-row
// blocks), long Ks that need the scaled sums shifted down, a narrow accumulator; outputs poisoned;
// 1 and 2 threads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subbyteDotCount } from '../../dsl/backend/wasm/dot-subbyte.js';
import { compileWasm, fromBase64 } from '../../dsl/backend/wasm/index.js';
import * as dt from '../../dsl/dtype.js';
import { type DType, i8, i16, i32 } from '../../dsl/dtype.js';
import { interpret } from '../../dsl/interp/interpret.js';
import { Tensor } from '../../dsl/tensor.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { randomInt, randomU32, rng } from '../helpers/random.js';
import { subbyteMatmul } from './dot-kernels.js';

const devices: WasmDevice[] = [];

beforeAll(async () => {
  devices.push(await createWasmDevice({ threads: 1 }), await createWasmDevice({ threads: 2 }));
});

afterAll(() => {
  for (const d of devices) d.destroy();
});

function randomTensor(d: DType, shape: number[], seed: number): Tensor {
  const r = rng(seed);
  const t = Tensor.zeros(d, shape);
  for (let i = 0; i < t.size; i++)
    t.setPattern(i, d.bits === 32 ? randomU32(r) : randomInt(r, 0, 2 ** d.bits - 1));
  return t;
}

interface Case {
  readonly a: DType;
  readonly w: DType;
  readonly t: DType;
  readonly acc?: DType;
  readonly M: number;
  readonly N: number;
  readonly K: number;
  readonly BM: number;
  readonly BN: number;
  readonly BK: number;
  /** Fills a and w with extreme values instead of random ones (long-K overflow check). */
  readonly extreme?: boolean;
}

/** The width's largest biased weight: unsigned max, or the signed max (biased to 2^w - 1). */
function extremePattern(w: DType): number {
  return w.kind === 'int' && w.signed ? 2 ** (w.bits - 1) - 1 : 2 ** w.bits - 1;
}

async function check(c: Case, seed: number): Promise<void> {
  const acc = c.acc ?? i32;
  const program = subbyteMatmul(c.a, c.w, c.t, acc, c.BM, c.BN, c.BK).compile().program;
  expect(subbyteDotCount(program), `${c.w.name} x ${c.a.name} takes the in-place dot`).toBe(1);
  const a = randomTensor(c.a, [c.M, c.K], seed);
  const w = randomTensor(c.w, [c.N, c.K], seed + 1);
  if (c.extreme) {
    for (let i = 0; i < a.size; i++) a.set(i, i % 7 === 3 ? 100 : -(2 ** (c.a.bits - 1)));
    for (let i = 0; i < w.size; i++) w.setPattern(i, i % 5 === 1 ? 3 : extremePattern(c.w));
  }
  const cc = randomTensor(acc, [c.M, c.N], seed + 2);
  const want = Tensor.zeros(acc, [c.M, c.N]);
  interpret(program, { a: a.clone(), w: w.clone(), c: cc.clone(), y: want });
  const artifact = compileWasm(program);
  const bytes = fromBase64(artifact.wasm);
  expect(WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)).toBe(true);
  for (const device of devices) {
    const args = {
      a: device.upload(a),
      w: device.upload(w),
      c: device.upload(cc),
      y: device.upload(randomTensor(acc, [c.M, c.N], seed + 3)), // poison
    };
    await device.launch(artifact, args);
    const got = (await device.read(args.y)).patterns();
    const exp = want.patterns();
    const bad: string[] = [];
    for (let i = 0; i < exp.length && bad.length < 5; i++)
      if (got[i] !== exp[i]) bad.push(`[${i}] got ${got[i]} want ${exp[i]}`);
    expect(bad, `${c.w.name} x ${c.a.name} M${c.M} N${c.N} K${c.K}, ${device.threads} threads`).toEqual([]);
    for (const t of Object.values(args)) t.destroy();
  }
}

const INTS = [
  ...[dt.i1, dt.i2, dt.i3, dt.i4, dt.i5, dt.i6, dt.i7, dt.i8],
  ...[dt.u1, dt.u2, dt.u3, dt.u4, dt.u5, dt.u6, dt.u7, dt.u8],
];

describe('sub-byte dot: weights read in place', () => {
  // K steps of 136 hold whole chunks of every width (128 weights) and an 8-element tail. K = 296:
  // every row starts on a group, the last K step partly past K; K = 272: the last rows' chunks end
  // 8 elements before the tensor's end (3-bit loads would read past it: element path); K = 300: rows
  // start 4 mod 8 (2- and 6-bit rows take the vector path, odd widths the element path); K = 301:
  // odd rows start mid-byte (element path); K = 256 in steps of 128: no tail.
  it.each([
    [296, 136],
    [272, 136],
    [300, 136],
    [301, 136],
    [256, 128],
  ])(
    'every int width 1..8, signed and unsigned, against i8 activations, K %i in steps of %i',
    async (K, BK) => {
      for (const [i, w] of INTS.entries()) {
        const t = !w.signed && w.bits === 8 ? i16 : i8;
        const M = [1, 2, 5][(i + K) % 3]!;
        await check({ a: i8, w, t, M, N: 23, K, BM: M === 5 ? 8 : M, BN: 8, BK }, 100 + i + K);
      }
    },
  );

  it.each([
    ['u4, K % 32 = 8, 5 rows of a', { a: i8, w: dt.u4, t: i8, M: 5, N: 21, K: 104, BM: 8, BN: 16, BK: 104 }],
    [
      'i4, odd K (rows start mid-byte)',
      { a: i8, w: dt.i4, t: i8, M: 1, N: 13, K: 203, BM: 1, BN: 8, BK: 128 },
    ],
    ['u4 x u4, 2 rows', { a: dt.u4, w: dt.u4, t: dt.u4, M: 2, N: 30, K: 160, BM: 2, BN: 8, BK: 96 }],
    [
      'u4 into an i16 accumulator',
      { a: i8, w: dt.u4, t: i8, acc: i16, M: 3, N: 9, K: 96, BM: 4, BN: 4, BK: 32 },
    ],
    [
      'i4 into an i16 accumulator, 4 weight rows per block, no K tail',
      { a: i8, w: dt.i4, t: i8, acc: i16, M: 1, N: 22, K: 136, BM: 1, BN: 8, BK: 64 },
    ],
    ['i8 x i8', { a: i8, w: i8, t: i8, M: 1, N: 19, K: 72, BM: 1, BN: 8, BK: 40 }],
    ['u8 x i16 activations', { a: i16, w: dt.u8, t: i16, M: 2, N: 11, K: 88, BM: 2, BN: 4, BK: 48 }],
  ] as const)('%s', async (_, c) => {
    await check(c, 7);
  });

  it('a long K (17600: scaled nibble sums shifted down every 256 chunks), extreme values', async () => {
    for (const w of [dt.u4, dt.i4]) {
      await check({ a: i8, w, t: i8, M: 1, N: 5, K: 17600, BM: 1, BN: 4, BK: 17600, extreme: true }, 11);
    }
  });

  it('long K with extreme values: scaled field sums shifted down before i32 overflow', async () => {
    // 8704 weights: past the 5-, 6- and 7-bit segments (8448, 4160 and 2048 weights).
    for (const w of [dt.u5, dt.i6, dt.u7, dt.i7]) {
      await check({ a: i8, w, t: i8, M: 1, N: 5, K: 8704, BM: 1, BN: 4, BK: 8704, extreme: true }, 13);
    }
  });

  it('takes the in-place path for every int width up to 8 bits, when the activations fit', () => {
    const count = (a: DType, w: DType, t: DType) =>
      subbyteDotCount(subbyteMatmul(a, w, t, i32, 1, 8, 64).compile().program);
    for (const w of INTS) {
      const t = !w.signed && w.bits === 8 ? i16 : i8;
      expect(count(t, w, t), w.name).toBe(1);
    }
    // Weights of 8 bits take i16 activations of full range; narrower ones only i8 (planes scaled by
    // up to 256), and never a float or a wider weight dtype.
    expect(count(i16, dt.u8, i16)).toBe(1);
    expect(count(i16, dt.u4, i16)).toBe(0);
    expect(count(i16, dt.u3, i16)).toBe(0);
    expect(count(i16, dt.i16, i16)).toBe(0);
  });
});
