/**
 * tilevm data types: any-width integers, bool, IEEE and small floats. docs/dtypes.md is the spec; the
 * float bit arithmetic lives in float-format.ts.
 */
import { FloatFormat, type FloatRule } from './float-format.js';

export type { FloatRule } from './float-format.js';

export interface IntDType<N extends string = string> {
  readonly kind: 'int';
  readonly name: N;
  readonly bits: number;
  readonly signed: boolean;
  readonly min: number;
  readonly max: number;
}

export interface BoolDType {
  readonly kind: 'bool';
  readonly name: 'bool';
  readonly bits: 1;
}

export interface FloatDType<N extends string = string> {
  readonly kind: 'float';
  readonly name: N;
  readonly bits: number;
  readonly exponentBits: number;
  readonly mantissaBits: number;
  readonly bias: number;
  readonly rule: FloatRule;
  readonly maxFinite: number;
  /** Smallest positive value, `2^(1 - bias - mantissaBits)` (for M = 0 the smallest normal). */
  readonly minSubnormal: number;
}

export type DType = IntDType | BoolDType | FloatDType;

// The FloatFormat (with its lazily built decode table) hangs off each float dtype under a non-enumerable
// symbol: a plain property load per call, while the dtype itself stays a plain, comparable record.
const FORMAT = Symbol('tilevm.floatFormat');
type WithFormat = FloatDType & { readonly [FORMAT]?: FloatFormat };

function intType<N extends string>(name: N, bits: number, signed: boolean): IntDType<N> {
  const half = 2 ** (bits - 1);
  return Object.freeze({
    kind: 'int',
    name,
    bits,
    signed,
    min: signed ? -half : 0,
    max: signed ? half - 1 : 2 * half - 1,
  });
}

function floatType<N extends string>(
  name: N,
  exponentBits: number,
  mantissaBits: number,
  rule: FloatRule,
): FloatDType<N> {
  const f = new FloatFormat(exponentBits, mantissaBits, rule);
  const d: FloatDType<N> = {
    kind: 'float',
    name,
    bits: f.bits,
    exponentBits,
    mantissaBits,
    bias: f.bias,
    rule,
    maxFinite: f.maxFinite,
    minSubnormal: f.minSubnormal,
  };
  Object.defineProperty(d, FORMAT, { value: f });
  return Object.freeze(d);
}

type SmallFloatName = `f${number}e${number}m${number}`;

/** `fNeEmM`: OCP's f8e4m3 is the 'fn' variant, f8e5m2 is IEEE-like, every other small float is all-finite. */
function smallFloat<N extends SmallFloatName>(name: N): FloatDType<N> {
  const m = /^f(\d)e(\d)m(\d)$/.exec(name);
  if (!m || Number(m[1]) !== 1 + Number(m[2]) + Number(m[3])) throw new Error(`bad small float name ${name}`);
  const n: string = name;
  const rule: FloatRule = n === 'f8e4m3' ? 'fn' : n === 'f8e5m2' ? 'ieee' : 'finite';
  return floatType(name, Number(m[2]), Number(m[3]), rule);
}

export const i1 = intType('i1', 1, true);
export const i2 = intType('i2', 2, true);
export const i3 = intType('i3', 3, true);
export const i4 = intType('i4', 4, true);
export const i5 = intType('i5', 5, true);
export const i6 = intType('i6', 6, true);
export const i7 = intType('i7', 7, true);
export const i8 = intType('i8', 8, true);
export const i16 = intType('i16', 16, true);
export const i32 = intType('i32', 32, true);
export const u1 = intType('u1', 1, false);
export const u2 = intType('u2', 2, false);
export const u3 = intType('u3', 3, false);
export const u4 = intType('u4', 4, false);
export const u5 = intType('u5', 5, false);
export const u6 = intType('u6', 6, false);
export const u7 = intType('u7', 7, false);
export const u8 = intType('u8', 8, false);
export const u16 = intType('u16', 16, false);
export const u32 = intType('u32', 32, false);

export const bool: BoolDType = Object.freeze({ kind: 'bool', name: 'bool', bits: 1 });

export const f16 = floatType('f16', 5, 10, 'ieee');
export const bf16 = floatType('bf16', 8, 7, 'ieee');
export const f32 = floatType('f32', 8, 23, 'ieee');

export const f2e1m0 = smallFloat('f2e1m0');
export const f3e1m1 = smallFloat('f3e1m1');
export const f3e2m0 = smallFloat('f3e2m0');
export const f4e1m2 = smallFloat('f4e1m2');
export const f4e2m1 = smallFloat('f4e2m1');
export const f4e3m0 = smallFloat('f4e3m0');
export const f5e1m3 = smallFloat('f5e1m3');
export const f5e2m2 = smallFloat('f5e2m2');
export const f5e3m1 = smallFloat('f5e3m1');
export const f5e4m0 = smallFloat('f5e4m0');
export const f6e1m4 = smallFloat('f6e1m4');
export const f6e2m3 = smallFloat('f6e2m3');
export const f6e3m2 = smallFloat('f6e3m2');
export const f6e4m1 = smallFloat('f6e4m1');
export const f6e5m0 = smallFloat('f6e5m0');
export const f7e1m5 = smallFloat('f7e1m5');
export const f7e2m4 = smallFloat('f7e2m4');
export const f7e3m3 = smallFloat('f7e3m3');
export const f7e4m2 = smallFloat('f7e4m2');
export const f7e5m1 = smallFloat('f7e5m1');
export const f7e6m0 = smallFloat('f7e6m0');
export const f8e1m6 = smallFloat('f8e1m6');
export const f8e2m5 = smallFloat('f8e2m5');
export const f8e3m4 = smallFloat('f8e3m4');
export const f8e4m3 = smallFloat('f8e4m3');
export const f8e5m2 = smallFloat('f8e5m2');
export const f8e6m1 = smallFloat('f8e6m1');
export const f8e7m0 = smallFloat('f8e7m0');

