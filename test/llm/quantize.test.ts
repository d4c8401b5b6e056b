// The quantizer, dequantizer and format validation of llm/ (docs/llm-formats.md, "Quantizer").
import { describe, expect, it } from 'vitest';
import {
  ALL_DTYPES,
  bool,
  decode,
  dtypeByName,
  type FloatDType,
  f16,
  f32,
  type IntDType,
  i3,
  i4,
  u4,
  u8,
  u16,
} from '../../dsl/dtype.js';
import { Tensor } from '../../dsl/tensor.js';
import { dequantize, quantizationError } from '../../llm/dequantize.js';
import { quantize } from '../../llm/quantize.js';
import {
  firstRows,
  formatName,
  type QuantFormat,
  type QuantizedMatrix,
  type QuantWeightDType,
  validateFormat,
  validateQuantizedMatrix,
} from '../../llm/quantized-matrix.js';
import { rng } from '../helpers/random.js';

function dt(name: string): QuantWeightDType {
  const d = dtypeByName(name);
  if (!d || d.kind === 'bool') throw new Error(`no weight dtype ${name}`);
  return d;
}

const INT_TYPES = [1, 2, 3, 4, 5, 6, 7, 8].flatMap((b) => [dt(`i${b}`), dt(`u${b}`)]) as IntDType[];
const FLOAT_TYPES = ['f4e2m1', 'f5e2m2', 'f6e3m2', 'f6e2m3', 'f8e4m3', 'f8e5m2'].map(dt) as FloatDType[];
/** Every other small float of at most 8 bits (any fEeMm is a weight type): one group size each. */
const OTHER_FLOAT_TYPES = ALL_DTYPES.filter(
  (d): d is FloatDType => d.kind === 'float' && d.bits <= 8 && !FLOAT_TYPES.includes(d as FloatDType),
);
const N = 3;
const K = 200; // not a multiple of any group size below: every row ends in a partial group
const GROUPS = [32, 64, 128, K];

/** Roughly Gaussian weights with a few outliers, so ranges differ per group and clipping matters. */
function randomWeights(seed: number, n: number, k: number): Float32Array {
  const r = rng(seed);
  const w = new Float32Array(n * k);
  for (let i = 0; i < w.length; i++) {
    const g = r() + r() + r() + r() - 2;
    w[i] = r() < 0.02 ? g * 0.3 : g * 0.05;
  }
  return w;
}

/** Half the distance between neighbouring values of a float format around |v| (v within range). */
function halfUlp(d: FloatDType, v: number): number {
  const a = Math.abs(v);
  const emin = 1 - d.bias;
  const e = a === 0 ? emin : Math.max(emin, Math.floor(Math.log2(a)));
  return 2 ** (e - d.mantissaBits) / 2;
}

/**
 * Checks every element of dequantize(m) against the bound the quantizer promises, using the stored scale:
 * ints within half a step (signed ints: a full step for values beyond the last code on the short side),
 * 'min' within half a step plus the min's rounding, floats within half the format's spacing at x / scale.
 * The slack covers the single f32 rounding of the dequantized value. With `clipped` (the clip search),
 * a value beyond the chosen range may instead sit on the range's nearer end.
 */
function checkBound(m: QuantizedMatrix, w: Float32Array, deq: Float32Array, clipped: boolean): void {
  const { group, weight } = m.format;
  const groups = Math.ceil(m.k / group);
  // Decoded once: Tensor.get per element would dominate the test's time.
  const scales = m.scales.toArray();
  const zeros = m.zeros?.toArray();
  const mins = m.mins?.toArray();
  for (let r = 0; r < m.n; r++) {
    for (let c = 0; c < m.k; c++) {
      const g = Math.floor(c / group);
      const gi = r * groups + g;
      const s = Math.abs(scales[gi]);
      const x = w[r * m.k + c];
      let bound: number;
      if (weight.kind === 'float') bound = s * halfUlp(weight, x / s);
      else if (weight.signed) bound = Math.abs(x) <= weight.max * s ? s / 2 : s;
      else if (mins) {
        // lo of the group is the smallest x in it; the min is lo rounded to the scale dtype.
        let lo = Number.POSITIVE_INFINITY;
        for (let j = g * group; j < Math.min(m.k, (g + 1) * group); j++) lo = Math.min(lo, w[r * m.k + j]);
        bound = s / 2 + Math.abs(lo - mins[gi]);
      } else bound = s / 2;
      const y = deq[r * m.k + c];
      const err = Math.abs(x - y);
      const slack = 2 ** -23 * Math.abs(x) + 1e-30;
      if (clipped && err > bound + slack) {
        // The ends of the code range, in value terms.
        const sc = scales[gi];
        const z = zeros ? zeros[gi] : 0;
        const min = mins ? mins[gi] : 0;
        const ends =
          weight.kind === 'float'
            ? [-weight.maxFinite * sc, weight.maxFinite * sc]
            : [(weight.min - z) * sc + min, (weight.max - z) * sc + min];
        const lo = Math.min(...ends);
        const hi = Math.max(...ends);
        if ((x > hi && y === Math.fround(hi)) || (x < lo && y === Math.fround(lo))) continue;
      }
      if (!(err <= bound + slack)) {
        throw new Error(
          `${formatName(m.format)} [${r}, ${c}] (group ${g} of ${groups}): x ${x} -> ${deq[r * m.k + c]}, ` +
            `error ${err} > bound ${bound} (scale ${s})`,
        );
      }
    }
  }
}

