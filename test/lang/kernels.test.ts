// Real kernels written in the kernel language, run on the reference interpreter and compared with
// independent float64 (or exact integer) loops written here. Inputs are seeded random values,
// outputs are poisoned before each run (NaN, or an int pattern), and every size leaves partial
// edge tiles, so a lane the kernel forgets to write or masks wrongly shows up.
//
// Float tolerances are worst-case rounding bounds, with u = 2^-24 the f32 unit roundoff: the
// interpreter rounds every op's exact result once to f32 (docs/vm.md), so a sum of d terms, each
// carrying r roundings, is within (d + r) * u * sum|terms| of the exact sum (the classic
// gamma_n bound, whose 1/(1 - n u) factor is negligible at these sizes).
import { describe, expect, it } from 'vitest';
import { cdiv, type DType, f4e2m1, f6e3m2, f16, f32, i3, i32, Tensor, u4 } from '../../dsl/index.js';
import { randomInt, rng } from '../helpers/random.js';
import { conv2d3x3 } from './kernels/conv2d.js';
import { gemv } from './kernels/gemv.js';
import { layerNorm } from './kernels/layernorm.js';
import { matmul } from './kernels/matmul.js';
import { globalAvgPool } from './kernels/pool.js';
import { sumAll } from './kernels/reduce.js';
import { softmax, softmaxPrefix } from './kernels/softmax.js';
import { vectorAdd } from './kernels/vector-add.js';

const U = 2 ** -24;
/** Written into int outputs before a run: a value no correct kernel produces by accident here. */
const INT_POISON = 0x5a5a5a5a;

/** `n` uniform f32 values in [lo, hi). */
function uniformF32(r: () => number, n: number, lo: number, hi: number): number[] {
  return Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * r()));
}

/** An output tensor filled with poison: NaN for floats, INT_POISON for integers. */
function poisoned<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D> {
  return Tensor.zeros(dtype, shape).fill(dtype.kind === 'float' ? Number.NaN : INT_POISON);
}

/**
 * Checks |got - want| <= tol at every index (NaN fails), listing the first few failures.
 * `at(i)` gives [got, want, tol] for flat index i.
 */
function expectClose(n: number, at: (i: number) => readonly [number, number, number]): void {
  const failures: string[] = [];
  for (let i = 0; i < n && failures.length < 5; i++) {
    const [got, want, tol] = at(i);
    if (!(Math.abs(got - want) <= tol)) failures.push(`[${i}]: got ${got}, want ${want} (tolerance ${tol})`);
  }
  expect(failures).toEqual([]);
}

function expectExact(got: readonly number[], want: readonly number[]): void {
  expect(got.length).toBe(want.length);
  const failures: string[] = [];
  for (let i = 0; i < want.length && failures.length < 5; i++) {
    if (!Object.is(got[i], want[i])) failures.push(`[${i}]: got ${got[i]}, want ${want[i]}`);
  }
  expect(failures).toEqual([]);
}

describe('vector add', () => {
  const N = 1000; // 15 full 64-wide tiles and one of 40

  it('f32: each lane is a + b rounded once', () => {
    const r = rng(101);
    const a = uniformF32(r, N, -100, 100);
    const b = uniformF32(r, N, -100, 100);
    const c = poisoned(f32, [N]);
    vectorAdd(f32).interpret({ a: Tensor.fromArray(f32, [N], a), b: Tensor.fromArray(f32, [N], b), c });
    const got = c.toArray();
    // One rounding of the exact sum: within u * |a + b|.
    expectClose(N, (i) => [got[i], a[i] + b[i], U * Math.abs(a[i] + b[i])]);
  });

  it('i32: exact, wrapping on overflow', () => {
    const r = rng(102);
    const a = Array.from({ length: N }, () => randomInt(r, -(2 ** 31), 2 ** 31 - 1));
    const b = Array.from({ length: N }, () => randomInt(r, -(2 ** 31), 2 ** 31 - 1));
    const c = poisoned(i32, [N]);
    vectorAdd(i32).interpret({ a: Tensor.fromArray(i32, [N], a), b: Tensor.fromArray(i32, [N], b), c });
    const want = a.map((x, i) => (x + b[i]) | 0);
    expect(want.some((x, i) => x !== a[i] + b[i])).toBe(true); // some sums do wrap
    expectExact(c.toArray(), want);
  });
});

