// The VM's elementwise semantics (dsl/interp/elementwise.ts, dtype.ts castValue) on wasm registers:
// scalar builders for every unary, binary and cast, and v128 builders (4 lanes) for the ones
// SIMD128 can do exactly. Operands are thunks (fn.ts); results are registers of the result dtype,
// already wrapped or rounded.
import binaryen from 'binaryen';
import type { DType, FloatDType, IntDType } from '../../dtype.js';
import type { BinaryOp, UnaryOp } from '../../ir/ops.js';
import type { Module, Ref, Val } from './fn.js';
import { demoteOdd, fromF64, isF32, roundFloat, wrapInt } from './formats.js';
import { cos64, erf64, exp2_64, exp64, fmod64, log2_64, log64, pow64, sin64, tanh64 } from './math.js';

const { i32, f64 } = binaryen;

const F64_UNARY = {
  exp: exp64,
  exp2: exp2_64,
  log: log64,
  log2: log2_64,
  tanh: tanh64,
  erf: erf64,
  sin: sin64,
  cos: cos64,
} as const;

// ---------------------------------------------------------------------------------------------
// Scalar

export function unary(g: Module, op: UnaryOp, d: DType, x: Val): Ref {
  const m = g.m;
  if (d.kind === 'bool') return op === 'not' ? m.i32.xor(x(), m.i32.const(1)) : x();
  if (d.kind === 'float') return floatUnary(g, op, d, x);
  const I = m.i32;
  switch (op) {
    case 'neg':
      return wrapInt(g, d, I.sub(I.const(0), x()));
    case 'abs':
      return d.signed ? wrapInt(g, d, m.select(I.lt_s(x(), I.const(0)), I.sub(I.const(0), x()), x())) : x();
    case 'not':
      return d.signed ? I.xor(x(), I.const(-1)) : wrapInt(g, d, I.xor(x(), I.const(-1)));
    default:
      return x(); // float-only ops are rejected on integers by the validator
  }
}

function floatUnary(g: Module, op: UnaryOp, d: FloatDType, x: Val): Ref {
  const m = g.m;
  const F = m.f32;
  switch (op) {
    case 'neg':
      return F.neg(x()); // exact in every format
    case 'abs':
      return F.abs(x());
    case 'not':
      return x(); // rejected on floats by the validator
    case 'sqrt':
      return roundFloat(g, d, F.sqrt(x()));
    case 'floor':
      return roundFloat(g, d, F.floor(x()));
    case 'ceil':
      return roundFloat(g, d, F.ceil(x()));
    case 'trunc':
      return roundFloat(g, d, F.trunc(x()));
    case 'round':
      return roundFloat(g, d, F.nearest(x())); // ties to even
    case 'rsqrt':
      // 1 / sqrt(x) in f64, as the interpreter computes it: each step correctly rounded.
      return fromF64(g, d, m.f64.div(m.f64.const(1), m.f64.sqrt(m.f64.promote(x()))));
    default:
      return fromF64(g, d, m.call(F64_UNARY[op](g), [m.f64.promote(x())], f64));
  }
}

export function binary(g: Module, op: BinaryOp, d: DType, a: Val, b: Val): Ref {
  const m = g.m;
  if (d.kind === 'float') return floatBinary(g, op, d, a, b);
  const I = m.i32;
  if (d.kind === 'bool') {
    switch (op) {
      case 'and':
        return I.and(a(), b());
      case 'or':
        return I.or(a(), b());
      case 'xor':
      case 'ne':
        return I.xor(a(), b());
      // Tiles only take the ops above; scalar expressions may also compare bools (as 0 and 1).
      case 'lt':
        return I.lt_u(a(), b());
      case 'le':
        return I.le_u(a(), b());
      case 'gt':
        return I.gt_u(a(), b());
      case 'ge':
        return I.ge_u(a(), b());
      case 'min':
        return I.and(a(), b());
      case 'max':
        return I.or(a(), b());
      default:
        return I.eq(a(), b()); // eq (arithmetic on bool is not meaningful)
    }
  }
  return intBinary(g, op, d, a, b);
}

