// v128 loads of four consecutive elements of a global tensor as register lanes (i32 or f32 bits),
// for every storage width: whole words for 8/16/32 bits, and for narrower elements one unaligned
// word shifted to the row's bit phase, then a per-lane multiply (a left shift by a different amount
// per lane) and one arithmetic or logical right shift that leaves each lane's field sign- or
// zero-extended. Narrow floats of at most 4 bits decode through i8x16.swizzle as a 16-entry lookup
// table (their values are all bf16-exact: two tables give the top two bytes of the f32); f16 decodes
// with integer bit tricks and one exact multiply by 2^112; floats of 5-8 bits with integer bit
// tricks too (unpack-float.ts). Everything matches decode() (formats.ts) bit for bit, NaN canonical
// included.
import { type DType, decode as decodeValue } from '../../dtype.js';
import type { Module, Ref } from './fn.js';
import { f32Bits } from './formats.js';
import { isNarrowFloat, narrowFloat8Load4, narrowFloatLanes, narrowFloatShift } from './unpack-float.js';

/** A v128 constant of four i32 lanes. */
export function i32x4Const(g: Module, lanes: readonly number[]): Ref {
  const bytes = new Uint8Array(new Int32Array(lanes.map((x) => x | 0)).buffer);
  return g.m.v128.const(Array.from(bytes));
}

function isF16(d: DType): boolean {
  return (
    d.kind === 'float' && d.bits === 16 && d.exponentBits === 5 && d.mantissaBits === 10 && d.rule === 'ieee'
  );
}

function isBf16(d: DType): boolean {
  return d.kind === 'float' && d.exponentBits === 8 && d.mantissaBits === 7 && d.rule === 'ieee';
}

/** The f32 bits of every pattern of a narrow float when all of them are bf16-exact, else undefined. */
export function smallFloatTable(d: DType): number[] | undefined {
  if (d.kind !== 'float' || d.bits > 4) return undefined;
  const bits = Array.from({ length: 16 }, (_, p) => {
    const v = decodeValue(d, p & (2 ** d.bits - 1));
    return Number.isNaN(v) ? 0x7fc00000 : f32Bits(v);
  });
  return bits.every((b) => (b & 0xffff) === 0) ? bits : undefined;
}

/** Whether `vectorLoad4` has a v128 form for dtype d (otherwise the caller gathers lane by lane). */
export function canUnpack(d: DType): boolean {
  if (d.bits === 32) return true;
  if (d.kind === 'int' && (d.bits === 8 || d.bits === 16)) return true;
  if (isBf16(d) || isF16(d)) return true;
  if (d.bits < 8 && (d.kind === 'int' || d.kind === 'bool')) return true;
  return smallFloatTable(d) !== undefined || isNarrowFloat(d);
}

/**
 * The k-bit fields of elements e .. e + 3 at `base`, one per i32 lane, sign-extended when `signed`
 * (`shift` < 32 - k leaves each field shifted left by 32 - k - shift).
 */
function unpackBits(
  g: Module,
  k: number,
  signed: boolean,
  base: () => Ref,
  e: () => Ref,
  shift = 32 - k,
): Ref {
  const I = g.m.i32;
  // Byte and bit phase of element e without overflowing e * k: (e / 8) k + ((e % 8) k) / 8.
  const q = () => I.mul(I.and(e(), I.const(7)), I.const(k));
  const addr = I.add(I.add(base(), I.mul(I.shr_u(e(), I.const(3)), I.const(k))), I.shr_u(q(), I.const(3)));
  return fieldsAt(g, k, signed, addr, () => I.and(q(), I.const(7)), shift);
}

/** Four k-bit fields starting `phase` (0..7) bits into the byte at `addr`, one per i32 lane. */
function fieldsAt(g: Module, k: number, signed: boolean, addr: Ref, phase: () => Ref, shift = 32 - k): Ref {
  const m = g.m;
  const I = m.i32;
  // 4k bits from the phase: at most 7 + 24 bits for k <= 6 (one i32), else 35 (an i64).
  const word =
    k <= 6
      ? I.shr_u(I.load(0, 1, addr), phase())
      : I.wrap(m.i64.shr_u(m.i64.load(0, 1, addr), m.i64.extend_u(phase())));
  // Lane i shifts its field to the top (left by 32 - (i + 1) k), then every lane shifts right by `shift`.
  const mul = [0, 1, 2, 3].map((i) => 2 ** (32 - (i + 1) * k));
  const top = m.i32x4.mul(m.i32x4.splat(word), i32x4Const(g, mul));
  return (signed ? m.i32x4.shr_s : m.i32x4.shr_u)(top, I.const(shift));
}

/**
 * Four sub-byte elements (canUnpack(d), d.bits < 8) whose first starts `phase` bits into the byte at
 * `addr`, as register lanes: for callers that track a row's byte and phase themselves.
 */