// biome-ignore format: one row per family
export const ALL_DTYPES: readonly DType[] = Object.freeze([
  i1, i2, i3, i4, i5, i6, i7, i8, i16, i32,
  u1, u2, u3, u4, u5, u6, u7, u8, u16, u32,
  bool, f16, bf16, f32,
  f2e1m0, f3e1m1, f3e2m0, f4e1m2, f4e2m1, f4e3m0, f5e1m3, f5e2m2, f5e3m1, f5e4m0,
  f6e1m4, f6e2m3, f6e3m2, f6e4m1, f6e5m0, f7e1m5, f7e2m4, f7e3m3, f7e4m2, f7e5m1, f7e6m0,
  f8e1m6, f8e2m5, f8e3m4, f8e4m3, f8e5m2, f8e6m1, f8e7m0,
]);

const BY_NAME: ReadonlyMap<string, DType> = new Map(ALL_DTYPES.map((d) => [d.name, d]));

export function dtypeByName(name: string): DType | undefined {
  return BY_NAME.get(name);
}

export function isInt(d: DType): d is IntDType {
  return d.kind === 'int';
}

export function isBool(d: DType): d is BoolDType {
  return d.kind === 'bool';
}

export function isFloat(d: DType): d is FloatDType {
  return d.kind === 'float';
}

export function dtypeToString(d: DType): string {
  return d.name;
}

// Float dtypes built elsewhere (copies, structurally typed literals) get a format of their own, cached.
const foreignFormats = new WeakMap<FloatDType, FloatFormat>();

function formatOf(d: FloatDType): FloatFormat {
  const own = (d as WithFormat)[FORMAT];
  if (own) return own;
  let f = foreignFormats.get(d);
  if (!f) {
    f = new FloatFormat(d.exponentBits, d.mantissaBits, d.rule);
    foreignFormats.set(d, f);
  }
  return f;
}

// Integers go through JS's ToInt32/ToUint32, which truncate toward zero, map NaN and ±Inf to 0 and keep
// the low 32 bits; shifting left then right by 32 - bits keeps the low `bits` (sign-extending with `>>`).

/** The bit pattern of `value` as an unsigned integer in `[0, 2^bits)`. */
export function encode(dtype: DType, value: number): number {
  switch (dtype.kind) {
    case 'float':
      return formatOf(dtype).encode(value);
    case 'int': {
      const sh = 32 - dtype.bits;
      return (value << sh) >>> sh;
    }
    case 'bool':
      return value !== 0 ? 1 : 0; // NaN is nonzero: true
  }
}

/** The value of the low `bits` bits of `pattern`: signed ints sign-extend, floats keep -0 and NaN. */
export function decode(dtype: DType, pattern: number): number {
  switch (dtype.kind) {
    case 'float':
      return formatOf(dtype).decode(pattern);
    case 'int': {
      const sh = 32 - dtype.bits;
      return dtype.signed ? (pattern << sh) >> sh : (pattern << sh) >>> sh;
    }
    case 'bool':
      return pattern & 1;
  }
}

/** `decode(dtype, encode(dtype, value))`: the nearest float, the wrapped integer, or 0/1. */
export function roundToDType(dtype: DType, value: number): number {
  switch (dtype.kind) {
    case 'float':
      return formatOf(dtype).round(value);
    case 'int': {
      const sh = 32 - dtype.bits;
      return dtype.signed ? (value << sh) >> sh : (value << sh) >>> sh;
    }
    case 'bool':
      return value !== 0 ? 1 : 0;
  }
}

/**
 * Convert `value` (a value of `from`) to `to` per docs/dtypes.md:
 * - to bool: nonzero -> 1, else 0; NaN is nonzero, so NaN -> 1.
 * - to float: round to nearest even with the target's overflow/NaN rule (bool and ints included).
 * - float to int: truncate toward zero, saturate to [min, max]; NaN -> 0.
 * - int or bool to int: keep the low bits (two's complement wrap); so bool true -> i1 is -1.
 */
export function castValue(from: DType, to: DType, value: number): number {
  if (to.kind === 'bool') return value !== 0 ? 1 : 0;
  if (to.kind === 'float') return formatOf(to).round(value);
  if (from.kind !== 'float') return roundToDType(to, value);
  if (Number.isNaN(value)) return 0;
  const t = Math.trunc(value);
  if (t <= to.min) return to.min;
  if (t >= to.max) return to.max;
  return t + 0; // trunc(-0.5) is -0; integers have no -0
}
