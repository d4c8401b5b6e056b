// Shape, cast and view instructions against plain TypeScript on random tiles, plus the printed form.
import { describe, expect, it } from 'vitest';
import {
  castValue,
  type DType,
  decode,
  encode,
  f4e2m1,
  f8e4m3,
  f32,
  i3,
  i32,
  u4,
  u8,
  u32,
} from '../../dsl/dtype.js';
import { interpret } from '../../dsl/interp/interpret.js';
import { ProgramBuilder } from '../../dsl/ir/builder.js';
import { printProgram } from '../../dsl/ir/print.js';
import type { TileVar } from '../../dsl/ir/program.js';
import { binary } from '../../dsl/ir/scalar.js';
import { Tensor } from '../../dsl/tensor.js';
import { randomInt, rng } from '../helpers/random.js';

/** Runs `body` on a loaded [R, C] tile of `x` and stores the result tile (of shape `out`) to `y`. */
function runTileOp(
  xDtype: DType,
  xShape: number[],
  yDtype: DType,
  yShape: number[],
  values: number[],
  body: (b: ProgramBuilder, t: TileVar) => TileVar,
): number[] {
  const b = new ProgramBuilder('op');
  b.global(
    'x',
    xDtype,
    xShape.map((_, i) => `X${i}`),
  );
  b.global(
    'y',
    yDtype,
    yShape.map((_, i) => `Y${i}`),
    'write',
  );
  const t = b.load(
    'x',
    xShape.map(() => 0),
    xShape,
  );
  b.store(
    'y',
    yShape.map(() => 0),
    body(b, t),
  );
  const x = Tensor.fromArray(xDtype, xShape, values);
  const y = Tensor.zeros(yDtype, yShape).fill(yDtype.kind === 'float' ? Number.NaN : 1);
  interpret(b.build(), { x, y });
  return y.toArray();
}

const r = rng(7);
const rand = (n: number, lo = -100, hi = 100) => Array.from({ length: n }, () => randomInt(r, lo, hi));

describe('shape instructions', () => {
  it('transpose of a 2-D and a 3-D tile', () => {
    const v = rand(12);
    expect(runTileOp(i32, [3, 4], i32, [4, 3], v, (b, t) => b.transpose(t))).toEqual(
      Array.from({ length: 12 }, (_, k) => v[(k % 3) * 4 + Math.floor(k / 3)]),
    );
    const w = rand(24);
    // dst[i][j][k] = src[j][k][i] for perm [2, 0, 1] on src [2, 3, 4] -> dst [4, 2, 3]
    const got = runTileOp(i32, [2, 3, 4], i32, [4, 2, 3], w, (b, t) => b.transpose(t, [2, 0, 1]));
    const want: number[] = [];
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 2; j++) for (let k = 0; k < 3; k++) want.push(w[j * 12 + k * 4 + i]);
    expect(got).toEqual(want);
  });
  it('reshape keeps row-major order; broadcast and repeat', () => {
    const v = rand(6);
    expect(runTileOp(i32, [2, 3], i32, [3, 2], v, (b, t) => b.reshape(t, [3, 2]))).toEqual(v);
    expect(runTileOp(i32, [1, 3], i32, [2, 3], v.slice(0, 3), (b, t) => b.broadcast(t, [2, 3]))).toEqual([
      ...v.slice(0, 3),
      ...v.slice(0, 3),
    ]);
    const rep = runTileOp(i32, [2, 3], i32, [4, 6], v, (b, t) => b.repeat(t, [2, 2]));
    expect(rep).toEqual(
      Array.from(
        { length: 24 },
        (_, k) => v[Math.floor(Math.floor(k / 6) / 2) * 3 + Math.floor((k % 6) / 2)],
      ),
    );
  });
  it('select with broadcasting condition', () => {
    const v = rand(8);
    const got = runTileOp(i32, [2, 4], i32, [2, 4], v, (b, t) => {
      const idx = b.arange(i32, 4);
      return b.where(b.binary('lt', idx, 2), t, b.unary('neg', t));
    });
    expect(got).toEqual(v.map((x, k) => (k % 4 < 2 ? x : -x + 0)));
  });
});

describe('cast', () => {
  it('f32 to small floats rounds like encode; to integers truncates and saturates', () => {
    const values = Array.from({ length: 64 }, () => (r() - 0.5) * 1200);
    for (const to of [f4e2m1, f8e4m3, u8, i3, i32]) {
      const got = runTileOp(f32, [64], to, [64], values, (b, t) => b.cast(t, to));
      const stored = values.map((v) => Math.fround(v));
      expect(got).toEqual(stored.map((v) => castValue(f32, to, v)));
    }
    const sat = runTileOp(f32, [4], u8, [4], [-5.5, 3.9, 255.5, 1e9], (b, t) => b.cast(t, u8));
    expect(sat).toEqual([0, 3, 255, 255]);
  });
});

describe('view', () => {
  it('u32 words as u4 nibbles follow the storage bit order', () => {
    const words = Array.from({ length: 3 }, () => Math.floor(r() * 2 ** 32));
    const got = runTileOp(u32, [3], u4, [24], words, (b, t) => b.view(t, u4));
    expect(got).toEqual(
      words.flatMap((w) => Array.from({ length: 8 }, (_, i) => Math.floor(w / 16 ** i) % 16)),
    );
  });
  it('f32 as u32 gives the IEEE bits; round trip through u8 bytes', () => {
    const values = [1, -2.5, 0.1, 3e38];
    expect(runTileOp(f32, [4], u32, [4], values, (b, t) => b.view(t, u32))).toEqual(
      values.map((v) => encode(f32, v)),
    );
    const back = runTileOp(f32, [2, 4], f32, [2, 4], [...values, ...values], (b, t) =>
      b.view(b.view(t, u8), f32),
    );
    expect(back).toEqual([...values, ...values].map((v) => decode(f32, encode(f32, v))));
  });
  it('3-bit elements straddle byte boundaries in a view', () => {
    const codes = Array.from({ length: 8 }, () => randomInt(r, 0, 7)); // 8 x 3 bits = 24 bits = 3 bytes
    const bytes = [0, 1, 2].map((i) => codes.reduce((acc, c, k) => acc + c * 2 ** (3 * k), 0) / 2 ** (8 * i));
    const u8s = bytes.map((v) => Math.floor(v) % 256);
    const viewed = runTileOp(u8, [3], i3, [8], u8s, (b, t) => b.view(t, i3));
    expect(viewed).toEqual(codes.map((c) => (c >= 4 ? c - 8 : c)));
  });
});

describe('printer', () => {
  it('prints a program readably', () => {
    const b = new ProgramBuilder('scale', { BN: 4 });
    b.global('x', f32, ['N']);
    b.global('y', f32, ['N'], 'write');
    b.grid(binary('cdiv', b.sym('N'), 4));
    b.threads(32);
    const off = binary('mul', b.blockIdx.x, 4);
    b.store('y', [off], b.mul(b.load('x', [off], [4], { other: 1 }), 2));
    expect(printProgram(b.build())).toBe(
      [
        'program scale(x: global f32[N], y: global f32[N] write)',
        '  consts BN = 4',
        '  grid(cdiv(N, 4)) threads(32)',
        '{',
        '  %x.0: f32[4] = load x[blockIdx.x * 4] other=1.0',
        '  %c.1: f32[] = full 2.0',
        '  %mul.2: f32[4] = mul %x.0, %c.1',
        '  store y[blockIdx.x * 4] <- %mul.2',
        '}',
      ].join('\n'),
    );
  });
});