/** Row softmax in float64 over the first `n` columns of each row of an M x N matrix. */
function softmaxRef(x: readonly number[], M: number, N: number, n = N): number[] {
  const out: number[] = [];
  for (let m = 0; m < M; m++) {
    const row = x.slice(m * N, m * N + n);
    const mx = Math.max(...row);
    const e = row.map((v) => Math.exp(v - mx));
    const s = e.reduce((p, v) => p + v, 0);
    out.push(...e.map((v) => v / s));
  }
  return out;
}

// softmax: x - max carries one rounding, so with |x - max| <= 8 exp(x - max) is off by a relative
// (8 + 1) u (error of the argument, plus exp's own rounding); the N-term sum of positive terms adds
// N u relative, the division u. So each output is within (N + 12) u of the exact value, relatively.
const softmaxTol = (N: number, want: number) => (N + 12) * U * want;

describe('softmax', () => {
  it.each([37, 64])('rows of %i (one 64-wide tile; 13 rows in 4-row blocks)', (N) => {
    const M = 13;
    const r = rng(200 + N);
    const x = uniformF32(r, M * N, -4, 4);
    const y = poisoned(f32, [M, N]);
    softmax.interpret({ x: Tensor.fromArray(f32, [M, N], x), y });
    const want = softmaxRef(x, M, N);
    const got = y.toArray();
    expectClose(M * N, (i) => [got[i], want[i], softmaxTol(N, want[i])]);
  });

  it('masked to a prefix of each row: lanes past n read -Infinity and are not stored', () => {
    const [M, N, n] = [10, 50, 29];
    const r = rng(203);
    const x = uniformF32(r, M * N, -4, 4);
    const y = poisoned(f32, [M, N]);
    softmaxPrefix.interpret({ x: Tensor.fromArray(f32, [M, N], x), y, n });
    const want = softmaxRef(x, M, N, n);
    const got = y.toArray();
    expectClose(M * n, (i) => {
      const [m, j] = [Math.floor(i / n), i % n];
      return [got[m * N + j], want[i], softmaxTol(n, want[i])];
    });
    for (let m = 0; m < M; m++) {
      expect(got.slice(m * N + n, (m + 1) * N).every(Number.isNaN)).toBe(true); // untouched
    }
  });
});

describe('layer norm', () => {
  // eps = 0.5 is large next to the rows' variance (about 1.3), so a kernel that drops it fails.
  it.each([1e-5, 0.5])('over rows of 75 in 32-wide tiles, with gamma, beta and eps = %f', (eps) => {
    const [M, N] = [11, 75];
    const r = rng(300);
    const x = uniformF32(r, M * N, -2, 2).map((v, i) => Math.fround(v + (i % 7) - 1)); // nonzero means
    const gamma = uniformF32(r, N, 0.5, 1.5);
    const beta = uniformF32(r, N, -1, 1);
    const y = poisoned(f32, [M, N]);
    layerNorm.interpret({
      x: Tensor.fromArray(f32, [M, N], x),
      gamma: Tensor.fromArray(f32, [N], gamma),
      beta: Tensor.fromArray(f32, [N], beta),
      y,
      eps,
    });
    const got = y.toArray();
    const epsF = Math.fround(eps); // the scalar param is f32
    for (let m = 0; m < M; m++) {
      const row = x.slice(m * N, (m + 1) * N);
      const mean = row.reduce((p, v) => p + v, 0) / N;
      const variance = row.reduce((p, v) => p + (v - mean) ** 2, 0) / N;
      const sigma = Math.sqrt(variance + epsF);
      const maxAbs = Math.max(...row.map(Math.abs));
      // The mean is an N-term f32 sum and a division: off by dm <= (N + 2) u max|x|. That shifts
      // xhat by dm / sigma and, through the variance (itself an N-term sum of squares, relative
      // error <= (N + 4) u + 2 dm / sigma), scales it by at most half that plus rsqrt's u; the
      // subtract, multiplies and add round 4 more times. Doubled for the second-order terms.
      const dm = (N + 2) * U * maxAbs;
      expectClose(N, (j) => {
        const xhat = (row[j] - mean) / sigma;
        const want = xhat * gamma[j] + beta[j];
        const g = Math.abs(gamma[j]);
        const tol =
          2 *
          (g * ((1 + Math.abs(xhat)) * (dm / sigma) + (N + 8) * U * Math.abs(xhat)) +
            4 * U * (g * Math.abs(xhat) + Math.abs(beta[j])));
        return [got[m * N + j], want, tol];
      });
    }
  });
});