/** Dequantization written out from the decoded tensors, independent of dequantize()'s table and loops. */
function referenceDequant(m: QuantizedMatrix): Float64Array {
  const out = new Float64Array(m.n * m.k);
  const groups = Math.ceil(m.k / m.format.group);
  const [q, scales, zeros, mins] = [m.weights, m.scales, m.zeros, m.mins].map((t) => t?.toArray());
  for (let r = 0; r < m.n; r++) {
    for (let c = 0; c < m.k; c++) {
      const gi = r * groups + Math.floor(c / m.format.group);
      const s = scales![gi];
      const x = q![r * m.k + c];
      out[r * m.k + c] = mins ? x * s + mins[gi] : (x - (zeros ? zeros[gi] : 0)) * s;
    }
  }
  return out;
}

describe('quantize / dequantize: every weight type x group size', () => {
  const formats: QuantFormat[] = [];
  for (const weight of [...INT_TYPES, ...FLOAT_TYPES]) {
    for (const group of GROUPS) formats.push({ weight, group, scale: group === 64 ? 'f32' : 'f16' });
  }
  for (const b of [1, 2, 3, 4, 8])
    formats.push({ weight: dt(`u${b}`), group: 32, scale: 'f16', offset: 'min' });
  OTHER_FLOAT_TYPES.forEach((weight, i) => {
    formats.push({ weight, group: GROUPS[i % GROUPS.length]!, scale: i % 2 ? 'f16' : 'f32' });
  });

  it.each(formats.map((f) => [formatName(f), f] as const))('%s', (_, format) => {
    const w = randomWeights(formatName(format).length * 7919 + format.group, N, K);
    const rtn = quantize(w, N, K, format);
    const clip = quantize(w, N, K, format, { method: 'clip' });
    for (const { matrix, error } of [rtn, clip]) {
      validateQuantizedMatrix(matrix);
      expect(matrix.weights.shape).toEqual([N, K]);
      expect(matrix.scales.shape).toEqual([N, Math.ceil(K / format.group)]);
      const deq = dequantize(matrix);
      checkBound(matrix, w, deq, matrix === clip.matrix);
      const ref = referenceDequant(matrix);
      for (let i = 0; i < deq.length; i++) expect(deq[i]).toBe(Math.fround(ref[i]));
      expect(error).toEqual(quantizationError(w, deq));
      expect(error.rms).toBeGreaterThan(0); // random weights are never exactly representable
    }
    // The search starts from the RTN range and keeps a candidate only when it lowers the group's error.
    expect(clip.error.rms).toBeLessThanOrEqual(rtn.error.rms * (1 + 1e-12));
  });

  it('the clipping search lowers the error markedly where steps are coarse', () => {
    const w = randomWeights(42, 8, 512);
    for (const weight of [i3, dt('u2'), dt('f4e2m1')]) {
      const format: QuantFormat = { weight: weight as IntDType, group: 128, scale: 'f16' };
      const rtn = quantize(w, 8, 512, format).error.rms;
      const clip = quantize(w, 8, 512, format, { method: 'clip' }).error.rms;
      expect(clip, weight.name).toBeLessThan(rtn * 0.97);
    }
  });

  it('reports the error: relative error shrinks with every extra bit', () => {
    const w = randomWeights(7, 4, 256);
    let prev = Number.POSITIVE_INFINITY;
    for (let b = 2; b <= 8; b++) {
      const { error } = quantize(w, 4, 256, { weight: dt(`i${b}`), group: 64, scale: 'f32' });
      expect(error.relative).toBeLessThan(prev);
      expect(error.maxAbs).toBeGreaterThanOrEqual(error.rms);
      prev = error.relative;
    }
    expect(prev).toBeLessThan(0.01);
  });

  it('maps the largest-magnitude value of a signed group to the most negative code', () => {
    // Group [0.5, -0.25, 1, 0.75]: m = 1, scale = 1 / -8, so 1 -> -8, 0.75 -> -6, 0.5 -> -4, -0.25 -> 2.
    const { matrix } = quantize([0.5, -0.25, 1, 0.75], 1, 4, { weight: i4, group: 4, scale: 'f16' });
    expect(matrix.scales.get(0)).toBe(-0.125);
    expect(matrix.weights.toArray()).toEqual([-4, 2, -8, -6]);
    expect(Array.from(dequantize(matrix))).toEqual([0.5, -0.25, 1, 0.75]);
  });

  it('gives unsigned groups an integer zero point with 0 in range', () => {
    // [1, 2, 3, 4] with u4: range [0, 4], scale 4/15 rounded up to f32, zero 0.
    const { matrix } = quantize([1, 2, 3, 4, -3, 0, 3, 12], 1, 8, { weight: u4, group: 4, scale: 'f32' });
    expect(matrix.zeros!.get(0)).toBe(0);
    const s = matrix.scales.get(0);
    expect(s).toBeGreaterThanOrEqual(4 / 15);
    expect(s - 4 / 15).toBeLessThan(2 ** -25); // the next f32 up, not further
    expect(matrix.weights.toArray().slice(0, 4)).toEqual([4, 7, 11, 15]);
    // Second group [-3, 0, 3, 12]: scale 1 exactly, zero 3, codes x + 3.
    expect(matrix.scales.get(1)).toBe(1);
    expect(matrix.zeros!.get(1)).toBe(3);
    expect(matrix.weights.toArray().slice(4)).toEqual([0, 3, 6, 15]);
  });

  it('reproduces all-zero and constant groups exactly (signed, float and min formats)', () => {
    const w = [0, 0, 0, 0, 0.75, 0.75, 0.75, 0.75]; // 0.75 / 6 and 0.75 / -4 are exact f16 scales
    for (const weight of [i3, dt('f4e2m1')]) {
      const { matrix } = quantize(w, 1, 8, { weight: weight as IntDType, group: 4, scale: 'f16' });
      expect(Array.from(dequantize(matrix)), weight.name).toEqual(w);
    }
    const { matrix } = quantize(w, 1, 8, { weight: u4, group: 4, scale: 'f16', offset: 'min' });
    expect(Array.from(dequantize(matrix))).toEqual(w);
  });
});

