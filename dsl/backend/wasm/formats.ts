// Dtype representation in wasm registers (docs/wasm-backend.md): every float dtype lives in an f32
// holding a value of its format, integers in an i32 (signed sign-extended, unsigned zero-extended,
// u32 as its bits), bool as 0/1. Here: bringing a raw result back to its dtype (wrap, round), and
// converting between storage bit patterns and registers (decode, encode), as dtype.ts defines them.
//
// Narrow-float rounding works on the f32 bits with integer ops (round to nearest, ties to even, then
// the format's overflow rule). An f32 input that is itself rounded (an f32 sum of two f16 values,
// say) gives the same result as rounding the exact value once, because f32 has at least 2p + 2
// significant bits for every narrower format of p bits (double rounding is innocuous); f64 values
// (transcendentals, 32-bit integers) go through `demoteOdd` first, which rounds to odd and so keeps
// the second rounding exact.
import binaryen from 'binaryen';
import type { DType, FloatDType, IntDType } from '../../dtype.js';
import type { Module, Ref, Reg } from './fn.js';

const { i32, f32, f64 } = binaryen;

const F32_BITS = new Float32Array(1);
const U32_OF_F32 = new Uint32Array(F32_BITS.buffer);

/** The bits of `x` rounded to f32. */
export function f32Bits(x: number): number {
  F32_BITS[0] = x;
  return U32_OF_F32[0];
}

export function reg(d: DType): Reg {
  return d.kind === 'float' ? 'f32' : 'i32';
}

export function isF32(d: DType): boolean {
  return d.kind === 'float' && d.bits === 32;
}

/** A register constant for `value`, a value of `d` (already rounded or wrapped). */
export function literal(g: Module, d: DType, value: number): Ref {
  if (d.kind === 'float')
    return g.m.f32.const_bits(Number.isNaN(value) ? 0x7fc00000 | 0 : f32Bits(value) | 0);
  return g.m.i32.const(value | 0);
}

/** Keeps the low bits of an i32 result as dtype `d` holds them (sign- or zero-extended). */
export function wrapInt(g: Module, d: IntDType, x: Ref): Ref {
  const m = g.m;
  if (d.bits === 32) return x;
  if (!d.signed) return m.i32.and(x, m.i32.const(2 ** d.bits - 1));
  if (d.bits === 8) return m.i32.extend8_s(x);
  if (d.bits === 16) return m.i32.extend16_s(x);
  const sh = m.i32.const(32 - d.bits);
  return m.i32.shr_s(m.i32.shl(x, sh), m.i32.const(32 - d.bits));
}

/** Brings a raw register result back to dtype `d`: wrap integers, round floats, 0/1 for bool. */
export function normalizeReg(g: Module, d: DType, x: Ref): Ref {
  if (d.kind === 'int') return wrapInt(g, d, x);
  if (d.kind === 'bool') return g.m.i32.ne(x, g.m.i32.const(0));
  return roundFloat(g, d, x);
}

/** Constants of a float format, as f32 bits where they are values. */
interface FormatInfo {
  readonly key: string;
  readonly E: number;
  readonly M: number;
  readonly bias: number;
  readonly rule: FloatDType['rule'];
  /** f32 bits of the smallest normal value, 2^(1 - bias). */
  readonly minNormalBits: number;
  /** f32 bits of the largest finite value. */
  readonly maxBits: number;
}

function info(d: FloatDType): FormatInfo {
  return {
    key: `e${d.exponentBits}m${d.mantissaBits}${d.rule === 'ieee' ? '' : `_${d.rule}`}`,
    E: d.exponentBits,
    M: d.mantissaBits,
    bias: d.bias,
    rule: d.rule,
    minNormalBits: f32Bits(2 ** (1 - d.bias)),
    maxBits: f32Bits(d.maxFinite),
  };
}

/** `x` (f32) rounded to the nearest value of `d` (identity for f32). */
export function roundFloat(g: Module, d: FloatDType, x: Ref): Ref {
  if (isF32(d)) return x;
  return g.call(roundHelper(g, d), [x], f32);
}

