// Narrow floats of up to 8 bits (every fEM, the 'fn' f8e4m3 and the IEEE-like f8e5m2 included)
// decoded four lanes at a time with integer bit tricks, exactly as decode() (formats.ts) does one
// pattern: the sign and magnitude bits are moved to an f32's places, so the exponent field lands
// in the f32 exponent field; an integer add rebiases normal codes, two exact f32 ops and a min give
// subnormal codes too, and selects patch in the sign and the Inf and NaN codes: NaN is the
// canonical positive 0x7fc00000, Inf and zero keep their sign (-0 included). docs/wasm-backend.md
// has the derivation.
import type { DType, FloatDType } from '../../dtype.js';
import type { Module, Ref } from './fn.js';

const CANONICAL_NAN = 0x7fc00000;

/** Whether `narrowFloatLanes` decodes dtype d (a float of at most 8 bits). */
export function isNarrowFloat(d: DType): d is FloatDType {
  return d.kind === 'float' && d.bits <= 8 && d.exponentBits >= 1 && d.exponentBits <= 7;
}

/**
 * The arithmetic right shift that takes a code of `d` from the top of an i32 (sign at bit 31) to
 * the f32 places narrowFloatLanes takes: the exponent field's low bit at bit 23.
 */
export function narrowFloatShift(d: FloatDType): number {
  return 8 - d.exponentBits;
}

/** Four 8-bit codes of narrow float `d` (d.bits === 8) at byte address `addr`, as f32 lanes. */
export function narrowFloat8Load4(g: Module, d: FloatDType, addr: Ref, save: (v: Ref) => () => Ref): Ref {
  const m = g.m;
  // Byte i to the top byte of lane i (swizzle writes 0 for an index of 0x80 and above), then an
  // arithmetic shift puts the exponent's low bit at bit 23.
  const toTop = [0, 1, 2, 3].flatMap((i) => [0x80, 0x80, 0x80, i]);
  const top = m.i8x16.swizzle(m.v128.load32_zero(0, 1, addr), m.v128.const(toTop));
  return narrowFloatLanes(g, d, m.i32x4.shr_s(top, m.i32.const(narrowFloatShift(d))), save);
}

/**
 * Four codes of narrow float `d`, each shifted to the top of its i32 lane and then arithmetically
 * right by narrowFloatShift(d) (so the sign is at bit 31, the exponent field's low bit at bit 23,
 * and the bits between are copies of the sign), to f32 lanes.
 */
export function narrowFloatLanes(g: Module, d: FloatDType, aligned: Ref, save: (v: Ref) => () => Ref): Ref {
  const m = g.m;
  const I = m.i32;
  const V = m.i32x4;
  const E = d.exponentBits;
  const M = d.mantissaBits;
  const magnitude = (2 ** (E + M) - 1) * 2 ** (23 - M); // exponent and mantissa fields in place
  const splat = (x: number) => V.splat(I.const(x | 0));
  const y = save(aligned);
  const a = save(m.v128.and(y(), splat(magnitude)));
  // Normal codes: rebias the exponent field with an integer add, F = a + (127 - bias) 2^23. For a
  // subnormal code (field 0) F reads as 2^-bias (1 + m 2^-M), so the value is 2F - 2^(1 - bias)
  // (exact: Sterbenz), while for normal codes 2F - 2^(1 - bias) >= F: the smaller of the two is the
  // value either way. No step sees an f32 subnormal operand (x86 takes a slow microcode path for
  // those: multiplying the raw fields by 2^(127 - bias) ran GEMV 2-3x slower).
  const f = save(V.add(a(), splat((127 - d.bias) * 2 ** 23)));
  const twice = m.f32x4.sub(m.f32x4.add(f(), f()), m.f32x4.splat(m.f32.const(2 ** (1 - d.bias))));
  let v = m.f32x4.pmin(f(), twice);
  // ieee: exponent all ones with mantissa 0 is Inf (its sign is set below), anything above is NaN.
  const infField = (2 ** E - 1) * 2 ** 23;
  if (d.rule === 'ieee') v = m.v128.bitselect(splat(0x7f800000), v, V.eq(a(), splat(infField)));
  const signed = m.v128.bitselect(y(), v, splat(0x80000000));
  if (d.rule === 'finite') return signed;
  const nan = d.rule === 'fn' ? V.eq(a(), splat(magnitude)) : V.gt_s(a(), splat(infField));
  return m.v128.bitselect(splat(CANONICAL_NAN), signed, nan);
}
