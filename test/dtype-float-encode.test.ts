// encode() of every float format against a brute-force nearest-value search (test/helpers/float-ref.ts):
// nearest finite value, ties to the pattern with an even lowest bit, then the format's overflow rule.
import { describe, expect, it } from 'vitest';
import { decode, encode, roundToDType } from '../dsl/dtype.js';
import { dtypeNamed } from './helpers/dtypes.js';
import {
  ALL_FLOAT_SPECS,
  BF16_SPEC,
  F16_SPEC,
  F32_SPEC,
  type FloatRef,
  type FloatSpec,
  floatRef,
  hex,
  nextDown,
  nextUp,
  SMALL_FLOAT_SPECS,
  show,
} from './helpers/float-ref.js';
import { randomInt, randomU32, rng } from './helpers/random.js';

const specByName = new Map(ALL_FLOAT_SPECS.map((s) => [s.name, s]));
const refOf = (name: string): FloatRef => floatRef(specByName.get(name)!);

const SAMPLES_PER_FORMAT = 100_000;

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** Region counters, so the test can assert every region was actually exercised. */
interface Regions {
  ties: number;
  nearTies: number;
  overflow: number;
  tiny: number;
  inRange: number;
}

/**
 * Deterministic mix of inputs covering every region of the format: random f32 bit patterns, uniform
 * values over (slightly beyond) the range, log-uniform magnitudes, exact midpoints (ties), float64
 * neighbours of midpoints, representable values, the overflow boundary and beyond, the subnormal range
 * and below, plus fixed specials (±0, ±Inf, NaN, ...).
 */
function samples(ref: FloatRef, seed: number, n: number, regions: Regions): Float64Array {
  const r = rng(seed);
  const out = new Float64Array(n);
  const sgn = (a: number): number => (r() < 0.5 ? -a : a);
  const specials = [
    0,
    -0,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    Number.NaN,
    1,
    -1,
    ref.max,
    -ref.max,
    nextUp(ref.max),
    -nextUp(ref.max),
    ref.overflowThreshold,
    -ref.overflowThreshold,
    nextDown(ref.overflowThreshold),
    -nextDown(ref.overflowThreshold),
    ref.minPos,
    -ref.minPos,
    ref.minPos / 2,
    -ref.minPos / 2,
    nextUp(ref.minPos / 2),
    -nextUp(ref.minPos / 2),
    nextDown(ref.minPos / 2),
    -nextDown(ref.minPos / 2),
    Number.MIN_VALUE,
    -Number.MIN_VALUE,
    Number.MAX_VALUE,
    -Number.MAX_VALUE,
  ];
  let i = 0;
  for (; i < specials.length; i++) out[i] = specials[i];
  const lgMin = Math.log2(ref.minPos) - 4;
  const lgMax = Math.log2(ref.max) + 3;
  const randomMidpoint = (): number => {
    const k = randomInt(r, 0, ref.maxPos - 1);
    return (ref.valueAt(k) + ref.valueAt(k + 1)) / 2;
  };
  for (; i < n; i++) {
    let x: number;
    switch (i % 8) {
      case 0: // random f32 bit pattern (NaN, Inf, huge and tiny included)
        u32buf[0] = randomU32(r);
        x = f32buf[0];
        break;
      case 1: // uniform over [-1.25 max, 1.25 max]
        x = (r() * 2 - 1) * 1.25 * ref.max;
        break;
      case 2: // log-uniform magnitude from below the subnormals to beyond max
        x = sgn(2 ** (lgMin + r() * (lgMax - lgMin)));
        break;
      case 3: // exact midpoint of two adjacent values
        x = sgn(randomMidpoint());
        regions.ties++;
        break;
      case 4: {
        // just above / below a midpoint
        const m = randomMidpoint();
        const c = randomInt(r, 0, 3);
        x =
          c === 0
            ? nextUp(m)
            : c === 1
              ? nextDown(m)
              : m * (1 + (c === 2 ? 1 : -1) * 2 ** -randomInt(r, 20, 45));
        x = sgn(x);
        regions.nearTies++;
        break;
      }
      case 5: // representable value
        x = sgn(ref.valueAt(randomInt(r, 0, ref.maxPos)));
        break;
      case 6: {
        // overflow boundary and beyond
        const t = ref.overflowThreshold;
        const c = randomInt(r, 0, 5);
        if (c === 0) x = t;
        else if (c === 1) x = nextDown(t);
        else if (c === 2) x = nextUp(t);
        else if (c === 3) x = ref.max + r() * (t - ref.max) * 2;
        else if (c === 4) x = ref.max * (1 + r() * 3);
        else x = ref.max * 2 ** randomInt(r, 1, 900);
        x = sgn(Math.min(x, Number.MAX_VALUE));
        regions.overflow++;
        break;
      }
      default: {
        // tiny: around and below the smallest subnormal
        const c = randomInt(r, 0, 2);
        if (c === 0) x = r() * 2 * ref.minPos;
        else if (c === 1) x = ref.minPos * 2 ** -randomInt(r, 1, 1000);
        else x = r() * 16 * ref.minPos;
        x = sgn(x);
        regions.tiny++;
        break;
      }
    }
    out[i] = x;
  }
  for (const x of out) if (Math.abs(x) > 0 && Math.abs(x) < ref.max) regions.inRange++;
  return out;
}