function roundHelper(g: Module, d: FloatDType): string {
  const fmt = info(d);
  return g.helper(`round_${fmt.key}`, [f32], f32, (f) => {
    const m = f.m;
    const I = m.i32;
    const x = f.val(0);
    const b = f.local(i32);
    const a = f.local(i32);
    const s = f.local(i32);
    const r = f.local(i32);
    const shift = 23 - fmt.M;
    const emin = 1 - fmt.bias;
    // Below the smallest normal the quantum is fixed, 2^(emin - M): adding C = 2^(emin - M + 23)
    // makes the f32 sum's ulp that quantum, so the addition rounds to it (ties to even) exactly.
    const C = 2 ** (emin - fmt.M + 23);
    const nanResult = fmt.rule === 'finite' ? m.f32.const(0) : x();
    const infResult = fmt.rule === 'ieee' ? x() : m.f32.reinterpret(I.or(I.const(fmt.maxBits), f.get(s)));
    const overflow = fmt.rule === 'ieee' ? 0x7f800000 : fmt.maxBits;
    return [
      f.set(b, I.reinterpret(x())),
      f.set(a, I.and(f.get(b), I.const(0x7fffffff))),
      f.set(s, I.and(f.get(b), I.const(0x80000000 | 0))),
      m.if(I.gt_u(f.get(a), I.const(0x7f800000)), m.return(nanResult)),
      m.if(I.eq(f.get(a), I.const(0x7f800000)), m.return(infResult)),
      m.if(
        I.lt_u(f.get(a), I.const(fmt.minNormalBits)),
        m.return(
          m.f32.reinterpret(
            I.or(
              I.reinterpret(m.f32.sub(m.f32.add(m.f32.abs(x()), m.f32.const(C)), m.f32.const(C))),
              f.get(s),
            ),
          ),
        ),
      ),
      // Normal range: round the mantissa to M bits on the bits; a carry moves into the exponent.
      f.set(
        r,
        I.and(
          I.add(
            I.add(f.get(a), I.const(2 ** (shift - 1) - 1)),
            I.and(I.shr_u(f.get(a), I.const(shift)), I.const(1)),
          ),
          I.const(~(2 ** shift - 1)),
        ),
      ),
      m.if(I.gt_u(f.get(r), I.const(fmt.maxBits)), f.set(r, I.const(overflow))),
      m.return(m.f32.reinterpret(I.or(f.get(r), f.get(s)))),
    ];
  });
}

/**
 * An f64 value to f32 rounding to odd: exact values stay, inexact ones become the neighbour (of
 * the two f32s around them) whose last mantissa bit is 1. Rounding that to a format of at most 22
 * bits of precision then gives the correctly rounded result.
 */
export function demoteOdd(g: Module, x: Ref): Ref {
  const name = g.helper('demote_odd', [f64], f32, (f) => {
    const m = f.m;
    const r = f.local(f32);
    const b = f.local(i32);
    return [
      f.set(r, m.f32.demote(f.get(0))),
      m.if(
        m.i32.or(
          m.f64.eq(m.f64.promote(f.get(r)), f.get(0)),
          m.i32.ge_u(
            m.i32.and(m.i32.reinterpret(f.get(r)), m.i32.const(0x7fffffff)),
            m.i32.const(0x7f800000),
          ),
        ),
        m.return(f.get(r)),
      ),
      f.set(b, m.i32.reinterpret(f.get(r))),
      // Rounded away from zero: step back to the truncated value (bits are sign-magnitude).
      m.if(
        m.f64.gt(m.f64.abs(m.f64.promote(f.get(r))), m.f64.abs(f.get(0))),
        f.set(b, m.i32.sub(f.get(b), m.i32.const(1))),
      ),
      m.return(m.f32.reinterpret(m.i32.or(f.get(b), m.i32.const(1)))),
    ];
  });
  return g.call(name, [x], f32);
}

/** An f64 result (computed far more precisely than f32) rounded once to float dtype `d`. */
export function fromF64(g: Module, d: FloatDType, x: Ref): Ref {
  if (isF32(d)) return g.m.f32.demote(x);
  return roundFloat(g, d, demoteOdd(g, x));
}

/** The register value of storage pattern `p` (an i32 holding the low `bits` bits) of dtype `d`. */
export function decode(g: Module, d: DType, p: Ref): Ref {
  const m = g.m;
  if (d.kind === 'bool') return m.i32.and(p, m.i32.const(1));
  if (d.kind === 'int') return d.signed ? wrapInt(g, d, p) : p;
  if (isF32(d)) return m.f32.reinterpret(p);
  if (d.exponentBits === 8 && d.mantissaBits === 7 && d.rule === 'ieee') {
    return m.f32.reinterpret(m.i32.shl(p, m.i32.const(16))); // bf16 is the top half of an f32
  }
  return g.call(decodeHelper(g, d), [p], f32);
}

