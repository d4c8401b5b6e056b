// The sub-byte dot lowering (dsl/backend/wasm/dot-subbyte.ts): dot(a, load(w).to(T).transpose(), acc)
// with w an int of 1..8 bits reads the weights in place (nibble planes, widened bytes, or fields
// isolated by masks, dot-fields.ts, into i32x4.dot_i16x8_s). Integer results must equal the
// interpreter's bit for bit. Random operands over every bit pattern, K not a multiple of the chunk
// (tails), K that makes rows start mid-byte or mid-group (the element path), the last rows' chunks
// ending near the tensor's end and at the memory's end (the overread guard: 3-bit loads read 4
// bytes past their chunk), N and K leaving edge tiles (weight rows past N, columns past K), M = 1,
// 2 and 5 (the lowering's 4-row, 2-row and 4+1-row blocks), long Ks that need the scaled sums
// shifted down, a narrow accumulator; acc += dot(x, wT)
// (a skipped zeros accumulator) with the whole-tile check passing on one tile and failing on the
// next, activations read in place at column offsets and loaded into scratch on edge tiles; the
// largest K whose scaled sums are reduced before their one shift, at values that overflow one chunk
// later; outputs poisoned; 1 and 2 threads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subbyteDotCount, subbyteDotParts } from '../../dsl/backend/wasm/dot-subbyte.js';
import { compileWasm, fromBase64 } from '../../dsl/backend/wasm/index.js';
import * as dt from '../../dsl/dtype.js';
import { type DType, i8, i16, i32 } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
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
  /**
   * Fills a and w with extreme values instead of random ones (long-K overflow check); 'all': every
   * product at its largest magnitude, -128 times the largest biased weight.
   */
  readonly extreme?: boolean | 'all';
  /** acc += dot(x, wᵀ): the dot's own accumulator is a zeros tile (stored without adding c). */
  readonly zeroC?: boolean;
}