function floatBinary(g: Module, op: BinaryOp, d: FloatDType, a: Val, b: Val): Ref {
  const m = g.m;
  const F = m.f32;
  switch (op) {
    // + - * / of f32 are correctly rounded; for narrower formats rounding the f32 result again
    // equals rounding the exact one (formats.ts).
    case 'add':
      return roundFloat(g, d, F.add(a(), b()));
    case 'sub':
      return roundFloat(g, d, F.sub(a(), b()));
    case 'mul':
      return roundFloat(g, d, F.mul(a(), b()));
    case 'div':
      return roundFloat(g, d, F.div(a(), b()));
    case 'min':
      return F.min(a(), b()); // NaN-propagating, -0 below +0: Math.min
    case 'max':
      return F.max(a(), b());
    case 'mod':
      return fromF64(g, d, m.call(fmod64(g), [m.f64.promote(a()), m.f64.promote(b())], f64));
    case 'pow':
      return fromF64(g, d, m.call(pow64(g), [m.f64.promote(a()), m.f64.promote(b())], f64));
    case 'eq':
      return F.eq(a(), b());
    case 'ne':
      return F.ne(a(), b());
    case 'lt':
      return F.lt(a(), b());
    case 'le':
      return F.le(a(), b());
    case 'gt':
      return F.gt(a(), b());
    case 'ge':
      return F.ge(a(), b());
    default:
      return a(); // integer-only ops are rejected on floats by the validator
  }
}

function intBinary(g: Module, op: BinaryOp, d: IntDType, a: Val, b: Val): Ref {
  const m = g.m;
  const I = m.i32;
  const s = d.signed;
  switch (op) {
    case 'add':
      return wrapInt(g, d, I.add(a(), b()));
    case 'sub':
      return wrapInt(g, d, I.sub(a(), b()));
    case 'mul':
      return wrapInt(g, d, I.mul(a(), b()));
    case 'div':
      return wrapInt(g, d, intDiv(g, s, a, b));
    case 'mod':
      // x % 0 = 0: dividing by 1 instead gives it; rem_s(MIN, -1) is 0 in wasm (no trap).
      return (s ? I.rem_s : I.rem_u)(a(), safeDivisor(g, b, false));
    case 'cdiv': {
      // ceil(a / b) = trunc(a / b), plus 1 when inexact and the exact quotient is positive.
      const r = (s ? I.rem_s : I.rem_u)(a(), safeDivisor(g, b, false));
      const up = s ? I.and(I.ne(r, I.const(0)), I.ge_s(I.xor(a(), b()), I.const(0))) : I.ne(r, I.const(0));
      return wrapInt(g, d, I.add(intDiv(g, s, a, b), up));
    }
    case 'min':
      return m.select((s ? I.lt_s : I.lt_u)(a(), b()), a(), b());
    case 'max':
      return m.select((s ? I.gt_s : I.gt_u)(a(), b()), a(), b());
    case 'and':
      return I.and(a(), b());
    case 'or':
      return I.or(a(), b());
    case 'xor':
      return I.xor(a(), b());
    case 'shl':
      return wrapInt(g, d, I.shl(a(), shiftAmount(g, d, b)));
    case 'shr':
      return (s ? I.shr_s : I.shr_u)(a(), shiftAmount(g, d, b));
    case 'eq':
      return I.eq(a(), b());
    case 'ne':
      return I.ne(a(), b());
    case 'lt':
      return (s ? I.lt_s : I.lt_u)(a(), b());
    case 'le':
      return (s ? I.le_s : I.le_u)(a(), b());
    case 'gt':
      return (s ? I.gt_s : I.gt_u)(a(), b());
    case 'ge':
      return (s ? I.ge_s : I.ge_u)(a(), b());
    default:
      return a(); // pow is rejected on integers by the validator
  }
}

/** b, or 1 where b is 0 (and, for signed division, where b is -1): a divisor that cannot trap. */
function safeDivisor(g: Module, b: Val, minusOne: boolean): Ref {
  const I = g.m.i32;
  const bad = minusOne ? I.or(I.eqz(b()), I.eq(b(), I.const(-1))) : I.eqz(b());
  return g.m.select(bad, I.const(1), b());
}

/** Truncating division with x / 0 = x and x / -1 = -x (wrapping: MIN / -1 = MIN), never trapping. */
function intDiv(g: Module, signed: boolean, a: Val, b: Val): Ref {
  const I = g.m.i32;
  if (!signed) return I.div_u(a(), safeDivisor(g, b, false));
  return g.m.select(I.eq(b(), I.const(-1)), I.sub(I.const(0), a()), I.div_s(a(), safeDivisor(g, b, true)));
}

/** The shift amount b modulo d's width (Euclidean, so a negative amount counts from the top). */
function shiftAmount(g: Module, d: IntDType, b: Val): Ref {
  const I = g.m.i32;
  const w = d.bits;
  if ((w & (w - 1)) === 0) return I.and(b(), I.const(w - 1));
  if (!d.signed) return I.rem_u(b(), I.const(w));
  return I.rem_u(I.add(I.rem_s(b(), I.const(w)), I.const(w)), I.const(w));
}