function checkEncode(spec: FloatSpec, seed: number, n: number): void {
  const d = dtypeNamed(spec.name);
  const ref = floatRef(spec);
  const regions: Regions = { ties: 0, nearTies: 0, overflow: 0, tiny: 0, inRange: 0 };
  const xs = samples(ref, seed, n, regions);
  expect(xs.length).toBeGreaterThanOrEqual(100_000);
  expect(regions.ties).toBeGreaterThan(n / 10);
  expect(regions.nearTies).toBeGreaterThan(n / 10);
  expect(regions.overflow).toBeGreaterThan(n / 10);
  expect(regions.tiny).toBeGreaterThan(n / 10);
  expect(regions.inRange).toBeGreaterThan(n / 2);
  const errors: string[] = [];
  for (const x of xs) {
    const want = ref.encode(x);
    const got = encode(d, x);
    if (got !== want) {
      errors.push(`encode(${show(x)}) = ${hex(got)}, want ${hex(want)} (${show(ref.decode(want))})`);
      if (errors.length >= 10) break;
    }
  }
  expect(errors).toEqual([]);
}

describe('encode vs brute-force nearest-value search (>= 100k values per format)', () => {
  it.each(SMALL_FLOAT_SPECS.map((s, k) => [s.name, s, k] as const))('%s', (_name, spec, k) => {
    checkEncode(spec, 0x1000 + k, SAMPLES_PER_FORMAT);
  });
  it.each([F16_SPEC, BF16_SPEC, F32_SPEC].map((s, k) => [s.name, s, k] as const))('%s', (_name, spec, k) => {
    checkEncode(spec, 0x2000 + k, SAMPLES_PER_FORMAT);
  });
});

describe('exhaustive ties and near-ties for every format with <= 16 bits', () => {
  // For each pair of adjacent positive finite values (and their negatives): the exact midpoint goes to
  // the pattern with the even lowest bit; the float64 neighbours of the midpoint go to the nearer value.
  it.each([...SMALL_FLOAT_SPECS, F16_SPEC, BF16_SPEC].map((s) => [s.name, s] as const))(
    '%s',
    (_name, spec) => {
      const d = dtypeNamed(spec.name);
      const ref = floatRef(spec);
      const errors: string[] = [];
      for (let k = 0; k < ref.maxPos && errors.length < 10; k++) {
        const lo = ref.valueAt(k);
        const hi = ref.valueAt(k + 1);
        const mid = (lo + hi) / 2;
        const even = k % 2 === 0 ? k : k + 1;
        for (const s of [0, ref.signBit]) {
          const neg = s !== 0;
          const checks: [number, number][] = [
            [mid, even],
            [nextUp(mid), k + 1],
            [nextDown(mid), k],
            [lo, k],
          ];
          for (const [x, want] of checks) {
            const got = encode(d, neg ? -x : x);
            if (got !== s + want)
              errors.push(`encode(${show(neg ? -x : x)}) = ${hex(got)}, want ${hex(s + want)}`);
          }
        }
      }
      expect(errors).toEqual([]);
    },
  );
});

