// Exhaustive decode / round-trip tests of every float format with <= 16 bits, and a sample of f32.
// The expected values come from test/helpers/float-ref.ts (the formula of docs/dtypes.md), which is
// itself cross-checked here against hand-written tables and against the platform's Float32Array.
import { describe, expect, it } from 'vitest';
import { decode, encode, type FloatDType } from '../dsl/dtype.js';
import { dtypeNamed } from './helpers/dtypes.js';
import {
  ALL_FLOAT_SPECS,
  BF16_SPEC,
  F16_SPEC,
  F32_SPEC,
  type FloatSpec,
  floatRef,
  hex,
  SMALL_FLOAT_SPECS,
  show,
} from './helpers/float-ref.js';
import { randomU32, rng } from './helpers/random.js';

const same = (a: number, b: number): boolean => Object.is(a, b);

describe('float decode: hand-written values (checks the reference formula too)', () => {
  const cases: [string, number, number][] = [
    // f4e2m1 (OCP FP4): all positive values
    ...[0, 0.5, 1, 1.5, 2, 3, 4, 6].map((v, p): [string, number, number] => ['f4e2m1', p, v]),
    ...[-0, -0.5, -1, -1.5, -2, -3, -4, -6].map((v, p): [string, number, number] => ['f4e2m1', 8 + p, v]),
    ['f2e1m0', 0, 0],
    ['f2e1m0', 1, 2],
    ['f2e1m0', 2, -0],
    ['f2e1m0', 3, -2],
    ['f3e1m1', 1, 1],
    ['f3e1m1', 2, 2],
    ['f3e1m1', 3, 3],
    ['f3e1m1', 7, -3],
    ['f3e2m0', 1, 1],
    ['f3e2m0', 2, 2],
    ['f3e2m0', 3, 4],
    ['f6e2m3', 0x01, 0.125],
    ['f6e2m3', 0x08, 1],
    ['f6e2m3', 0x1f, 7.5],
    ['f6e2m3', 0x3f, -7.5],
    ['f6e3m2', 0x01, 0.0625],
    ['f6e3m2', 0x0c, 1],
    ['f6e3m2', 0x1f, 28],
    ['f8e4m3', 0x01, 2 ** -9],
    ['f8e4m3', 0x08, 2 ** -6],
    ['f8e4m3', 0x38, 1],
    ['f8e4m3', 0x78, 256],
    ['f8e4m3', 0x7e, 448],
    ['f8e4m3', 0x7f, Number.NaN],
    ['f8e4m3', 0xfe, -448],
    ['f8e4m3', 0xff, Number.NaN],
    ['f8e4m3', 0x80, -0],
    ['f8e5m2', 0x01, 2 ** -16],
    ['f8e5m2', 0x3c, 1],
    ['f8e5m2', 0x7b, 57344],
    ['f8e5m2', 0x7c, Number.POSITIVE_INFINITY],
    ['f8e5m2', 0xfc, Number.NEGATIVE_INFINITY],
    ['f8e5m2', 0x7d, Number.NaN],
    ['f8e5m2', 0x7e, Number.NaN],
    ['f8e5m2', 0xff, Number.NaN],
    ['f8e7m0', 0x7f, 2 ** 64],
    ['f8e7m0', 0x01, 2 ** -62],
    ['f8e1m6', 0x7f, 3.96875],
    ['f16', 0x0000, 0],
    ['f16', 0x8000, -0],
    ['f16', 0x0001, 2 ** -24],
    ['f16', 0x03ff, 2 ** -14 - 2 ** -24],
    ['f16', 0x0400, 2 ** -14],
    ['f16', 0x3c00, 1],
    ['f16', 0x3555, 0.333251953125],
    ['f16', 0xc000, -2],
    ['f16', 0x7bff, 65504],
    ['f16', 0x7c00, Number.POSITIVE_INFINITY],
    ['f16', 0xfc00, Number.NEGATIVE_INFINITY],
    ['f16', 0x7e00, Number.NaN],
    ['f16', 0x7c01, Number.NaN],
    ['bf16', 0x3f80, 1],
    ['bf16', 0x4049, 3.140625],
    ['bf16', 0x0001, 2 ** -133],
    ['bf16', 0x7f7f, 3.3895313892515355e38],
    ['bf16', 0xff80, Number.NEGATIVE_INFINITY],
    ['bf16', 0x7fc0, Number.NaN],
    ['f32', 0x3f800000, 1],
    ['f32', 0xbf800000, -1],
    ['f32', 0x80000000, -0],
    ['f32', 0x00000001, 2 ** -149],
    ['f32', 0x7f7fffff, 3.4028234663852886e38],
    ['f32', 0x7f800000, Number.POSITIVE_INFINITY],
    ['f32', 0xff800000, Number.NEGATIVE_INFINITY],
    ['f32', 0x7fc00000, Number.NaN],
    ['f32', 0xffffffff, Number.NaN],
  ];
  const specs = new Map(ALL_FLOAT_SPECS.map((s) => [s.name, s]));

  it.each(cases)('%s decode(%d) = %d', (name, p, v) => {
    expect(floatRef(specs.get(name)!).decode(p)).toBe(v); // reference formula
    expect(decode(dtypeNamed(name), p)).toBe(v); // implementation (toBe is Object.is: -0 and NaN checked)
  });
});

