// Registry, integer types, bool, castValue and roundToDType of dsl/dtype.ts (docs/dtypes.md).
// Float encode/decode are covered exhaustively in dtype-float-decode.test.ts / dtype-float-encode.test.ts.
import { describe, expect, it } from 'vitest';
import * as dtypes from '../dsl/dtype.js';
import {
  ALL_DTYPES,
  castValue,
  decode,
  dtypeByName,
  encode,
  type FloatDType,
  type IntDType,
  isBool,
  isFloat,
  isInt,
  roundToDType,
} from '../dsl/dtype.js';
import { dtypeNamed } from './helpers/dtypes.js';
import {
  ALL_FLOAT_SPECS,
  floatRef,
  hex,
  refIntDecode,
  refIntEncode,
  SMALL_FLOAT_SPECS,
  show,
} from './helpers/float-ref.js';
import { randomInt, randomU32, rng } from './helpers/random.js';

const INT_BITS = [1, 2, 3, 4, 5, 6, 7, 8, 16, 32];
const INT_NAMES = [...INT_BITS.map((k) => `i${k}`), ...INT_BITS.map((k) => `u${k}`)];
const FLOAT_NAMES = ALL_FLOAT_SPECS.map((s) => s.name);
const EXPECTED_NAMES = [...INT_NAMES, 'bool', ...FLOAT_NAMES];

const intSpec = (name: string): { bits: number; signed: boolean } => ({
  bits: Number(name.slice(1)),
  signed: name[0] === 'i',
});