describe('tiled matmul (shared tiles, sync, dot)', () => {
  const [M, K, N] = [40, 33, 35];
  const r = rng(400);
  const a = uniformF32(r, M * K, -1, 1);
  const b = uniformF32(r, K * N, -1, 1);

  it('compiles one program per const combination', () => {
    const small = matmul.compile({ BM: 8, BN: 32, BK: 16 });
    const big = matmul.compile({ BM: 16, BN: 16, BK: 8 });
    expect(small.consts).toEqual({ BM: 8, BN: 32, BK: 16 });
    expect(matmul.compile().consts).toEqual(big.consts); // the first candidates are the default
    expect(small.program).not.toBe(big.program);
    expect(matmul.variants()).toHaveLength(8);
  });

  it.each([
    { BM: 16, BN: 16, BK: 8 },
    { BM: 8, BN: 32, BK: 16 },
  ])('40x33 @ 33x35 with %o', (consts) => {
    const c = poisoned(f32, [M, N]);
    matmul.interpret(
      { a: Tensor.fromArray(f32, [M, K], a), b: Tensor.fromArray(f32, [K, N], b), c },
      { consts },
    );
    const got = c.toArray();
    expectClose(M * N, (idx) => {
      const [i, j] = [Math.floor(idx / N), idx % N];
      let want = 0;
      let abs = 0;
      for (let k = 0; k < K; k++) {
        want += a[i * K + k] * b[k * N + j];
        abs += Math.abs(a[i * K + k] * b[k * N + j]);
      }
      // K products (one rounding each) summed in order into the accumulator (padded lanes add
      // exact zeros): within (K + 1) u sum|a b|.
      return [got[idx], want, (K + 1) * U * abs];
    });
  });
});

describe('quantized GEMV with f16 group scales', () => {
  const [N, K] = [21, 300]; // 8-row blocks; 128-wide K tiles, the last one 44 wide, mid-group
  it.each([
    { wt: u4, group: 32, zero: 8 },
    { wt: u4, group: 64, zero: 0 },
    { wt: i3, group: 64, zero: 0 },
    { wt: f4e2m1, group: 32, zero: 0 },
    { wt: f6e3m2, group: 64, zero: 0 },
  ])('$wt.name weights, group $group, zero point $zero', ({ wt, group, zero }) => {
    const r = rng(500 + wt.bits * 10 + group);
    const G = cdiv(K, group);
    const w = Tensor.zeros(wt, [N, K]);
    for (let i = 0; i < N * K; i++) w.setPattern(i, randomInt(r, 0, 2 ** wt.bits - 1)); // every encoding
    const s = Tensor.fromArray(
      f16,
      [N, G],
      uniformF32(r, N * G, 0.01, 0.2).map((v, i) => (i % 3 === 0 ? -v : v)),
    );
    const x = uniformF32(r, K, -1, 1);
    const y = poisoned(f32, [N]);
    gemv(wt, group, zero).interpret({ x: Tensor.fromArray(f32, [K], x), w, s, y });
    const [wv, sv, got] = [w.toArray(), s.toArray(), y.toArray()];
    expect(new Set(wv).size).toBe(2 ** wt.bits - (wt.kind === 'float' ? 1 : 0)); // +0 and -0 are one value
    expectClose(N, (n) => {
      let want = 0;
      let abs = 0;
      for (let k = 0; k < K; k++) {
        const term = (wv[n * K + k] - zero) * sv[n * G + Math.floor(k / group)] * x[k];
        want += term;
        abs += Math.abs(term);
      }
      // (w - zero) and the f16 scale are exact in f32; each term has 2 product roundings; each
      // lane adds ceil(K / 128) terms and the final sum adds 128 lanes.
      return [got[n], want, (cdiv(K, 128) + 128 + 2) * U * abs];
    });
  });
});