/** `x`, a value of `from`, converted to `to` by the cast rules (dtype.ts castValue). */
export function cast(g: Module, from: DType, to: DType, x: Val): Ref {
  const m = g.m;
  const I = m.i32;
  if (from === to) return x();
  if (to.kind === 'bool')
    return from.kind === 'float' ? m.f32.ne(x(), m.f32.const(0)) : I.ne(x(), I.const(0));
  if (to.kind === 'float') {
    if (from.kind === 'float') return roundFloat(g, to, x());
    if (from.kind === 'int' && from.bits === 32) {
      if (isF32(to)) return (from.signed ? m.f32.convert_s : m.f32.convert_u).i32(x());
      return roundFloat(g, to, demoteOdd(g, (from.signed ? m.f64.convert_s : m.f64.convert_u).i32(x())));
    }
    return roundFloat(g, to, m.f32.convert_s.i32(x())); // exact: at most 16 bits
  }
  if (from.kind !== 'float') return wrapInt(g, to, x());
  // Float to int: truncate, saturate, NaN to 0.
  if (to.bits === 32) return (to.signed ? I.trunc_s_sat : I.trunc_u_sat).f32(x());
  if (to.signed) return g.call(clampS(g), [I.trunc_s_sat.f32(x()), I.const(to.min), I.const(to.max)], i32);
  return g.call(minU(g), [I.trunc_u_sat.f32(x()), I.const(to.max)], i32);
}

function clampS(g: Module): string {
  return g.helper('clamp_s', [i32, i32, i32], i32, (f) => {
    const m = f.m;
    const I = m.i32;
    return [
      m.return(
        m.select(
          I.lt_s(f.get(0), f.get(1)),
          f.get(1),
          m.select(I.gt_s(f.get(0), f.get(2)), f.get(2), f.get(0)),
        ),
      ),
    ];
  });
}

function minU(g: Module): string {
  return g.helper('min_u', [i32, i32], i32, (f) => {
    const m = f.m;
    return [m.return(m.select(m.i32.lt_u(f.get(0), f.get(1)), f.get(0), f.get(1)))];
  });
}

// ---------------------------------------------------------------------------------------------
// v128: 4 lanes of i32 or f32. Bool lanes are 0/1 like scalar registers.

export type VecUnary = (x: Val) => Ref;
export type VecBinary = (a: Val, b: Val) => Ref;

/** Wraps four i32 lanes to integer dtype d. */
function vWrap(g: Module, d: IntDType, x: Ref): Ref {
  const m = g.m;
  if (d.bits === 32) return x;
  if (!d.signed) return m.v128.and(x, m.i32x4.splat(m.i32.const(2 ** d.bits - 1)));
  const sh = 32 - d.bits;
  return m.i32x4.shr_s(m.i32x4.shl(x, m.i32.const(sh)), m.i32.const(sh));
}

/** A comparison mask (all ones / zeros per lane) as 0/1 lanes. */
function vBool(g: Module, mask: Ref): Ref {
  return g.m.i32x4.shr_u(mask, g.m.i32.const(31));
}

export function vecUnary(g: Module, op: UnaryOp, d: DType): VecUnary | undefined {
  const m = g.m;
  if (d.kind === 'bool')
    return op === 'not' ? (x) => m.v128.xor(x(), m.i32x4.splat(m.i32.const(1))) : undefined;
  if (d.kind === 'float') {
    if (!isF32(d))
      return op === 'neg' ? (x) => m.f32x4.neg(x()) : op === 'abs' ? (x) => m.f32x4.abs(x()) : undefined;
    const F = m.f32x4;
    const table: Partial<Record<UnaryOp, VecUnary>> = {
      neg: (x) => F.neg(x()),
      abs: (x) => F.abs(x()),
      sqrt: (x) => F.sqrt(x()),
      floor: (x) => F.floor(x()),
      ceil: (x) => F.ceil(x()),
      trunc: (x) => F.trunc(x()),
      round: (x) => F.nearest(x()),
    };
    return table[op];
  }
  const I = m.i32x4;
  switch (op) {
    case 'neg':
      return (x) => vWrap(g, d, I.neg(x()));
    case 'abs':
      return d.signed ? (x) => vWrap(g, d, I.abs(x())) : (x) => x();
    case 'not':
      return d.signed ? (x) => m.v128.not(x()) : (x) => vWrap(g, d, m.v128.not(x()));
    default:
      return undefined;
  }
}