describe('dequantize', () => {
  it('computes (q - zero) * scale per group from hand-built tensors', () => {
    const m: QuantizedMatrix = {
      format: { weight: u4, group: 2, scale: 'f16' },
      n: 2,
      k: 3,
      weights: Tensor.fromArray(u4, [2, 3], [0, 15, 7, 3, 8, 1]),
      scales: Tensor.fromArray(f16, [2, 2], [0.5, -2, 0.25, 1]),
      zeros: Tensor.fromArray(u4, [2, 2], [8, 0, 4, 1]),
    };
    expect(Array.from(dequantize(m))).toEqual([-4, 3.5, -14, -0.25, 1, 0]);
  });

  it('computes q * scale + min for the min offset', () => {
    const m: QuantizedMatrix = {
      format: { weight: u4, group: 4, scale: 'f32', offset: 'min' },
      n: 1,
      k: 4,
      weights: Tensor.fromArray(u4, [1, 4], [0, 1, 2, 15]),
      scales: Tensor.fromArray(f32, [1, 1], [0.5]),
      mins: Tensor.fromArray(f32, [1, 1], [-1.25]),
    };
    expect(Array.from(dequantize(m))).toEqual([-1.25, -0.75, -0.25, 6.25]);
  });

  it('decodes small-float weights', () => {
    const f4 = dt('f4e2m1');
    const values = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -6, -0.5];
    const m: QuantizedMatrix = {
      format: { weight: f4 as FloatDType, group: 10, scale: 'f16' },
      n: 1,
      k: 10,
      weights: Tensor.fromArray(f4, [1, 10], values),
      scales: Tensor.fromArray(f16, [1, 1], [0.25]),
    };
    expect(Array.from(dequantize(m))).toEqual(values.map((v) => v * 0.25));
    expect(decode(f4, 7)).toBe(6);
  });
});