describe('reference formula agrees with the platform float32 decoding', () => {
  it('on 200k random f32 bit patterns', () => {
    const ref = floatRef(F32_SPEC);
    const f = new Float32Array(1);
    const u = new Uint32Array(f.buffer);
    const r = rng(0x5eed01);
    for (let i = 0; i < 200_000; i++) {
      const p = randomU32(r);
      u[0] = p;
      const v = f[0];
      const d = ref.decode(p);
      if (!(same(v, d) || (Number.isNaN(v) && Number.isNaN(d)))) {
        expect.fail(`pattern ${hex(p)}: reference ${show(d)} vs Float32Array ${show(v)}`);
      }
    }
  });
});

function checkExhaustive(spec: FloatSpec): void {
  const d = dtypeNamed(spec.name);
  const ref = floatRef(spec);
  const n = 2 ** ref.bits;
  const decodeErrors: string[] = [];
  const roundTripErrors: string[] = [];
  let nans = 0;
  for (let p = 0; p < n; p++) {
    const want = ref.decode(p);
    const got = decode(d, p);
    if (!same(got, want)) decodeErrors.push(`decode(${hex(p)}) = ${show(got)}, want ${show(want)}`);
    if (Number.isNaN(want)) {
      nans++;
      continue;
    }
    const back = encode(d, want);
    if (back !== p) roundTripErrors.push(`encode(decode(${hex(p)}) = ${show(want)}) = ${hex(back)}`);
    if (decodeErrors.length > 10 || roundTripErrors.length > 10) break;
  }
  expect(decodeErrors).toEqual([]);
  expect(roundTripErrors).toEqual([]);
  // Sanity of the NaN count per rule (catches a wrong rule in the reference too).
  const wantNans = spec.rule === 'ieee' ? 2 * (2 ** spec.M - 1) : spec.rule === 'fn' ? 2 : 0;
  expect(nans).toBe(wantNans);
}

describe('exhaustive: every bit pattern of every small float', () => {
  it.each(SMALL_FLOAT_SPECS.map((s) => [s.name, s] as const))(
    '%s: decode(p) = formula; encode(decode(p)) = p for non-NaN p',
    (_name, spec) => {
      checkExhaustive(spec);
    },
  );
});

describe('exhaustive: every bit pattern of f16 and bf16', () => {
  it.each([F16_SPEC, BF16_SPEC].map((s) => [s.name, s] as const))(
    '%s: decode(p) = formula; encode(decode(p)) = p for non-NaN p',
    (_name, spec) => {
      checkExhaustive(spec);
    },
  );
});

describe('f32 decode and round trip on a sample', () => {
  it('selected and 200k random patterns', () => {
    const d = dtypeNamed('f32');
    const ref = floatRef(F32_SPEC);
    const r = rng(0xf32f32);
    const patterns: number[] = [
      0, 1, 2, 0x007fffff, 0x00800000, 0x00800001, 0x3f7fffff, 0x3f800000, 0x3f800001, 0x7f7ffffe, 0x7f7fffff,
      0x7f800000, 0x7f800001, 0x7fc00000, 0x7fffffff,
    ];
    for (const p of [...patterns]) patterns.push(p + 0x80000000);
    for (let i = 0; i < 200_000; i++) patterns.push(randomU32(r));
    const errors: string[] = [];
    for (const p of patterns) {
      const want = ref.decode(p);
      const got = decode(d, p);
      if (!same(got, want)) errors.push(`decode(${hex(p)}) = ${show(got)}, want ${show(want)}`);
      if (!Number.isNaN(want)) {
        const back = encode(d, want);
        if (back !== p) errors.push(`encode(decode(${hex(p)})) = ${hex(back)}`);
      }
      if (errors.length > 10) break;
    }
    expect(errors).toEqual([]);
  });
});

describe('every float dtype decodes its own extremes', () => {
  it.each(ALL_FLOAT_SPECS.map((s) => [s.name, s] as const))('%s', (_name, spec) => {
    const d = dtypeNamed(spec.name) as FloatDType;
    const ref = floatRef(spec);
    expect(decode(d, ref.maxPos)).toBe(d.maxFinite);
    expect(decode(d, ref.maxPos + ref.signBit)).toBe(-d.maxFinite);
    expect(decode(d, 1)).toBe(d.minSubnormal);
    expect(decode(d, 0)).toBe(0);
    expect(decode(d, ref.signBit)).toBe(-0);
  });
});