describe('3x3 convolution, zero padding 1 (NHWC, HWIO weights)', () => {
  const [H, W, C, CO] = [10, 9, 5, 7];
  it.each([1, 2])('stride %i', (S) => {
    const r = rng(600 + S);
    const x = uniformF32(r, H * W * C, -1, 1);
    const w = uniformF32(r, 9 * C * CO, -1, 1);
    const bias = uniformF32(r, CO, -1, 1);
    const [HO, WO] = [Math.floor((H - 1) / S) + 1, Math.floor((W - 1) / S) + 1]; // 10x9 and 5x5: edge tiles of 4x4
    const y = poisoned(f32, [HO, WO, CO]);
    conv2d3x3.interpret(
      {
        x: Tensor.fromArray(f32, [H, W, C], x),
        w: Tensor.fromArray(f32, [3, 3, C, CO], w),
        bias: Tensor.fromArray(f32, [CO], bias),
        y,
      },
      { consts: { S } },
    );
    const got = y.toArray();
    expectClose(HO * WO * CO, (idx) => {
      const [oh, ow, co] = [Math.floor(idx / (WO * CO)), Math.floor(idx / CO) % WO, idx % CO];
      let want = bias[co];
      let abs = Math.abs(bias[co]);
      for (let kh = 0; kh < 3; kh++) {
        for (let kw = 0; kw < 3; kw++) {
          const [ih, iw] = [oh * S + kh - 1, ow * S + kw - 1];
          if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
          for (let c = 0; c < C; c++) {
            const term = x[(ih * W + iw) * C + c] * w[((kh * 3 + kw) * C + c) * CO + co];
            want += term;
            abs += Math.abs(term);
          }
        }
      }
      // The window selection is exact (it adds zeros); the bias plus at most 9 C rounded products
      // are accumulated in order (padding adds exact zeros): within (9 C + 1) u sum|terms|.
      return [got[idx], want, (9 * C + 1) * U * abs];
    });
  });
});

describe('global average pool', () => {
  it('6 channels of 10x13 in [4, 4, 8] tiles', () => {
    const [C, H, W] = [6, 10, 13];
    const r = rng(700);
    const x = uniformF32(r, C * H * W, -1, 3);
    const y = poisoned(f32, [C]);
    globalAvgPool.interpret({ x: Tensor.fromArray(f32, [C, H, W], x), y });
    const got = y.toArray();
    expectClose(C, (c) => {
      const plane = x.slice(c * H * W, (c + 1) * H * W);
      const want = plane.reduce((p, v) => p + v, 0) / (H * W);
      const abs = plane.reduce((p, v) => p + Math.abs(v), 0) / (H * W);
      // H W terms summed lane-wise, then over the lanes (padding adds exact zeros), then one
      // division: within (H W + 1) u mean|x|.
      return [got[c], want, (H * W + 1) * U * abs];
    });
  });
});

describe('sum of a long vector', () => {
  const N = 100_000; // 97 full 1024-wide tiles and one of 672

  it('f32, dyadic inputs: every partial sum is exact, so the result is', () => {
    const r = rng(800);
    // Multiples of 2^-6 in [-1, 1]: any partial sum is a multiple of 2^-6 below 2^17 in magnitude,
    // which fits f32's 24-bit significand, so no addition rounds, in any order.
    const x = Array.from({ length: N }, () => randomInt(r, -64, 64) / 64);
    const y = poisoned(f32, [1]);
    sumAll(f32, f32).interpret({ x: Tensor.fromArray(f32, [N], x), y });
    expect(y.get(0)).toBe(x.reduce((p, v) => p + v, 0));
  });

  it('f32, general inputs', () => {
    const r = rng(803);
    const x = uniformF32(r, N, 0, 1).map((v, i) => (i % 4 === 0 ? -v : v)); // mostly positive
    const y = poisoned(f32, [1]);
    sumAll(f32, f32).interpret({ x: Tensor.fromArray(f32, [N], x), y });
    const want = x.reduce((p, v) => p + v, 0);
    const abs = x.reduce((p, v) => p + Math.abs(v), 0);
    // Each lane adds ceil(N / 1024) terms, then the 1024 lanes are added: a summation depth of
    // ceil(N / 1024) + 1024, so within that times u sum|x|.
    expectClose(1, () => [y.get(0), want, (cdiv(N, 1024) + 1024) * U * abs]);
  });

  it('f16 input, f32 accumulator', () => {
    const r = rng(801);
    const x = Tensor.fromArray(f16, [N], uniformF32(r, N, 0, 4)); // all positive: the sum grows
    const xv = x.toArray();
    const y = poisoned(f32, [1]);
    sumAll(f16, f32).interpret({ x, y });
    const want = xv.reduce((p, v) => p + v, 0);
    expectClose(1, () => [y.get(0), want, (cdiv(N, 1024) + 1024) * U * want]); // f16 -> f32 is exact
  });

  it('i32: exact, wrapping', () => {
    const r = rng(802);
    const x = Array.from({ length: N }, () => randomInt(r, -(2 ** 31), 2 ** 31 - 1));
    const y = poisoned(i32, [1]);
    sumAll(i32, i32).interpret({ x: Tensor.fromArray(i32, [N], x), y });
    const exact = x.reduce((p, v) => p + v, 0); // |exact| < 2^48: a safe integer
    expect(y.get(0)).toBe(exact | 0); // the i32 sum wraps modulo 2^32 whatever the order
  });
});