describe('registry', () => {
  it('holds exactly the 52 documented dtypes, each once', () => {
    expect(SMALL_FLOAT_SPECS).toHaveLength(28);
    expect(EXPECTED_NAMES).toHaveLength(52);
    const names = ALL_DTYPES.map((d) => d.name);
    expect(new Set(names).size).toBe(names.length);
    expect([...names].sort()).toEqual([...EXPECTED_NAMES].sort());
    expect(new Set(ALL_DTYPES).size).toBe(ALL_DTYPES.length);
  });

  it('small float names run from f2e1m0 to f8e7m0 and include the OCP formats', () => {
    const small = SMALL_FLOAT_SPECS.map((s) => s.name);
    expect(small[0]).toBe('f2e1m0');
    expect(small).toContain('f8e7m0');
    for (const n of ['f4e2m1', 'f6e2m3', 'f6e3m2', 'f8e4m3', 'f8e5m2']) expect(small).toContain(n);
    for (const n of small) expect(dtypeByName(n)).toBeDefined();
  });

  it.each(EXPECTED_NAMES)('%s: dtypeByName and the named export return the registry object', (name) => {
    const d = dtypeByName(name);
    expect(d).toBeDefined();
    expect(d!.name).toBe(name);
    expect(ALL_DTYPES).toContain(d);
    expect((dtypes as unknown as Record<string, unknown>)[name]).toBe(d);
  });

  it('dtypeByName returns undefined for unknown names', () => {
    const unknown = [
      '',
      'f64',
      'i64',
      'u64',
      'i0',
      'u0',
      'i9',
      'u12',
      'i33',
      'f9e4m4',
      'f1e0m0',
      'f2e0m1',
      'f8e0m7',
      'f8e4m4',
      'f7e4m3',
      'F16',
      'f4E2M1',
      'bool ',
      'boolean',
      'float32',
      'f8e4m3fn',
      'toString',
      'constructor',
      '__proto__',
      'hasOwnProperty',
      'valueOf',
    ];
    for (const n of unknown) expect(dtypeByName(n), n).toBeUndefined();
  });

  it('isInt / isBool / isFloat partition the dtypes by kind', () => {
    for (const d of ALL_DTYPES) {
      expect([isInt(d), isBool(d), isFloat(d)].filter(Boolean)).toHaveLength(1);
      expect(isInt(d)).toBe(d.kind === 'int');
      expect(isBool(d)).toBe(d.kind === 'bool');
      expect(isFloat(d)).toBe(d.kind === 'float');
    }
    expect(ALL_DTYPES.filter(isInt)).toHaveLength(20);
    expect(ALL_DTYPES.filter(isBool)).toHaveLength(1);
    expect(ALL_DTYPES.filter(isFloat)).toHaveLength(31);
  });

  it('bool', () => {
    const b = dtypeNamed('bool');
    expect(b).toEqual({ kind: 'bool', name: 'bool', bits: 1 });
  });

  it.each(INT_NAMES)('%s: integer fields', (name) => {
    const { bits, signed } = intSpec(name);
    const d = dtypeNamed(name) as IntDType;
    expect(d.kind).toBe('int');
    expect(d.bits).toBe(bits);
    expect(d.signed).toBe(signed);
    expect(d.min).toBe(signed ? -(2 ** (bits - 1)) : 0);
    expect(d.max).toBe(signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1);
  });

  it('integer ranges spelled out', () => {
    const range = (n: string): [number, number] => [
      (dtypeNamed(n) as IntDType).min,
      (dtypeNamed(n) as IntDType).max,
    ];
    expect(range('i1')).toEqual([-1, 0]);
    expect(range('u1')).toEqual([0, 1]);
    expect(range('i4')).toEqual([-8, 7]);
    expect(range('u4')).toEqual([0, 15]);
    expect(range('i8')).toEqual([-128, 127]);
    expect(range('u16')).toEqual([0, 65535]);
    expect(range('i32')).toEqual([-2147483648, 2147483647]);
    expect(range('u32')).toEqual([0, 4294967295]);
  });

  it.each(ALL_FLOAT_SPECS.map((s) => [s.name, s] as const))('%s: float fields', (name, s) => {
    const d = dtypeNamed(name) as FloatDType;
    const bias = 2 ** (s.E - 1) - 1;
    expect(d.kind).toBe('float');
    expect(d.bits).toBe(1 + s.E + s.M);
    expect(d.exponentBits).toBe(s.E);
    expect(d.mantissaBits).toBe(s.M);
    expect(d.bias).toBe(bias);
    expect(d.rule).toBe(s.rule);
    const topField = 2 ** s.E - 1;
    const maxFinite =
      s.rule === 'ieee'
        ? 2 ** (topField - 1 - bias) * (2 - 2 ** -s.M)
        : s.rule === 'fn'
          ? 2 ** (topField - bias) * (2 - 2 * 2 ** -s.M)
          : 2 ** (topField - bias) * (2 - 2 ** -s.M);
    expect(d.maxFinite).toBe(maxFinite);
    // smallest positive value: 2^(1 - bias) * 2^-M (for M = 0 that is the smallest normal)
    expect(d.minSubnormal).toBe(2 ** (1 - bias - s.M));
    // the reference model agrees
    expect(floatRef(s).max).toBe(maxFinite);
    expect(floatRef(s).minPos).toBe(d.minSubnormal);
  });

  it('rules and maxima of the named formats', () => {
    const f = (n: string): FloatDType => dtypeNamed(n) as FloatDType;
    expect([f('f4e2m1').maxFinite, f('f4e2m1').rule]).toEqual([6, 'finite']);
    expect([f('f6e2m3').maxFinite, f('f6e2m3').rule]).toEqual([7.5, 'finite']);
    expect([f('f6e3m2').maxFinite, f('f6e3m2').rule]).toEqual([28, 'finite']);
    expect([f('f8e4m3').maxFinite, f('f8e4m3').rule]).toEqual([448, 'fn']);
    expect([f('f8e5m2').maxFinite, f('f8e5m2').rule]).toEqual([57344, 'ieee']);
    expect([f('f16').maxFinite, f('f16').rule]).toEqual([65504, 'ieee']);
    expect([f('bf16').maxFinite, f('bf16').rule]).toEqual([3.3895313892515355e38, 'ieee']);
    expect([f('f32').maxFinite, f('f32').rule]).toEqual([3.4028234663852886e38, 'ieee']);
    expect([f('f2e1m0').maxFinite, f('f2e1m0').bias]).toEqual([2, 0]);
    expect([f('f8e7m0').maxFinite, f('f8e7m0').bias]).toEqual([2 ** 64, 63]);
    expect(f('f16').minSubnormal).toBe(2 ** -24);
    expect(f('bf16').minSubnormal).toBe(2 ** -133);
    expect(f('f32').minSubnormal).toBe(2 ** -149);
    expect(f('f8e4m3').minSubnormal).toBe(2 ** -9);
    expect(f('f8e5m2').minSubnormal).toBe(2 ** -16);
    expect(f('f4e2m1').minSubnormal).toBe(0.5);
    expect([f('f16').bias, f('bf16').bias, f('f32').bias]).toEqual([15, 127, 127]);
    expect([f('bf16').exponentBits, f('bf16').mantissaBits, f('f16').mantissaBits]).toEqual([8, 7, 10]);
    for (const s of SMALL_FLOAT_SPECS) {
      if (s.name !== 'f8e4m3' && s.name !== 'f8e5m2') expect(f(s.name).rule).toBe('finite');
    }
  });
});

