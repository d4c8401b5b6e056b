// Whole-word unpacking of sub-byte integer, bool and narrow-float rows in fused loops: one v128 load
// feeds a group of 4-lane chunks (32 nibbles for 4-bit elements) instead of one unaligned i32 load
// per chunk.
//
// A group covers E elements that start on a byte and fit in 16 bytes (E * k <= 128, E a multiple of
// 4 and of 8 / gcd(k, 8)), so every field's bit position in the word is known at compile time:
// - widths 1, 2 and 4 (fields never straddle a byte) isolate each bit plane with one i16x8 shift and
//   a byte mask and interleave the planes with i8x16 shuffles into one element per byte, in order;
//   a chunk's four bytes then go to i32 lanes with one swizzle (unsigned), or are sign-extended at
//   byte level (xor/sub) and widened with extends (signed);
// - the other widths (3, 5, 6, 7) swizzle each lane's one or two bytes to the top of the lane, shift
//   the field's top bit to bit 31 (one multiply by per-lane powers of two) and shift right by 32 - k,
//   arithmetic or logical;
// - narrow floats (floatDecoder): by table for the bf16-exact ones of at most 4 bits, else the
//   straddle step with an arithmetic shift into narrowFloatLanes.
// Constants come from a pool of locals set before the chunk loops (binaryen may fold them back in).
import type { DType, FloatDType } from '../../dtype.js';
import type { Module, Ref, Val } from './fn.js';
import { smallFloatLanes, smallFloatTable } from './unpack.js';
import { isNarrowFloat, narrowFloatLanes, narrowFloatShift } from './unpack-float.js';