describe('encode: hand-written cases', () => {
  const cases: [string, number, number][] = [
    // NaN per rule
    ['f32', Number.NaN, 0x7fc00000],
    ['f16', Number.NaN, 0x7e00],
    ['bf16', Number.NaN, 0x7fc0],
    ['f8e5m2', Number.NaN, 0x7e],
    ['f8e4m3', Number.NaN, 0x7f],
    ['f4e2m1', Number.NaN, 0x0],
    ['f6e3m2', Number.NaN, 0x0],
    ['f2e1m0', Number.NaN, 0x0],
    // infinities
    ['f32', Number.POSITIVE_INFINITY, 0x7f800000],
    ['f32', Number.NEGATIVE_INFINITY, 0xff800000],
    ['f16', Number.POSITIVE_INFINITY, 0x7c00],
    ['bf16', Number.NEGATIVE_INFINITY, 0xff80],
    ['f8e5m2', Number.NEGATIVE_INFINITY, 0xfc],
    ['f8e4m3', Number.POSITIVE_INFINITY, 0x7e],
    ['f8e4m3', Number.NEGATIVE_INFINITY, 0xfe],
    ['f4e2m1', Number.POSITIVE_INFINITY, 0x7],
    ['f4e2m1', Number.NEGATIVE_INFINITY, 0xf],
    ['f6e2m3', Number.NEGATIVE_INFINITY, 0x3f],
    // unsigned result for negative values
    ['f32', -1, 0xbf800000],
    ['f32', -0, 0x80000000],
    ['f16', -2, 0xc000],
    // ties to even
    ['f4e2m1', 0.25, 0x0],
    ['f4e2m1', -0.25, 0x8],
    ['f4e2m1', 0.75, 0x2],
    ['f4e2m1', 1.25, 0x2],
    ['f4e2m1', 1.75, 0x4],
    ['f4e2m1', 2.5, 0x4],
    ['f4e2m1', 3.5, 0x6],
    ['f4e2m1', 5, 0x6],
    ['f2e1m0', 1, 0x0],
    ['f2e1m0', nextUp(1), 0x1],
    ['f3e2m0', 0.5, 0x0],
    ['f3e2m0', 1.5, 0x2],
    ['f3e2m0', 3, 0x2],
    ['f16', 1 + 2 ** -11, 0x3c00],
    ['f16', 1 + 3 * 2 ** -11, 0x3c02],
    ['f32', 2 ** -150, 0x0],
    ['f32', nextUp(2 ** -150), 0x1],
    ['f32', 3 * 2 ** -150, 0x2],
    ['f32', 1e-46, 0x0],
    ['f32', -1e-46, 0x80000000],
    // overflow
    ['f4e2m1', 7, 0x7],
    ['f4e2m1', 1e30, 0x7],
    ['f4e2m1', -100, 0xf],
    ['f6e2m3', 8, 0x1f],
    ['f6e3m2', 31, 0x1f],
    ['f8e4m3', 464, 0x7e],
    ['f8e4m3', 1e9, 0x7e],
    ['f8e4m3', -500, 0xfe],
    ['f8e5m2', 61439.99, 0x7b],
    ['f8e5m2', 61440, 0x7c],
    ['f8e5m2', -61440, 0xfc],
    ['f16', 65519.99, 0x7bff],
    ['f16', 65520, 0x7c00],
    ['bf16', 2 ** 128 - 2 ** 119, 0x7f80],
    ['bf16', nextDown(2 ** 128 - 2 ** 119), 0x7f7f],
    ['f32', 2 ** 128 - 2 ** 103, 0x7f800000],
    ['f32', nextDown(2 ** 128 - 2 ** 103), 0x7f7fffff],
    ['f32', 1e300, 0x7f800000],
    // no double rounding through f32: these are just above a tie, but round to the tie in f32
    ['bf16', 1 + 2 ** -8 + 2 ** -30, 0x3f81],
    ['bf16', 1 + 2 ** -8 - 2 ** -30, 0x3f80],
    ['f16', 1 + 2 ** -11 + 2 ** -40, 0x3c01],
    ['f8e4m3', 1 + 2 ** -4 + 2 ** -40, 0x39],
    ['f8e5m2', 1 + 2 ** -3 + 2 ** -40, 0x3d],
    ['f4e2m1', 2.5 + 2 ** -40, 0x5],
  ];
  it.each(cases)('%s encode(%d) = %d', (name, x, p) => {
    expect(refOf(name).encode(x)).toBe(p); // the reference agrees
    expect(encode(dtypeNamed(name), x)).toBe(p);
  });
});

