// The reference interpreter against plain TypeScript loops written here independently, on random
// inputs with sizes that leave edge tiles.
import { describe, expect, it } from 'vitest';
import { bf16, f16, f32, i8, i32, u4, u8 } from '../../dsl/dtype.js';
import { interpret } from '../../dsl/interp/interpret.js';
import { ProgramBuilder } from '../../dsl/ir/builder.js';
import { binary } from '../../dsl/ir/scalar.js';
import { Tensor } from '../../dsl/tensor.js';
import { randomInt, rng } from '../helpers/random.js';

function randomTensor(
  dtype: Parameters<typeof Tensor.zeros>[0],
  shape: number[],
  seed: number,
  lo = -1,
  hi = 1,
): Tensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, () =>
    dtype.kind === 'int'
      ? randomInt(r, Math.max(lo, dtype.min), Math.min(hi, dtype.max))
      : lo + (hi - lo) * r(),
  );
  return Tensor.fromArray(dtype, shape, values);
}

/** An output tensor filled with a value no correct program writes. */
function poisoned(dtype: Parameters<typeof Tensor.zeros>[0], shape: number[]): Tensor {
  return Tensor.zeros(dtype, shape).fill(
    dtype.kind === 'float' ? Number.NaN : dtype.kind === 'int' ? dtype.max : 1,
  );
}

function expectClose(actual: number[], expected: number[], tol: (i: number) => number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    if (!(err <= tol(i))) {
      throw new Error(`element ${i}: got ${actual[i]}, expected ${expected[i]} (error ${err} > ${tol(i)})`);
    }
  }
}

describe('u4 GEMV with f16 group scales (G = 128)', () => {
  const G = 128;
  function gemvProgram(BN: number, BK: number) {
    const b = new ProgramBuilder('gemv_u4', { BN, BK });
    b.global('x', f32, ['K']);
    b.global('w', u4, ['N', 'K']);
    b.global('s', f16, ['N', 'cdiv(K, 128)']);
    b.global('y', f32, ['N'], 'write');
    const N = b.sym('N');
    const K = b.sym('K');
    b.grid(binary('cdiv', N, BN));
    b.threads(64);
    const acc = b.zeros(f32, [BN, BK], 'acc');
    b.for('k', 0, K, BK, (k) => {
      const wt = b.cast(b.load('w', [binary('mul', b.blockIdx.x, BN), k], [BN, BK]), f32);
      const st = b.cast(
        b.load('s', [binary('mul', b.blockIdx.x, BN), binary('div', k, G)], [BN, BK / G]),
        f32,
      );
      const xt = b.load('x', [k], [BK]);
      const term = b.mul(b.mul(wt, b.repeat(st, [1, G])), b.unsqueeze(xt, 0));
      b.assign(acc, b.add(acc, term));
    });
    b.store('y', [binary('mul', b.blockIdx.x, BN)], b.reduce('sum', acc, 1));
    return b.build();
  }

  for (const [N, K, BN, BK] of [
    [37, 384, 8, 256], // N and K both leave edge tiles
    [16, 640, 16, 128],
    [5, 1000, 4, 512], // K not a multiple of the group size: the last group is partial
  ]) {
    it(`N=${N} K=${K} with BN=${BN} BK=${BK}`, () => {
      const groups = Math.ceil(K / G);
      const x = randomTensor(f32, [K], 1 + N);
      const w = randomTensor(u4, [N, K], 2 + N, 0, 15);
      const s = randomTensor(f16, [N, groups], 3 + N, 0.001, 0.02);
      const y = poisoned(f32, [N]);
      interpret(gemvProgram(BN, BK), { x, w, s, y });
      const expected: number[] = [];
      const tol: number[] = [];
      for (let n = 0; n < N; n++) {
        let sum = 0;
        let mag = 0;
        for (let k = 0; k < K; k++) {
          const term = x.get(k) * w.get([n, k]) * s.get([n, Math.floor(k / G)]);
          sum += term;
          mag += Math.abs(term);
        }
        expected.push(sum);
        // f32 rounding after each op: a few ulps of every partial sum.
        tol.push(mag * 2 ** -20);
      }
      expectClose(y.toArray(), expected, (i) => tol[i]);
      expect(y.toArray().every(Number.isFinite)).toBe(true);
    });
  }
});