describe('integers: encode / decode', () => {
  const small = INT_NAMES.filter((n) => intSpec(n).bits <= 16);

  it.each(small)('%s: every pattern decodes to its value and round-trips', (name) => {
    const { bits, signed } = intSpec(name);
    const d = dtypeNamed(name);
    const errors: string[] = [];
    for (let p = 0; p < 2 ** bits && errors.length < 10; p++) {
      const want = refIntDecode(bits, signed, p);
      const got = decode(d, p);
      if (!Object.is(got, want)) errors.push(`decode(${hex(p)}) = ${show(got)}, want ${want}`);
      const back = encode(d, want);
      if (back !== p) errors.push(`encode(${want}) = ${hex(back)}, want ${hex(p)}`);
    }
    expect(errors).toEqual([]);
  });

  it.each(['i32', 'u32'])('%s: selected and random patterns decode and round-trip', (name) => {
    const { signed } = intSpec(name);
    const d = dtypeNamed(name);
    const r = rng(name === 'i32' ? 0x132 : 0x232);
    const ps = [0, 1, 2, 0x7ffffffe, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff, 0xdeadbeef];
    for (let i = 0; i < 50_000; i++) ps.push(randomU32(r));
    for (const p of ps) {
      const want = refIntDecode(32, signed, p);
      const got = decode(d, p);
      if (!Object.is(got, want)) expect.fail(`decode(${hex(p)}) = ${show(got)}, want ${want}`);
      const back = encode(d, want);
      if (back !== p) expect.fail(`encode(${want}) = ${hex(back)}, want ${hex(p)}`);
    }
  });

  it('spelled-out cases', () => {
    expect(decode(dtypeNamed('i1'), 1)).toBe(-1);
    expect(decode(dtypeNamed('i4'), 8)).toBe(-8);
    expect(decode(dtypeNamed('i4'), 0xf)).toBe(-1);
    expect(decode(dtypeNamed('u4'), 0xf)).toBe(15);
    expect(decode(dtypeNamed('i32'), 0x80000000)).toBe(-2147483648);
    expect(decode(dtypeNamed('i32'), 0xffffffff)).toBe(-1);
    expect(decode(dtypeNamed('u32'), 0xffffffff)).toBe(4294967295);
    expect(encode(dtypeNamed('i32'), -1)).toBe(0xffffffff);
    expect(encode(dtypeNamed('u32'), -1)).toBe(0xffffffff);
    expect(encode(dtypeNamed('i32'), 2 ** 31)).toBe(0x80000000);
    expect(encode(dtypeNamed('u32'), 2 ** 32)).toBe(0);
    expect(encode(dtypeNamed('u32'), 2 ** 32 + 5)).toBe(5);
    expect(encode(dtypeNamed('u4'), 16)).toBe(0);
    expect(encode(dtypeNamed('u4'), 17.9)).toBe(1);
    expect(encode(dtypeNamed('i4'), 8)).toBe(8);
    expect(encode(dtypeNamed('i4'), -9)).toBe(7);
    expect(encode(dtypeNamed('i8'), -1.9)).toBe(0xff);
    expect(encode(dtypeNamed('i8'), -0.9)).toBe(0);
    expect(encode(dtypeNamed('u8'), 255.99)).toBe(255);
    expect(encode(dtypeNamed('u8'), -0)).toBe(0);
    expect(encode(dtypeNamed('i1'), 1)).toBe(1);
    expect(encode(dtypeNamed('i1'), 2)).toBe(0);
    for (const n of INT_NAMES) {
      for (const x of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        expect(encode(dtypeNamed(n), x), `${n} ${x}`).toBe(0);
      }
    }
  });

  it.each(INT_NAMES)('%s: encode of 20k random and edge values = trunc then wrap', (name) => {
    const { bits } = intSpec(name);
    const d = dtypeNamed(name) as IntDType;
    const r = rng(0x1000 + INT_NAMES.indexOf(name));
    const xs: number[] = [
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      0,
      -0,
      0.5,
      -0.5,
      0.999999,
      -0.999999,
      d.min,
      d.max,
      d.min - 1,
      d.max + 1,
      d.min - 0.5,
      d.max + 0.5,
      2 ** 31,
      -(2 ** 31) - 1,
      2 ** 32,
      2 ** 32 + 3.5,
      -(2 ** 32) - 3.5,
      2 ** 53,
      2 ** 53 + 2,
      -(2 ** 53) - 2,
      2 ** 60 + 2 ** 20,
      1e20,
      -1e20,
      1e300,
      -1e300,
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      -Number.MIN_VALUE,
    ];
    for (let i = 0; i < 20_000; i++) {
      const c = i % 4;
      if (c === 0) xs.push((r() * 2 - 1) * 2 ** (bits + 2));
      else if (c === 1) xs.push(randomInt(r, d.min - 2 ** bits, d.max + 2 ** bits));
      else if (c === 2) xs.push((r() * 2 - 1) * 2 ** randomInt(r, 0, 80));
      else xs.push(Math.round((r() * 2 - 1) * 2 ** 62));
    }
    const errors: string[] = [];
    for (const x of xs) {
      const want = refIntEncode(bits, x);
      const got = encode(d, x);
      if (got !== want) errors.push(`encode(${show(x)}) = ${got}, want ${want}`);
      const rt = roundToDType(d, x);
      if (!Object.is(rt, refIntDecode(bits, d.signed, want)))
        errors.push(`roundToDType(${show(x)}) = ${show(rt)}`);
      if (errors.length >= 10) break;
    }
    expect(errors).toEqual([]);
  });
});