describe('roundToDType = decode(encode(x)) on floats', () => {
  it('hand-written', () => {
    expect(roundToDType(dtypeNamed('f4e2m1'), 2.5)).toBe(2);
    expect(roundToDType(dtypeNamed('f4e2m1'), 5)).toBe(4);
    expect(roundToDType(dtypeNamed('f4e2m1'), 100)).toBe(6);
    expect(roundToDType(dtypeNamed('f4e2m1'), -100)).toBe(-6);
    expect(roundToDType(dtypeNamed('f4e2m1'), Number.NaN)).toBe(0);
    expect(roundToDType(dtypeNamed('f4e2m1'), -0.1)).toBe(-0);
    expect(roundToDType(dtypeNamed('f8e4m3'), Number.POSITIVE_INFINITY)).toBe(448);
    expect(roundToDType(dtypeNamed('f8e4m3'), Number.NaN)).toBeNaN();
    expect(roundToDType(dtypeNamed('f8e5m2'), 61440)).toBe(Number.POSITIVE_INFINITY);
    expect(roundToDType(dtypeNamed('f8e5m2'), 61439)).toBe(57344);
    expect(roundToDType(dtypeNamed('f16'), 65520)).toBe(Number.POSITIVE_INFINITY);
    expect(roundToDType(dtypeNamed('f16'), -1e-10)).toBe(-0);
    expect(roundToDType(dtypeNamed('f16'), 0.1)).toBe(0.0999755859375);
    expect(roundToDType(dtypeNamed('bf16'), 0.1)).toBe(0.10009765625);
    expect(roundToDType(dtypeNamed('f32'), 1 / 3)).toBe(Math.fround(1 / 3));
    expect(roundToDType(dtypeNamed('f32'), 16777217)).toBe(16777216);
    expect(roundToDType(dtypeNamed('f32'), Number.NaN)).toBeNaN();
  });

  it.each(ALL_FLOAT_SPECS.map((s, k) => [s.name, s, k] as const))('%s: 5k samples', (_name, spec, k) => {
    const d = dtypeNamed(spec.name);
    const ref = floatRef(spec);
    const regions: Regions = { ties: 0, nearTies: 0, overflow: 0, tiny: 0, inRange: 0 };
    const errors: string[] = [];
    for (const x of samples(ref, 0x3000 + k, 5000, regions)) {
      const want = ref.round(x);
      const got = roundToDType(d, x);
      if (!Object.is(got, want) || !Object.is(got, decode(d, encode(d, x)))) {
        errors.push(`roundToDType(${show(x)}) = ${show(got)}, want ${show(want)}`);
        if (errors.length >= 10) break;
      }
    }
    expect(errors).toEqual([]);
  });
});