function decodeHelper(g: Module, d: FloatDType): string {
  const fmt = info(d);
  return g.hotHelper(`decode_${fmt.key}`, [i32], f32, (f) => {
    const m = f.m;
    const I = m.i32;
    const { E, M, bias } = fmt;
    const magMask = 2 ** (E + M) - 1;
    const expOnes = 2 ** E - 1;
    const mag = f.local(i32);
    const e = f.local(i32);
    const mant = f.local(i32);
    const s = f.local(i32);
    const v = f.local(f32);
    const signed = (x: Ref) => m.f32.reinterpret(I.or(I.reinterpret(x), f.get(s)));
    const stmts: Ref[] = [
      f.set(mag, I.and(f.get(0), I.const(magMask))),
      f.set(s, I.and(I.shl(f.get(0), I.const(31 - E - M)), I.const(0x80000000 | 0))),
      f.set(e, I.shr_u(f.get(mag), I.const(M))),
      f.set(mant, I.and(f.get(mag), I.const(2 ** M - 1))),
    ];
    if (fmt.rule === 'ieee') {
      stmts.push(
        m.if(
          I.eq(f.get(e), I.const(expOnes)),
          m.return(
            m.select(I.eqz(f.get(mant)), signed(m.f32.const_bits(0x7f800000)), m.f32.const_bits(0x7fc00000)),
          ),
        ),
      );
    } else if (fmt.rule === 'fn') {
      stmts.push(m.if(I.eq(f.get(mag), I.const(magMask)), m.return(m.f32.const_bits(0x7fc00000))));
    }
    stmts.push(
      m.if(
        I.eqz(f.get(e)),
        // Subnormal: m * 2^(emin - M), exact in f32.
        f.set(v, m.f32.mul(m.f32.convert_u.i32(f.get(mant)), m.f32.const(2 ** (1 - bias - M)))),
        f.set(
          v,
          m.f32.reinterpret(
            I.or(
              I.shl(I.add(f.get(e), I.const(127 - bias)), I.const(23)),
              I.shl(f.get(mant), I.const(23 - M)),
            ),
          ),
        ),
      ),
      m.return(signed(f.get(v))),
    );
    return stmts;
  });
}

/**
 * The storage pattern (low `bits` bits of an i32) of register value `x` of dtype `d`. Float
 * registers always hold values of their format, so this is exact; f32 NaN becomes the canonical
 * 0x7fc00000, as dtype.ts encodes it.
 */
export function encode(g: Module, d: DType, x: Ref): Ref {
  const m = g.m;
  if (d.kind === 'bool') return x;
  if (d.kind === 'int') return d.bits === 32 ? x : m.i32.and(x, m.i32.const(2 ** d.bits - 1));
  return g.call(encodeHelper(g, d), [x], i32);
}

function encodeHelper(g: Module, d: FloatDType): string {
  const fmt = info(d);
  return g.helper(`encode_${fmt.key}`, [f32], i32, (f) => {
    const m = f.m;
    const I = m.i32;
    const { E, M, bias, rule } = fmt;
    const nanPattern =
      rule === 'ieee' ? (2 ** E - 1) * 2 ** M + 2 ** (M - 1) : rule === 'fn' ? 2 ** (E + M) - 1 : 0;
    const b = f.local(i32);
    const a = f.local(i32);
    const s = f.local(i32);
    const stmts: Ref[] = [
      f.set(b, I.reinterpret(f.get(0))),
      f.set(a, I.and(f.get(b), I.const(0x7fffffff))),
      m.if(I.gt_u(f.get(a), I.const(0x7f800000)), m.return(I.const(nanPattern))),
    ];
    if (E === 8 && M === 23) return [...stmts, m.return(f.get(b))];
    stmts.push(f.set(s, I.shl(I.shr_u(f.get(b), I.const(31)), I.const(E + M))));
    if (E === 8 && M === 7) return [...stmts, m.return(I.shr_u(f.get(b), I.const(16)))];
    if (rule === 'ieee') {
      stmts.push(
        m.if(I.eq(f.get(a), I.const(0x7f800000)), m.return(I.or(f.get(s), I.const((2 ** E - 1) * 2 ** M)))),
      );
    }
    const emin = 1 - bias;
    stmts.push(
      m.if(
        I.ge_u(f.get(a), I.const(fmt.minNormalBits)),
        m.return(
          I.or(
            f.get(s),
            I.or(
              I.shl(I.sub(I.shr_u(f.get(a), I.const(23)), I.const(127 - bias)), I.const(M)),
              I.and(I.shr_u(f.get(a), I.const(23 - M)), I.const(2 ** M - 1)),
            ),
          ),
        ),
      ),
      // Subnormal: |x| / 2^(emin - M) is the (exact, small) integer mantissa.
      m.return(
        I.or(
          f.get(s),
          I.trunc_u.f64(m.f64.mul(m.f64.promote(m.f32.abs(f.get(0))), m.f64.const(2 ** (M - emin)))),
        ),
      ),
    );
    return stmts;
  });
}