/** Elements per v128 word for k-bit elements (k in 1..7). */
export function wordElements(k: number): number {
  const unit = lcm(4, 8 / gcd(k, 8));
  return Math.floor(128 / (unit * k)) * unit;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function lcm(a: number, b: number): number {
  return (a * b) / gcd(a, b);
}

/** Whether rows of d decode a word at a time (sub-byte integers, bools and narrow floats). */
export function wordDecodable(d: DType): boolean {
  return d.bits < 8 && (d.kind === 'int' || d.kind === 'bool' || isNarrowFloat(d));
}

/** A v128 constant, given once: the caller hoists it into a local. */
export type ConstPool = (bytes: readonly number[]) => Val;

/** How one word's chunks are produced; `chunk(j)` yields chunk j's i32 lanes (0 <= j < E / 4). */
export interface WordDecoder {
  chunk(j: number): Ref;
}

/**
 * The decoder of one word of k-bit elements, read from `word` (a v128 local's reader). `save` keeps
 * a value in a fresh local (its set statement goes before the current value) and returns the reader.
 */
export function wordDecoder(
  g: Module,
  d: DType,
  word: Val,
  pool: ConstPool,
  save: (v: Ref) => Val,
): WordDecoder {
  if (d.kind === 'float') return floatDecoder(g, d, word, pool, save);
  const k = d.kind === 'bool' ? 1 : d.bits;
  const signed = d.kind === 'int' && d.signed;
  if (k === 1 || k === 2 || k === 4) return planeDecoder(g, k, signed, word, pool, save);
  return straddleDecoder(g, k, signed, word, pool);
}

function splatBytes(b: number): number[] {
  return Array.from({ length: 16 }, () => b & 0xff);
}

/** Widths 1, 2, 4: bit planes interleaved into one element per byte, widened by extends. */
function planeDecoder(
  g: Module,
  k: number,
  signed: boolean,
  word: Val,
  pool: ConstPool,
  save: (v: Ref) => Val,
): WordDecoder {
  const m = g.m;
  const unsignedBytes = planeBytes(g, k, word, pool, save);
  let bytes: Val[] | undefined;
  const byteVectors = (): Val[] => {
    if (bytes) return bytes;
    bytes = unsignedBytes();
    if (signed) {
      const bias = pool(splatBytes(2 ** (k - 1)));
      bytes = bytes.map((v) => save(m.i8x16.sub(m.v128.xor(v(), bias()), bias())));
    }
    return bytes;
  };
  const wide = new Map<number, Val>();
  return {
    chunk(j) {
      const vec = byteVectors()[j >> 2];
      if (!signed) {
        // One swizzle zero-extends the chunk's four bytes into i32 lanes.
        const idx = [0, 1, 2, 3].flatMap((i) => [4 * (j & 3) + i, 0x80, 0x80, 0x80]);
        return m.i8x16.swizzle(vec(), pool(idx)());
      }
      // Signed: sign-extending widenings, 8 elements per i16 half (kept for its second chunk).
      let half = wide.get(j >> 1);
      if (!half) {
        const low = ((j >> 1) & 1) === 0;
        half = save((low ? m.i16x8.extend_low_i8x16_s : m.i16x8.extend_high_i8x16_s)(vec()));
        wide.set(j >> 1, half);
      }
      return ((j & 1) === 0 ? m.i32x4.extend_low_i16x8_s : m.i32x4.extend_high_i16x8_s)(half());
    },
  };
}

/**
 * Widths 1, 2, 4: the word's elements one per byte, in order, 16 a vector (zero-extended), built on
 * first use: each bit plane isolated by a shift and a mask, the planes interleaved by shuffles.
 */
function planeBytes(g: Module, k: number, word: Val, pool: ConstPool, save: (v: Ref) => Val): () => Val[] {
  const m = g.m;
  const mask = pool(splatBytes(2 ** k - 1));
  const planes = 8 / k;
  let bytes: Val[] | undefined;
  return () => {
    if (bytes) return bytes;
    // Plane p holds field p of every byte (bits p k .. p k + k - 1), in place as a byte value.
    const level: Val[] = Array.from({ length: planes }, (_, p) =>
      save(m.v128.and(p === 0 ? word() : m.i16x8.shr_u(word(), m.i32.const(p * k)), mask())),
    );
    // Merge adjacent streams pairwise (fields 0,1 then 0-3 then 0-7 of each byte next to each
    // other, in units of `unit` bytes) until one stream holds the elements in order, 16 a vector.
    let streams: Val[][] = level.map((v) => [v]);
    for (let unit = 1; streams.length > 1; unit *= 2) {
      const next: Val[][] = [];
      for (let s = 0; s < streams.length; s += 2) {
        const [a, b] = [streams[s], streams[s + 1]];
        next.push(
          a.flatMap((_, v) => [
            save(m.i8x16.shuffle(a[v](), b[v](), interleave(unit, 0))),
            save(m.i8x16.shuffle(a[v](), b[v](), interleave(unit, 1))),
          ]),
        );
      }
      streams = next;
    }
    bytes = streams[0];
    return bytes;
  };
}

/**
 * Shuffle lanes interleaving units of `unit` bytes of a (lanes 0..15) and b (16..31): half 0 takes
 * the units of bytes 0..7, half 1 those of bytes 8..15.
 */
function interleave(unit: number, half: 0 | 1): number[] {
  const out: number[] = [];
  const base = half * 8;
  for (let u = 0; u < 8 / unit; u++) {
    for (let i = 0; i < unit; i++) out.push(base + u * unit + i);
    for (let i = 0; i < unit; i++) out.push(16 + base + u * unit + i);
  }
  return out;
}

/** Widths 3, 5, 6, 7: per-lane byte swizzle, multiply to the top of the lane, shift right. */
function straddleDecoder(g: Module, k: number, signed: boolean, word: Val, pool: ConstPool): WordDecoder {
  const m = g.m;
  return {
    chunk(j) {
      return (signed ? m.i32x4.shr_s : m.i32x4.shr_u)(straddleTop(g, k, j, word, pool), m.i32.const(32 - k));
    },
  };
}

/** Chunk j's four k-bit fields, each with its top bit at bit 31 of its lane (other fields below). */
function straddleTop(g: Module, k: number, j: number, word: Val, pool: ConstPool): Ref {
  const m = g.m;
  const idx: number[] = [];
  const mul: number[] = [];
  for (let i = 0; i < 4; i++) {
    const bit = (4 * j + i) * k;
    const b = bit >> 3;
    const o = bit & 7;
    // Lane bytes [_, _, b, b + 1]: the field sits at bits 16 + o .. 16 + o + k - 1.
    idx.push(0x80, 0x80, b, o + k > 8 ? b + 1 : 0x80);
    mul.push(2 ** (16 - o - k));
  }
  const top = m.i8x16.swizzle(word(), pool(idx)());
  if (mul.every((x) => x === 1)) return top;
  return mul.every((x) => x === mul[0])
    ? m.i32x4.shl(top, m.i32.const(Math.log2(mul[0])))
    : m.i32x4.mul(top, pool(Array.from(new Uint8Array(new Int32Array(mul).buffer)))());
}

/**
 * Narrow floats (k < 8). Formats of at most 4 bits with bf16-exact values decode by table: the
 * codes one per byte (bit planes, widths 1, 2, 4; else fields in i32 lanes), two byte swizzles of
 * the table give each f32's top two bytes. The others get their code's top (sign) bit to bit 31,
 * as straddleDecoder does, then an arithmetic shift by narrowFloatShift hands them to
 * narrowFloatLanes; bits below the code may hold other fields: narrowFloatLanes reads only the sign
 * bit and the code's own bits, so no masking is needed.
 */
function floatDecoder(
  g: Module,
  d: FloatDType,
  word: Val,
  pool: ConstPool,
  save: (v: Ref) => Val,
): WordDecoder {
  const m = g.m;
  const k = d.bits;
  const table = smallFloatTable(d);
  if (table && (k === 1 || k === 2 || k === 4)) {
    const codes = planeBytes(g, k, word, pool, save);
    const tableBytes = (shift: number) =>
      pool(Array.from({ length: 16 }, (_, p) => (table[p] >>> shift) & 0xff));
    // Per 16 codes, their f32s' bytes 2 and 3 (two table swizzles); per 8, those as i16 pairs.
    const tops = new Map<number, [Val, Val]>();
    const pairs = new Map<number, Val>();
    const pairsOf = (h: number): Val => {
      let v = pairs.get(h);
      if (v) return v;
      let lohi = tops.get(h >> 1);
      if (!lohi) {
        const c = codes()[h >> 1];
        lohi = [save(m.i8x16.swizzle(tableBytes(16)(), c())), save(m.i8x16.swizzle(tableBytes(24)(), c()))];
        tops.set(h >> 1, lohi);
      }
      const base = 8 * (h & 1);
      const idx = Array.from({ length: 8 }, (_, i) => [base + i, 16 + base + i]).flat();
      v = save(m.i8x16.shuffle(lohi[0](), lohi[1](), idx));
      pairs.set(h, v);
      return v;
    };
    return {
      chunk(j) {
        const q = 4 * (j & 1);
        const idx = [0, 1, 2, 3].flatMap((i) => [0x80, 0x80, 2 * (q + i), 2 * (q + i) + 1]);
        return m.i8x16.swizzle(pairsOf(j >> 1)(), pool(idx)());
      },
    };
  }
  if (table) {
    const fields = straddleDecoder(g, k, false, word, pool);
    return { chunk: (j) => smallFloatLanes(g, d, fields.chunk(j), save) };
  }
  const toF32 = (top: Ref): Ref =>
    narrowFloatLanes(g, d, m.i32x4.shr_s(top, m.i32.const(narrowFloatShift(d))), save);
  return { chunk: (j) => toF32(straddleTop(g, k, j, word, pool)) };
}