describe('row softmax', () => {
  function softmaxProgram(BM: number, BN: number) {
    const b = new ProgramBuilder('softmax', { BM, BN });
    b.global('x', f32, ['M', 'N']);
    b.global('y', f32, ['M', 'N'], 'write');
    b.grid(binary('cdiv', b.sym('M'), BM));
    b.threads(128);
    const row = binary('mul', b.blockIdx.x, BM);
    const t = b.load('x', [row, 0], [BM, BN], { other: Number.NEGATIVE_INFINITY });
    const e = b.unary('exp', b.sub(t, b.reduce('max', t, 1, { keepdim: true })));
    b.store('y', [row, 0], b.div(e, b.reduce('sum', e, 1, { keepdim: true })));
    return b.build();
  }

  it('M=10 N=50 in 4x64 tiles', () => {
    const [M, N] = [10, 50];
    const x = randomTensor(f32, [M, N], 11, -6, 6);
    const y = poisoned(f32, [M, N]);
    interpret(softmaxProgram(4, 64), { x, y });
    const expected: number[] = [];
    for (let m = 0; m < M; m++) {
      const row = Array.from({ length: N }, (_, n) => x.get([m, n]));
      const mx = Math.max(...row);
      const e = row.map((v) => Math.exp(v - mx));
      const total = e.reduce((a, c) => a + c, 0);
      expected.push(...e.map((v) => v / total));
    }
    expectClose(y.toArray(), expected, (i) => 1e-6 * Math.max(1e-3, expected[i]) + 1e-9);
    for (let m = 0; m < M; m++) {
      const rowSum = Array.from({ length: N }, (_, n) => y.get([m, n])).reduce((a, c) => a + c, 0);
      expect(rowSum).toBeCloseTo(1, 5);
    }
  });
});

describe('masked edge tiles', () => {
  it('a 2-D elementwise kernel writes every element of a 37x53 tensor with 8x16 tiles, and nothing else', () => {
    const [BM, BN] = [8, 16];
    const b = new ProgramBuilder('affine', { BM, BN });
    b.global('x', i32, ['M', 'N']);
    b.global('y', i32, ['M', 'N'], 'write');
    b.grid(binary('cdiv', b.sym('M'), BM), binary('cdiv', b.sym('N'), BN));
    const off = [binary('mul', b.blockIdx.x, BM), binary('mul', b.blockIdx.y, BN)];
    b.store('y', off, b.add(b.mul(b.load('x', off, [BM, BN]), 3), 1));
    const program = b.build();
    const x = randomTensor(i32, [37, 53], 21, -1000, 1000);
    const y = poisoned(i32, [37, 53]);
    interpret(program, { x, y });
    const xs = x.toArray();
    expect(y.toArray()).toEqual(xs.map((v) => v * 3 + 1));
  });

  it('out-of-range loads read `other`; out-of-range stores are dropped', () => {
    const b = new ProgramBuilder('pad');
    b.global('x', f32, ['N']);
    b.global('y', f32, ['P'], 'write');
    b.store('y', [0], b.load('x', [-2], [8], { other: 7.5 }));
    const program = b.build();
    const x = randomTensor(f32, [5], 31);
    const y = poisoned(f32, [6]);
    interpret(program, { x, y });
    expect(y.toArray()).toEqual([7.5, 7.5, ...x.toArray().slice(0, 4)]);
  });

  it('a user mask keeps masked lanes out of loads and stores', () => {
    const b = new ProgramBuilder('masked');
    b.global('x', u8, ['N']);
    b.global('y', u8, ['N'], 'readwrite');
    const idx = b.arange(i32, 16);
    const even = b.binary('eq', b.binary('mod', idx, 2), 0);
    const t = b.load('x', [0], [16], { mask: even, other: 200 });
    b.store('y', [0], t, { mask: b.binary('lt', idx, 12) });
    const x = randomTensor(u8, [16], 41, 0, 150);
    const y = randomTensor(u8, [16], 42, 0, 150);
    const before = y.toArray();
    interpret(b.build(), { x, y });
    const expected = before.map((v, i) => (i < 12 ? (i % 2 === 0 ? x.get(i) : 200) : v));
    expect(y.toArray()).toEqual(expected);
  });
});