export function vecBinary(g: Module, op: BinaryOp, d: DType): VecBinary | undefined {
  const m = g.m;
  if (d.kind === 'bool') {
    switch (op) {
      case 'and':
        return (a, b) => m.v128.and(a(), b());
      case 'or':
        return (a, b) => m.v128.or(a(), b());
      case 'xor':
      case 'ne':
        return (a, b) => m.v128.xor(a(), b());
      case 'eq':
        return (a, b) => vBool(g, m.i32x4.eq(a(), b()));
      default:
        return undefined;
    }
  }
  if (d.kind === 'float') {
    const F = m.f32x4;
    const cmp: Partial<Record<BinaryOp, VecBinary>> = {
      eq: (a, b) => vBool(g, F.eq(a(), b())),
      ne: (a, b) => vBool(g, F.ne(a(), b())),
      lt: (a, b) => vBool(g, F.lt(a(), b())),
      le: (a, b) => vBool(g, F.le(a(), b())),
      gt: (a, b) => vBool(g, F.gt(a(), b())),
      ge: (a, b) => vBool(g, F.ge(a(), b())),
      // f32x4.min/max propagate NaN and order -0 below +0, as scalar f32.min/max and Math.min do.
      min: (a, b) => F.min(a(), b()),
      max: (a, b) => F.max(a(), b()),
    };
    if (cmp[op]) return cmp[op];
    if (!isF32(d)) return undefined;
    const arith: Partial<Record<BinaryOp, VecBinary>> = {
      add: (a, b) => F.add(a(), b()),
      sub: (a, b) => F.sub(a(), b()),
      mul: (a, b) => F.mul(a(), b()),
      div: (a, b) => F.div(a(), b()),
    };
    return arith[op];
  }
  const I = m.i32x4;
  const s = d.signed;
  const table: Partial<Record<BinaryOp, VecBinary>> = {
    add: (a, b) => vWrap(g, d, I.add(a(), b())),
    sub: (a, b) => vWrap(g, d, I.sub(a(), b())),
    mul: (a, b) => vWrap(g, d, I.mul(a(), b())),
    min: (a, b) => (s ? I.min_s : I.min_u)(a(), b()),
    max: (a, b) => (s ? I.max_s : I.max_u)(a(), b()),
    and: (a, b) => m.v128.and(a(), b()),
    or: (a, b) => m.v128.or(a(), b()),
    xor: (a, b) => m.v128.xor(a(), b()),
    eq: (a, b) => vBool(g, I.eq(a(), b())),
    ne: (a, b) => vBool(g, I.ne(a(), b())),
    lt: (a, b) => vBool(g, (s ? I.lt_s : I.lt_u)(a(), b())),
    le: (a, b) => vBool(g, (s ? I.le_s : I.le_u)(a(), b())),
    gt: (a, b) => vBool(g, (s ? I.gt_s : I.gt_u)(a(), b())),
    ge: (a, b) => vBool(g, (s ? I.ge_s : I.ge_u)(a(), b())),
  };
  return table[op];
}

/** `cond ? a : b` on four lanes (cond lanes 0/1). */
export function vecSelect(g: Module, c: Val, a: Val, b: Val): Ref {
  const m = g.m;
  return m.v128.bitselect(a(), b(), m.i32x4.neg(c()));
}

export function vecCast(g: Module, from: DType, to: DType): VecUnary | undefined {
  const m = g.m;
  if (from === to) return (x) => x();
  if (to.kind === 'bool') {
    return from.kind === 'float'
      ? (x) => vBool(g, m.f32x4.ne(x(), m.f32x4.splat(m.f32.const(0))))
      : (x) => vBool(g, m.i32x4.ne(x(), m.i32x4.splat(m.i32.const(0))));
  }
  if (to.kind === 'float') {
    if (from.kind === 'float') return isF32(to) ? (x) => x() : undefined; // every format is exact in f32
    if (!isF32(to)) return undefined;
    if (from.kind === 'int' && from.bits === 32 && !from.signed) return (x) => m.f32x4.convert_i32x4_u(x());
    return (x) => m.f32x4.convert_i32x4_s(x()); // i32 rounds to nearest even; narrower ints are exact
  }
  if (from.kind !== 'float') return (x) => vWrap(g, to, x());
  const I = m.i32x4;
  if (to.signed) {
    if (to.bits === 32) return (x) => I.trunc_sat_f32x4_s(x());
    return (x) =>
      I.max_s(I.min_s(I.trunc_sat_f32x4_s(x()), I.splat(m.i32.const(to.max))), I.splat(m.i32.const(to.min)));
  }
  if (to.bits === 32) return (x) => I.trunc_sat_f32x4_u(x());
  return (x) => I.min_u(I.trunc_sat_f32x4_u(x()), I.splat(m.i32.const(to.max)));
}