/** subbyteMatmul with acc += dot(x, wᵀ): the dot's c is `full 0`, which the lowering skips. */
function zeroCMatmul(a: DType, w: DType, t: DType, BM: number, BN: number, BK: number) {
  return kernel({
    name: `subbyte_zeroc_${a.name}_${w.name}`,
    params: {
      a: global(a, ['M', 'K']),
      w: global(w, ['N', 'K']),
      c: global(i32, ['M', 'N']),
      y: global(i32, ['M', 'N'], 'write'),
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
      acc += dot(x, load(w, [n0, k], [BN, BK]).to(${t}).transpose());
    }
    store(y, [m0, n0], acc);
  `;
}

/** The width's largest biased weight: unsigned max, or the signed max (biased to 2^w - 1). */
function extremePattern(w: DType): number {
  return w.kind === 'int' && w.signed ? 2 ** (w.bits - 1) - 1 : 2 ** w.bits - 1;
}

async function check(c: Case, seed: number): Promise<void> {
  const acc = c.acc ?? i32;
  const program = (
    c.zeroC
      ? zeroCMatmul(c.a, c.w, c.t, c.BM, c.BN, c.BK)
      : subbyteMatmul(c.a, c.w, c.t, acc, c.BM, c.BN, c.BK)
  ).compile().program;
  expect(subbyteDotCount(program), `${c.w.name} x ${c.a.name} takes the in-place dot`).toBe(1);
  // 1- to 7-bit weights read i8 activations in place too (planes gathered from each chunk's 32
  // contiguous elements); a zeros accumulator is never materialized.
  const reads = c.w.bits < 8 && c.a === i8 && c.t === i8 ? 1 : 0;
  expect(subbyteDotParts(program)).toEqual({ zeroC: c.zeroC ? 1 : 0, aInPlace: reads });
  const a = randomTensor(c.a, [c.M, c.K], seed);
  const w = randomTensor(c.w, [c.N, c.K], seed + 1);
  if (c.extreme) {
    const all = c.extreme === 'all';
    for (let i = 0; i < a.size; i++) a.set(i, i % 7 === 3 && !all ? 100 : -(2 ** (c.a.bits - 1)));
    for (let i = 0; i < w.size; i++) w.setPattern(i, i % 5 === 1 && !all ? 3 : extremePattern(c.w));
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

  // 5 bits run whole periods of 4 chunks (dot-fields.ts FieldPeriod: half chunks loaded at their own
  // offsets and swizzles), then the 1-3 chunks left over as plain chunks: BK of 4, 5, 7 and 9 chunks
  // (+ an 8-element tail), with one row of a (periods: the first peeled, then a loop); 2 or 5 rows of
  // a take plain chunks. Rows start off 16-byte boundaries (K = 296: 185 bytes apart); a zeros
  // accumulator.
  it.each([
    [1, 1, 296, 136, false],
    [1, 1, 320, 160, true],
    [2, 2, 456, 232, false],
    [5, 8, 296, 296, true],
    [1, 1, 584, 296, false],
  ])(
    '5-bit periods: M %i (BM %i), K %i in steps of %i, zeros accumulator %s',
    async (M, BM, K, BK, zeroC) => {
      for (const [i, w] of [dt.i5, dt.u5].entries()) {
        await check({ a: i8, w, t: i8, M, N: 23, K, BM, BN: 8, BK, zeroC }, 400 + i + K + M);
      }
    },
  );

  it('5-bit periods over a long K with extreme values: two segments of scaled sums', async () => {
    // 8704 weights: a segment of 264 chunks (66 periods), then 8 (2 periods); 2 rows of a: plain.
    for (const extreme of [true, 'all'] as const) {
      await check({ a: i8, w: dt.i5, t: i8, M: 1, N: 5, K: 8704, BM: 1, BN: 4, BK: 8704, extreme }, 19);
      await check({ a: i8, w: dt.i5, t: i8, M: 2, N: 5, K: 8704, BM: 2, BN: 4, BK: 8704, extreme }, 21);
    }
  });

  // acc += dot(x, wᵀ) as in the LLM's int8 kernel: c is a skipped zeros tile. N = 70 in tiles of 64:
  // the second tile fails the whole-tile check (its last blocks lie past N) and checks per block;
  // M = 5 in tiles of 4 leaves an a tile past M (a loaded into scratch, not read in place); K = 300
  // leaves a K % 32 tail and a last K step past K.
  it.each([
    [1, 1, 256, 128],
    [3, 3, 256, 128],
    [5, 4, 256, 128],
    [1, 1, 300, 128],
    [2, 2, 300, 96],
  ])(
    'zeros accumulator, whole-tile and per-block checks: M %i (BM %i), K %i in steps of %i',
    async (M, BM, K, BK) => {
      for (const [i, w] of [dt.u4, dt.i4, dt.u3, dt.i2, dt.u8, dt.i8].entries()) {
        const t = !w.signed && w.bits === 8 ? i16 : i8;
        await check({ a: i8, w, t, M, N: 70, K, BM, BN: 64, BK, zeroC: true }, 300 + i + K + M);
      }
    },
  );

  it('a read in place at an offset: the K step starts mid-row, the tile ends at the tensor', async () => {
    // K = 384 in steps of 128: a's tiles at columns 0, 128, 256, the last ending at the row's end;
    // rows 1..2 of 3 (BM = 1: every row's tile at its own row offset).
    for (const w of [dt.u4, dt.i4]) {
      await check({ a: i8, w, t: i8, M: 3, N: 12, K: 384, BM: 1, BN: 8, BK: 128, zeroC: true }, 23);
      await check({ a: i8, w, t: i8, M: 3, N: 12, K: 384, BM: 1, BN: 8, BK: 128 }, 29);
    }
  });

  it('scaled sums reduced before the shift at the largest K that allows it, extreme values', async () => {
    // 4-bit: 136 chunks of 32 (4 lanes x 136 x 8 x 15 x 128 x 256 < 2^31); 7-bit: 16 chunks. One
    // chunk more and every product at its largest, the reduced sum would leave i32 unless shifted
    // down first.
    for (const [w, K] of [
      [dt.u4, 4352],
      [dt.i4, 4352],
      [dt.u4, 4384],
      [dt.u7, 512],
      [dt.i7, 512],
      [dt.u7, 544],
    ] as const) {
      await check({ a: i8, w, t: i8, M: 1, N: 5, K, BM: 1, BN: 4, BK: K, extreme: 'all' }, 17);
    }
  });

  it('3-bit weights that end at the last byte of memory: no chunk load reads past it', async () => {
    // 3-bit chunks are 12 bytes read by one 16-byte load; the rows whose last chunk ends within 4
    // bytes of the tensor's end take the element path. Here the weights end exactly where the
    // memory does, so a load past them would trap.
    const N = 8;
    const K = 256;
    const wBytes = (N * K * 3) / 8; // a whole number of 16-byte granules
    for (const [i, w] of [dt.u3, dt.i3].entries()) {
      const program = subbyteMatmul(i8, w, i8, i32, 1, N, 128).compile().program;
      const artifact = compileWasm(program);
      const a = randomTensor(i8, [1, K], 31 + i);
      const wt = randomTensor(w, [N, K], 32 + i);
      const cc = randomTensor(i32, [1, N], 33 + i);
      const want = Tensor.zeros(i32, [1, N]);
      interpret(program, { a: a.clone(), w: wt.clone(), c: cc.clone(), y: want });
      const device = await createWasmDevice({ threads: 1 });
      try {
        const args = { a: device.upload(a), c: device.upload(cc), y: device.tensor(i32, [1, N]) };
        // A first launch sizes the launch regions; then the weights' old block is refilled and the
        // free tail filled up to the weights' size, so the new copy ends where the memory does.
        const first = device.upload(wt);
        await device.launch(artifact, { ...args, w: first });
        first.destroy();
        device.tensor(dt.u8, [wBytes]);
        device.tensor(dt.u8, [device.memoryStats().largestFree - wBytes]);
        const wd = device.upload(wt);
        const { capacity } = device.memoryStats();
        expect(wd.address + wd.byteLength, 'the weights end at the memory end').toBe(capacity);
        new Int32Array(device.memory.buffer, args.y.address, N).fill(0x7eadbeef); // poison
        await device.launch(artifact, { ...args, w: wd });
        expect(device.memoryStats().capacity, 'the launch grew no memory').toBe(capacity);
        expect((await device.read(args.y)).patterns(), w.name).toEqual(want.patterns());
      } finally {
        device.destroy();
      }
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