describe('reduce', () => {
  it('u8 sum wraps around; i32 max and min along each axis', () => {
    const [R, C] = [6, 9];
    const b = new ProgramBuilder('reduce');
    b.global('x', u8, ['R', 'C']);
    b.global('sum0', u8, ['C'], 'write');
    b.global('max1', i32, ['R'], 'write');
    b.global('min0', i32, ['C'], 'write');
    const t = b.load('x', [0, 0], [R, C]);
    b.store('sum0', [0], b.reduce('sum', t, 0));
    const wide = b.cast(t, i32);
    b.store('max1', [0], b.reduce('max', wide, 1));
    b.store('min0', [0], b.reduce('min', wide, 0));
    const x = randomTensor(u8, [R, C], 51, 0, 255);
    const out = { sum0: poisoned(u8, [C]), max1: poisoned(i32, [R]), min0: poisoned(i32, [C]) };
    interpret(b.build(), { x, ...out });
    const col = (c: number) => Array.from({ length: R }, (_, r) => x.get([r, c]));
    const row = (r: number) => Array.from({ length: C }, (_, c) => x.get([r, c]));
    expect(out.sum0.toArray()).toEqual(
      Array.from({ length: C }, (_, c) => col(c).reduce((a, v) => a + v, 0) % 256),
    );
    expect(out.max1.toArray()).toEqual(Array.from({ length: R }, (_, r) => Math.max(...row(r))));
    expect(out.min0.toArray()).toEqual(Array.from({ length: C }, (_, c) => Math.min(...col(c))));
  });

  it('bf16 sum into an f32 accumulator, keepdim', () => {
    const b = new ProgramBuilder('reduce_bf16');
    b.global('x', bf16, ['R', 'C']);
    b.global('y', f32, ['R', 'one'], 'write');
    b.store('y', [0, 0], b.reduce('sum', b.load('x', [0, 0], [4, 33]), 1, { keepdim: true, dtype: f32 }));
    const x = randomTensor(bf16, [4, 33], 61, -4, 4);
    const y = poisoned(f32, [4, 1]);
    interpret(b.build(), { x, y });
    const expected = Array.from({ length: 4 }, (_, r) =>
      Array.from({ length: 33 }, (_, c) => x.get([r, c])).reduce((a, v) => a + v, 0),
    );
    expectClose(y.toArray(), expected, () => 1e-4);
  });
});

describe('dot', () => {
  it('f16 tiled matmul through shared tiles with sync, f32 accumulator, edge tiles', () => {
    const [BM, BN, BK] = [16, 16, 16];
    const b = new ProgramBuilder('matmul', { BM, BN, BK });
    b.global('a', f16, ['M', 'K']);
    b.global('b', f16, ['K', 'N']);
    b.global('c', f32, ['M', 'N'], 'write');
    b.grid(binary('cdiv', b.sym('M'), BM), binary('cdiv', b.sym('N'), BN));
    b.threads(128);
    const row = binary('mul', b.blockIdx.x, BM);
    const col = binary('mul', b.blockIdx.y, BN);
    const acc = b.zeros(f32, [BM, BN], 'acc');
    const sa = b.shared(f16, [BM, BK], 'sa');
    const sb = b.shared(f16, [BK, BN], 'sb');
    b.for('k', 0, b.sym('K'), BK, (k) => {
      b.storeShared(sa, b.load('a', [row, k], [BM, BK]));
      b.storeShared(sb, b.load('b', [k, col], [BK, BN]));
      b.sync();
      b.assign(acc, b.dot(b.loadShared(sa), b.loadShared(sb), acc));
      b.sync();
    });
    b.store('c', [row, col], acc);
    const [M, N, K] = [19, 23, 40];
    const A = randomTensor(f16, [M, K], 71);
    const B = randomTensor(f16, [K, N], 72);
    const C = poisoned(f32, [M, N]);
    interpret(b.build(), { a: A, b: B, c: C });
    const expected: number[] = [];
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += A.get([i, k]) * B.get([k, j]);
        expected.push(s);
      }
    }
    // Products of f16 values are exact in f32; only the K additions round.
    expectClose(C.toArray(), expected, () => K * 2 ** -23 * 4);
  });

  it('i8 x i8 -> i32 is exact', () => {
    const b = new ProgramBuilder('dot_i8');
    b.global('a', i8, ['M', 'K']);
    b.global('b', i8, ['K', 'N']);
    b.global('c', i32, ['M', 'N'], 'write');
    b.store(
      'c',
      [0, 0],
      b.dot(b.load('a', [0, 0], [7, 64]), b.load('b', [0, 0], [64, 5]), b.zeros(i32, [7, 5])),
    );
    const A = randomTensor(i8, [7, 64], 81, -128, 127);
    const B = randomTensor(i8, [64, 5], 82, -128, 127);
    const C = poisoned(i32, [7, 5]);
    interpret(b.build(), { a: A, b: B, c: C });
    const expected: number[] = [];
    for (let i = 0; i < 7; i++) {
      for (let j = 0; j < 5; j++) {
        let s = 0;
        for (let k = 0; k < 64; k++) s += A.get([i, k]) * B.get([k, j]);
        expected.push(s);
      }
    }
    expect(C.toArray()).toEqual(expected);
  });
});