describe('bool', () => {
  it('encode / decode / roundToDType of 0 and 1', () => {
    const b = dtypeNamed('bool');
    expect(decode(b, 0)).toBe(0);
    expect(decode(b, 1)).toBe(1);
    expect(encode(b, 0)).toBe(0);
    expect(encode(b, 1)).toBe(1);
    expect(roundToDType(b, 0)).toBe(0);
    expect(roundToDType(b, 1)).toBe(1);
  });
});

describe('castValue', () => {
  const ints = INT_NAMES.map((n) => dtypeNamed(n) as IntDType);
  const floats = ALL_FLOAT_SPECS.map((s) => ({ d: dtypeNamed(s.name) as FloatDType, ref: floatRef(s) }));

  it('spelled-out cases', () => {
    const c = (from: string, to: string, v: number): number => castValue(dtypeNamed(from), dtypeNamed(to), v);
    // float -> int: truncate toward zero, then saturate; NaN -> 0
    expect(c('f32', 'i32', 3.75)).toBe(3);
    expect(c('f32', 'i32', -3.75)).toBe(-3);
    expect(c('f32', 'i8', 300)).toBe(127);
    expect(c('f32', 'i8', -300)).toBe(-128);
    expect(c('f32', 'i8', 127.5)).toBe(127);
    expect(c('f32', 'i8', -128.5)).toBe(-128);
    expect(c('f32', 'u8', -5.5)).toBe(0);
    expect(c('f32', 'u8', 255.5)).toBe(255);
    expect(c('f32', 'u8', 256)).toBe(255);
    expect(c('f32', 'u4', 16)).toBe(15);
    expect(c('f32', 'i4', 8)).toBe(7);
    expect(c('f32', 'i1', -1.5)).toBe(-1);
    expect(c('f32', 'i1', 1)).toBe(0);
    expect(c('f32', 'u32', 1e10)).toBe(4294967295);
    expect(c('f32', 'i32', -1e10)).toBe(-2147483648);
    expect(c('f32', 'i32', Number.NaN)).toBe(0);
    expect(c('f16', 'u8', Number.NaN)).toBe(0);
    expect(c('f32', 'i32', Number.POSITIVE_INFINITY)).toBe(2147483647);
    expect(c('f32', 'i32', Number.NEGATIVE_INFINITY)).toBe(-2147483648);
    expect(c('f16', 'u16', Number.NEGATIVE_INFINITY)).toBe(0);
    expect(c('f8e4m3', 'i8', 448)).toBe(127);
    expect(c('f4e2m1', 'i4', -6)).toBe(-6);
    expect(c('f4e2m1', 'u2', 1.5)).toBe(1);
    // int -> int: keep the low bits
    expect(c('u8', 'u4', 16)).toBe(0);
    expect(c('i8', 'i4', 8)).toBe(-8);
    expect(c('u8', 'i4', 15)).toBe(-1);
    expect(c('i32', 'u8', -1)).toBe(255);
    expect(c('u8', 'i8', 200)).toBe(-56);
    expect(c('i8', 'u16', -1)).toBe(65535);
    expect(c('i16', 'i32', -1)).toBe(-1);
    expect(c('u32', 'i32', 4294967295)).toBe(-1);
    expect(c('i32', 'u32', -2147483648)).toBe(2147483648);
    expect(c('i4', 'i1', -7)).toBe(-1);
    expect(c('i4', 'i1', -8)).toBe(0);
    // -> bool
    expect(c('f32', 'bool', 0.25)).toBe(1);
    expect(c('f32', 'bool', -0.25)).toBe(1);
    expect(c('f32', 'bool', 0)).toBe(0);
    expect(c('f32', 'bool', -0)).toBe(0);
    expect(c('f32', 'bool', Number.POSITIVE_INFINITY)).toBe(1);
    expect(c('i8', 'bool', -128)).toBe(1);
    expect(c('u32', 'bool', 4294967295)).toBe(1);
    expect(c('u8', 'bool', 0)).toBe(0);
    expect(c('u8', 'bool', 16)).toBe(1); // not the low bit
    expect(c('bool', 'bool', 1)).toBe(1);
    // bool -> number
    expect(c('bool', 'f32', 1)).toBe(1);
    expect(c('bool', 'f16', 0)).toBe(0);
    expect(c('bool', 'u8', 1)).toBe(1);
    expect(c('bool', 'i32', 0)).toBe(0);
    expect(c('bool', 'f4e2m1', 1)).toBe(1);
    // int -> float: round to nearest even in the target format
    expect(c('i32', 'f32', 16777217)).toBe(16777216);
    expect(c('i32', 'f32', 16777219)).toBe(16777220);
    expect(c('u32', 'f32', 4294967295)).toBe(4294967296);
    expect(c('i32', 'f16', 2049)).toBe(2048);
    expect(c('i32', 'f16', 2051)).toBe(2052);
    expect(c('i32', 'f16', 65519)).toBe(65504);
    expect(c('i32', 'f16', 65520)).toBe(Number.POSITIVE_INFINITY);
    expect(c('i32', 'f16', -65520)).toBe(Number.NEGATIVE_INFINITY);
    expect(c('i32', 'bf16', 257)).toBe(256);
    expect(c('i32', 'bf16', 259)).toBe(260);
    expect(c('i32', 'f4e2m1', 5)).toBe(4);
    expect(c('i32', 'f4e2m1', 100)).toBe(6);
    expect(c('i32', 'f4e2m1', -100)).toBe(-6);
    expect(c('u8', 'f8e4m3', 255)).toBe(256);
    expect(c('u16', 'f8e4m3', 1000)).toBe(448);
    expect(c('u16', 'f8e5m2', 65535)).toBe(Number.POSITIVE_INFINITY);
    expect(c('i8', 'f32', 0)).toBe(0);
    // float -> float
    expect(c('f32', 'f16', 1e6)).toBe(Number.POSITIVE_INFINITY);
    expect(c('f32', 'f8e4m3', 1000)).toBe(448);
    expect(c('f32', 'f8e4m3', Number.POSITIVE_INFINITY)).toBe(448);
    expect(c('f32', 'f8e4m3', Number.NaN)).toBeNaN();
    expect(c('f32', 'f8e5m2', Number.NaN)).toBeNaN();
    expect(c('f32', 'f4e2m1', Number.NaN)).toBe(0);
    expect(c('f16', 'f32', 65504)).toBe(65504);
    expect(c('f16', 'f32', -0)).toBe(-0);
    expect(c('f32', 'f16', -1e-30)).toBe(-0);
    expect(c('f8e5m2', 'f8e4m3', Number.NEGATIVE_INFINITY)).toBe(-448);
    expect(c('f8e5m2', 'f16', Number.NEGATIVE_INFINITY)).toBe(Number.NEGATIVE_INFINITY);
    expect(c('f32', 'bf16', 1 + 2 ** -8 + 2 ** -23)).toBe(1 + 2 ** -7);
  });

  it('float -> int casts produce +0, never -0', () => {
    expect(castValue(dtypeNamed('f32'), dtypeNamed('i32'), -0.5)).toBe(0);
    expect(castValue(dtypeNamed('f32'), dtypeNamed('u8'), -0)).toBe(0);
    expect(castValue(dtypeNamed('f16'), dtypeNamed('i8'), -0.25)).toBe(0);
  });

  it('float -> int on random values from every float format to every int type', () => {
    const r = rng(0xc0ffee);
    const errors: string[] = [];
    for (const { d: from, ref } of floats) {
      for (const to of ints) {
        for (let i = 0; i < 60; i++) {
          const v = i % 2 === 0 ? ref.decode(randomInt(r, 0, 2 ** ref.bits - 1)) : roundIn(ref, r, to);
          const want = Number.isNaN(v) ? 0 : Math.min(to.max, Math.max(to.min, Math.trunc(v))) + 0;
          const got = castValue(from, to, v);
          if (!Object.is(got, want))
            errors.push(`${from.name}->${to.name} ${show(v)}: ${show(got)}, want ${want}`);
        }
      }
    }
    expect(errors.slice(0, 10)).toEqual([]);
  });

  it('int -> int on random values for every pair of int types', () => {
    const r = rng(0xabcdef);
    const errors: string[] = [];
    for (const from of ints) {
      for (const to of ints) {
        for (let i = 0; i < 60; i++) {
          const v = randomInt(r, from.min, from.max);
          const want = refIntDecode(to.bits, to.signed, refIntEncode(to.bits, v));
          const got = castValue(from, to, v);
          if (!Object.is(got, want)) errors.push(`${from.name}->${to.name} ${v}: ${show(got)}, want ${want}`);
        }
      }
    }
    expect(errors.slice(0, 10)).toEqual([]);
  });

  it('int -> float on random values rounds to nearest even per the target rule', () => {
    const r = rng(0x1f1f1f);
    const errors: string[] = [];
    for (const from of ints) {
      for (const { d: to, ref } of floats) {
        for (let i = 0; i < 60; i++) {
          const v = randomInt(r, from.min, from.max);
          const want = ref.round(v);
          const got = castValue(from, to, v);
          if (!Object.is(got, want))
            errors.push(`${from.name}->${to.name} ${v}: ${show(got)}, want ${show(want)}`);
        }
      }
    }
    expect(errors.slice(0, 10)).toEqual([]);
  });

  it('int -> float rounds the exact integer, not its f32 rounding (no double rounding)', () => {
    const c = (from: string, to: string, v: number): number => castValue(dtypeNamed(from), dtypeNamed(to), v);
    // 2^24 + 2^16 is a bf16 tie, and f32 rounds 2^24 + 2^16 + 1 down onto it
    expect(c('i32', 'bf16', 2 ** 24 + 2 ** 16 + 1)).toBe(2 ** 24 + 2 ** 17);
    expect(c('u32', 'bf16', 2 ** 24 + 2 ** 16 - 1)).toBe(2 ** 24);
    // 1.25 * 2^30 is an f8e6m1 tie; f32 rounds 1.25 * 2^30 + 1 onto it
    expect(c('u32', 'f8e6m1', 1.25 * 2 ** 30 + 1)).toBe(1.5 * 2 ** 30);
    const r = rng(0x2b2b2b);
    const errors: string[] = [];
    let checked = 0;
    for (const { d: to, ref } of floats) {
      if (to.name === 'f32') continue;
      for (let i = 0; i < 2000; i++) {
        // adjacent values straddling an integer midpoint in (2^24, 2^32), then the integers right next to it
        const k = ref.encode(2 ** (24 + r() * 8));
        if (k >= ref.maxPos) continue;
        const mid = (ref.valueAt(k) + ref.valueAt(k + 1)) / 2;
        if (!Number.isInteger(mid) || mid <= 2 ** 24 || mid >= 2 ** 31 - 2) continue;
        for (const v of [mid - 1, mid, mid + 1, -mid - 1, -mid + 1]) {
          for (const from of [dtypeNamed('i32'), dtypeNamed('u32')] as IntDType[]) {
            if (v < from.min || v > from.max) continue;
            const want = ref.round(v);
            const got = castValue(from, to, v);
            checked++;
            if (!Object.is(got, want))
              errors.push(`${from.name}->${to.name} ${v}: ${show(got)}, want ${show(want)}`);
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(10_000);
    expect(errors.slice(0, 10)).toEqual([]);
  });

  it('float -> float on random values for every pair of float formats', () => {
    const r = rng(0xf1f1f1);
    const errors: string[] = [];
    for (const { d: from, ref: fromRef } of floats) {
      for (const { d: to, ref } of floats) {
        for (let i = 0; i < 200; i++) {
          const v = fromRef.decode(randomInt(r, 0, 2 ** fromRef.bits - 1));
          const want = ref.round(v);
          const got = castValue(from, to, v);
          if (!Object.is(got, want))
            errors.push(`${from.name}->${to.name} ${show(v)}: ${show(got)}, want ${show(want)}`);
        }
      }
    }
    expect(errors.slice(0, 10)).toEqual([]);
  });

  it('any number type -> bool is 1 exactly for nonzero values; bool -> number gives 0 or 1', () => {
    const r = rng(0xb001);
    const b = dtypeNamed('bool');
    const errors: string[] = [];
    for (const from of [...ints, ...floats.map((f) => f.d)]) {
      const vals: number[] = [0];
      if (isFloat(from)) {
        const ref = floatRef(ALL_FLOAT_SPECS.find((s) => s.name === from.name)!);
        vals.push(-0);
        for (let i = 0; i < 50; i++) {
          const v = ref.decode(randomInt(r, 0, 2 ** ref.bits - 1));
          if (!Number.isNaN(v)) vals.push(v);
        }
      } else {
        const f = from as IntDType;
        for (let i = 0; i < 50; i++) vals.push(randomInt(r, f.min, f.max));
      }
      for (const v of vals) {
        const got = castValue(from, b, v);
        if (!Object.is(got, v !== 0 ? 1 : 0)) errors.push(`${from.name}->bool ${show(v)}: ${show(got)}`);
      }
      const zero = castValue(b, from, 0);
      if (!Object.is(zero, 0)) errors.push(`bool->${from.name} 0: ${show(zero)}`);
      // 1 is representable in every number type except i1 and f2e1m0
      if (from.name !== 'i1' && from.name !== 'f2e1m0') {
        const one = castValue(b, from, 1);
        if (one !== 1) errors.push(`bool->${from.name} 1: ${show(one)}`);
      }
    }
    expect(errors.slice(0, 10)).toEqual([]);
  });

  it('a type to itself is the identity on its values', () => {
    const r = rng(0x1d);
    for (const { d, ref } of floats) {
      for (let i = 0; i < 200; i++) {
        const v = ref.decode(randomInt(r, 0, 2 ** ref.bits - 1));
        expect(
          Object.is(castValue(d, d, v), v) || (Number.isNaN(v) && Number.isNaN(castValue(d, d, v))),
        ).toBe(true);
      }
    }
    for (const d of ints) {
      for (let i = 0; i < 200; i++) {
        const v = randomInt(r, d.min, d.max);
        expect(castValue(d, d, v)).toBe(v);
      }
    }
  });
});

/** A value of `ref`'s format near the range of `to` (so saturation and truncation both show up). */
function roundIn(ref: ReturnType<typeof floatRef>, r: () => number, to: IntDType): number {
  const span = Math.max(4, (to.max - to.min) * 1.5);
  return ref.round((r() * 2 - 1) * span);
}