export function subByteLoad4(
  g: Module,
  d: DType,
  addr: Ref,
  phase: () => Ref,
  save: (v: Ref) => () => Ref,
): Ref {
  if (d.kind === 'int') return fieldsAt(g, d.bits, d.signed, addr, phase);
  if (d.kind === 'bool') return fieldsAt(g, 1, false, addr, phase);
  return floatFields(g, d, (signed, shift) => fieldsAt(g, d.bits, signed, addr, phase, shift), save);
}

/** Narrow-float fields (`fields` extracts them, shifted right from the top by `shift`) to f32 lanes. */
function floatFields(
  g: Module,
  d: DType,
  fields: (signed: boolean, shift: number) => Ref,
  save: (v: Ref) => () => Ref,
): Ref {
  if (smallFloatTable(d) || !isNarrowFloat(d)) return smallFloatLanes(g, d, fields(false, 32 - d.bits), save);
  return narrowFloatLanes(g, d, fields(true, narrowFloatShift(d)), save);
}

/** Narrow-float patterns (at most 4 bits, bf16-exact values) in i32 lanes to f32 lanes, by table. */
export function smallFloatLanes(g: Module, d: DType, patterns: Ref, save: (v: Ref) => () => Ref): Ref {
  const m = g.m;
  const I = m.i32;
  const table = smallFloatTable(d);
  if (!table) throw new Error(`internal: no v128 unpacking for ${d.name}`);
  // Lane bytes [p, 0x80, 0x80, 0x80]: swizzle yields the table byte for p and 0 for the rest.
  const idx = save(m.v128.or(patterns, m.i32x4.splat(I.const(0x80808000 | 0))));
  const byteTable = (shift: number) =>
    m.v128.const(Array.from({ length: 16 }, (_, p) => (table[p] >>> shift) & 0xff));
  const hi = m.i32x4.shl(m.i8x16.swizzle(byteTable(24), idx()), I.const(24));
  const lo = m.i32x4.shl(m.i8x16.swizzle(byteTable(16), idx()), I.const(16));
  return m.v128.or(hi, lo);
}

/** f16 patterns in i32 lanes to f32 values, exactly as decode() (NaN to the canonical NaN). */
function f16Lanes(g: Module, h: Ref, save: (v: Ref) => () => Ref): Ref {
  const m = g.m;
  const I = m.i32;
  const V = m.i32x4;
  const hv = save(h);
  const sign = save(V.shl(m.v128.and(hv(), V.splat(I.const(0x8000))), I.const(16)));
  const em = save(m.v128.and(hv(), V.splat(I.const(0x7fff))));
  // Normal and subnormal values: the magnitude bits moved to an f32's place, times 2^112 (exact).
  const finite = m.v128.or(
    m.f32x4.mul(V.shl(em(), I.const(13)), m.f32x4.splat(m.f32.const(2 ** 112))),
    sign(),
  );
  const inf = m.v128.or(sign(), V.splat(I.const(0x7f800000)));
  const withInf = m.v128.bitselect(inf, finite, V.eq(em(), V.splat(I.const(0x7c00))));
  return m.v128.bitselect(V.splat(I.const(0x7fc00000)), withInf, V.gt_s(em(), V.splat(I.const(0x7c00))));
}

/**
 * Elements e .. e + 3 of a `d` array at byte address `base`, as four register lanes (canUnpack(d)
 * must hold). Reads no byte outside the four elements for widths of 8 bits and more; narrower widths
 * read up to 8 bytes from the first element's byte, so the caller guarantees that much data follows.
 * `save` keeps a value in a fresh local and returns its reader.
 */
export function vectorLoad4(
  g: Module,
  d: DType,
  base: () => Ref,
  e: () => Ref,
  save: (v: Ref) => () => Ref,
): Ref {
  const m = g.m;
  const I = m.i32;
  const at = (bytes: number) => I.add(base(), bytes === 1 ? e() : I.shl(e(), I.const(Math.log2(bytes))));
  if (d.bits === 32) return m.v128.load(0, 4, at(4));
  if (d.kind === 'int' && d.bits === 16)
    return (d.signed ? m.v128.load16x4_s : m.v128.load16x4_u)(0, 2, at(2));
  if (d.kind === 'int' && d.bits === 8) {
    const bytes = m.v128.load32_zero(0, 1, at(1));
    return d.signed
      ? m.i32x4.extend_low_i16x8_s(m.i16x8.extend_low_i8x16_s(bytes))
      : m.i32x4.extend_low_i16x8_u(m.i16x8.extend_low_i8x16_u(bytes));
  }
  if (isBf16(d)) return m.i32x4.shl(m.v128.load16x4_u(0, 2, at(2)), I.const(16));
  if (isF16(d)) return f16Lanes(g, m.v128.load16x4_u(0, 2, at(2)), save);
  if (isNarrowFloat(d) && d.bits === 8) return narrowFloat8Load4(g, d, at(1), save);
  if (d.kind === 'int') return unpackBits(g, d.bits, d.signed, base, e);
  if (d.kind === 'bool') return unpackBits(g, 1, false, base, e);
  return floatFields(g, d, (signed, shift) => unpackBits(g, d.bits, signed, base, e, shift), save);
}