describe('firstRows', () => {
  it('gives the first rows of every tensor, dequantizing like the whole matrix', () => {
    const r = rng(41);
    const w = Float32Array.from({ length: 6 * 40 }, () => r() * 2 - 1);
    for (const format of [
      { weight: u4, group: 8, scale: 'f16' },
      { weight: i3, group: 8, scale: 'f32' },
      { weight: u4, group: 8, scale: 'f32', offset: 'min' },
    ] as QuantFormat[]) {
      const { matrix } = quantize(w, 6, 40, format);
      const top = firstRows(matrix, 4);
      validateQuantizedMatrix(top);
      expect(top.n).toBe(4);
      expect(Array.from(dequantize(top))).toEqual(Array.from(dequantize(matrix).subarray(0, 4 * 40)));
    }
  });

  it('names the count that fixes a slice ending mid-byte, and a count out of range', () => {
    const { matrix } = quantize(new Float32Array(3 * 5).fill(0.5), 3, 5, {
      weight: i3,
      group: 5,
      scale: 'f16',
    });
    expect(() => firstRows(matrix, 1)).toThrow(/end mid-byte; take a row count/);
    expect(() => firstRows(matrix, 0)).toThrow(/rows must be an integer in \[1, 3\]/);
    expect(() => firstRows(matrix, 4)).toThrow(/rows must be an integer/);
  });
});

describe('validation', () => {
  const ok: QuantFormat = { weight: u4, group: 32, scale: 'f16' };
  it.each<[QuantFormat, RegExp]>([
    [{ ...ok, weight: bool } as unknown as QuantFormat, /bool is not a quantized type; use u1 or i1/],
    [{ ...ok, weight: u16 }, /u16 has 16 bits; quantized weights have 1..8 bits/],
    [{ ...ok, weight: f16 }, /f16 has 16 bits/],
    [{ ...ok, weight: 'u4' } as unknown as QuantFormat, /weight must be a tilevm dtype/],
    [{ ...ok, group: 0 }, /group must be a positive integer/],
    [{ ...ok, group: 31.5 }, /group must be a positive integer/],
    [{ ...ok, scale: 'bf16' } as unknown as QuantFormat, /scale must be 'f16' or 'f32', got bf16/],
    [
      { ...ok, weight: i4, offset: 'zero' },
      /offset 'zero' applies to unsigned int weights only; i4 is symmetric/,
    ],
    [{ ...ok, weight: dt('f8e4m3'), offset: 'min' } as QuantFormat, /f8e4m3 is a float/],
    [{ ...ok, offset: 'max' } as unknown as QuantFormat, /offset must be 'zero' or 'min'/],
  ])('rejects %o', (format, message) => {
    expect(() => validateFormat(format)).toThrow(message);
    expect(() => quantize(new Float32Array(32), 1, 32, format)).toThrow(message);
  });

  it('rejects bad weights and options with the place named', () => {
    const w = new Float32Array(64).fill(0.5);
    expect(() => quantize(w, 2, 33, ok)).toThrow(/weights has 64 values but n \* k = 2 \* 33 = 66/);
    expect(() => quantize(w, 0, 64, ok)).toThrow(/n must be a positive integer/);
    w[37] = Number.NaN;
    expect(() => quantize(w, 2, 32, ok)).toThrow(/weights\[1, 5\] is NaN; quantized weights must be finite/);
    expect(() => quantize(new Float32Array(32), 1, 32, ok, { method: 'gptq' as 'rtn' })).toThrow(
      /method must be 'rtn' or 'clip'/,
    );
    expect(() => quantize(new Float32Array(32), 1, 32, ok, { minClip: 0 })).toThrow(/minClip/);
  });

  it('asks for f32 scales when a group needs a scale beyond f16', () => {
    const w = new Float32Array(32).fill(1e6);
    expect(() => quantize(w, 1, 32, { weight: dt('i2') as IntDType, group: 32, scale: 'f16' })).toThrow(
      /i2\/g32\/f16 row 0 group 0 needs a scale of 5\.000e\+5, beyond f16's largest value 65504; use scale 'f32'/,
    );
    expect(quantize(w, 1, 32, { weight: dt('i2') as IntDType, group: 32, scale: 'f32' }).error.maxAbs).toBe(
      0,
    );
  });

  it('checks a matrix against its format', () => {
    const { matrix } = quantize(randomWeights(1, 2, 64), 2, 64, ok);
    expect(() => validateQuantizedMatrix({ ...matrix, zeros: undefined })).toThrow(/zeros is missing/);
    expect(() => validateQuantizedMatrix({ ...matrix, k: 65 })).toThrow(/weights has shape \[2,64\]/);
    expect(() => validateQuantizedMatrix({ ...matrix, scales: Tensor.zeros(f32, [2, 2]) })).toThrow(
      /scales has dtype f32; the format needs f16/,
    );
    expect(() => validateQuantizedMatrix({ ...matrix, weights: Tensor.zeros(u8, [2, 64]) })).toThrow(
      /weights has dtype u8; the format needs u4/,
    );
    const signed = quantize(randomWeights(2, 2, 64), 2, 64, { ...ok, weight: i4 }).matrix;
    expect(() => validateQuantizedMatrix({ ...signed, zeros: matrix.zeros })).toThrow(
      /zeros given but i4\/g32\/f16 has no integer zero points/,
    );
  });
});
