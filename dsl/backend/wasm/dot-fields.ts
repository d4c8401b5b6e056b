// Field layouts of the sub-byte dot (dot-subbyte.ts) for integer weights of 1, 2, 3, 5, 6 and 7
// bits: how a chunk of 32 packed weights (4w bytes) becomes four i16x8 vectors of weights, each
// weight isolated in place in its lane by an AND mask, ready for i32x4.dot_i16x8_s against a plane
// of activations.
//
// A weight isolated at bit o of its 16-bit lane is worth q 2^o; the activation plane's lane holds
// x 2^(8 - o), so every product is q x 2^8 and the sums shift back down exactly (S = 8). That needs
// o <= 8 (with |x| <= 128 the plane fits i16) and o + w <= 15 (the lane stays a positive i16).
//
// Every layout spends at most one load, one i8x16.swizzle and one shift per 16 weights, and keeps
// few constants (masks, swizzles, a sign XOR) live, so four weight rows, four planes and their
// accumulators stay in x64's 16 xmm registers (V8 11.3 hoists a basic block's loads to its start;
// the 5-7-bit chunks' two loads per row run as two halves in two blocks, dot-subbyte.ts). The
// earlier layouts, a swizzle per 8 weights with 4 swizzle constants, or 1-bit chunks of 128
// weights with 16 planes and 8 masks, spilled and ran 1.1-1.5x slower:
// - 1 bit: the chunk's 4 bytes splatted into every i32 lane (load32_splat); i32 lane c's low i16
//   holds weights 0-15 at bits 0-15, its high i16 weights 16-31. Masks 1 << c and 1 << (4 + c)
//   pick weights c and 4 + c (+ 16 in the high half) from the load, and from it shifted right by 8
//   in each i16 lane (weights 8 + c, 12 + c): 2 masks, 1 shift.
// - 2 bits: the chunk's 8 bytes splatted into both i64 lanes (load64_splat); i16 lane k of copy c
//   holds weights 8k..8k + 7. Copy c's mask picks field c, or 2 + c, of the load or of it shifted
//   right by 8: 2 masks, 1 shift.
// - 3 bits: one swizzle puts 12 bits (4 fields) of the chunk's 12 bytes into each i16 lane, at
//   o = 0 or 4; masks 7 << o and 7 << (o + 3) pick fields 0 and 1 of each lane, and again from the
//   swizzled value shifted right by 6 (fields 2 and 3). The 12 bytes are read by one 16-byte load
//   (4 bytes past the chunk: rows whose last chunk ends within 4 bytes of the tensor's end take the
//   element path). Until session 8 they were read as 8 and 4 (load64_zero, load32_lane), because
//   16 bytes straddled a cache line in 3 of 16 chunks and ran 1.04-1.08x slower while the GEMV
//   waited on DRAM; on 64-row weight tiles it waits on vector instructions, and the lane insert
//   was one of them: one load ran the 4096x4096 u3 and i3 int8 GEMV 1.07x and 1.08x faster
//   (interleaved in one process, outputs bit-identical). Per chunk and weight row that leaves 14
//   vector instructions (the swizzle, the shift, 4 ANDs, 4 dots, 4 adds) against 12 for 4 bits (3
//   ANDs and a shift, no swizzle), and the GEMV runs about 1.2x u4, as that count says, spills or not.
//   Fewer spills cost more than they saved: one mask after shifts by 3, 6 and 9 (half the spills, 2
//   more shifts: 1.04-1.10x slower), each weight row in its own basic block behind an always-taken
//   branch (no spills for u3: 1.11-1.16x slower), 2 or 8 rows per block (1.13-1.17x, 1.3-1.5x
//   slower). Nor does a layout that drops the shift or a mask exist among byte-windowed lanes:
//   fields 3, 4 and 5 of each 8 (bits 9-17 of 24) lie at o <= 8 only in the lane from the group's
//   second byte, three of them, so lanes taking two fields each (two masks, no shift; or 8-byte
//   splat loads in place of the swizzle) cannot cover them, and the top field a shift isolates
//   without a mask (bits 13-15) also lies only there.
// - 5 and 6 bits: two loads of two 8-weight groups each (w bytes per group); a swizzle puts fields
//   2i and 2i + 1 of each group into i16 lane i (o = 10i mod 8, or 12i mod 8, and o + 2w <= 16);
//   one mask picks field 2i, the same mask after a shift right by w field 2i + 1.
// - 7 bits: two loads of two groups each; a swizzle puts each group's 7 bytes in an i64 lane, where
//   fields 1, 3, 5, 7 lie at o = 7, 5, 3, 1 of its four i16 lanes; the same mask after an i64 shift
//   left by 7 picks fields 0, 2, 4, 6.
// The loads of 5, 6 and 7 bits sit at 4-byte-aligned offsets inside the chunk (at its start and
// ending at its end, or at 12 for 7 bits), each with its own swizzle: loads starting on the second
// pair of groups, at 2 mod 4 for 5 and 7 bits, shared one swizzle but ran 1.2x slower. None of
// their loads reads past its chunk. Planes are gathers of the chunk's 32 activations, lane scaled
// by 2^(8 - o).
// - 5 bits also has a period (FieldPeriod) of 4 chunks, 80 bytes: each half chunk (two groups, one
//   load) is loaded at a 16-byte-aligned offset of the period where one holds it (halves 0, 2, 5,
//   7), else where the plain layout loads it, each with the swizzle for its place (4 swizzles).
//   A 16-byte load off a 16-byte boundary straddles a cache line 1 time in 4: the plain loads
//   (20c, 20c + 4) straddled 3 times in 16, the period's 2 in 16 as 6 bits' do (i5 GEMV
//   1.12-1.16x, u5 1.01-1.04x faster). A half uses one of the 4 swizzles (V8 keeps them in
//   registers, or reloads one per half from the stack).
// Signed weights are biased to unsigned by XOR with each field's sign bit, q + 2^(w - 1), after the
// swizzle (where both loads' groups line up alike, so 5-7 bits keep one constant, not one per load)
// and before the shift; the caller subtracts 2^(w - 1) sum(x).

/** One load of a chunk: 16 bytes, or 4 or 8 bytes repeated across the v128. */
export interface FieldLoad {
  /** Byte offset within the chunk. */
  readonly at: number;
  readonly size: 4 | 8 | 16;
}

/** A vector the passes mask: a load, swizzled and then shifted (each optional). */
export interface FieldView {
  readonly load: number;
  /** i8x16.swizzle byte indices (< 16, or 0x80 for a zero byte). */
  readonly swizzle?: readonly number[];
  /** A shift of `lanes`-bit lanes, left by `by` > 0 or right (unsigned) by -by. */
  readonly shift?: { readonly lanes: 16 | 64; readonly by: number };
}

/** One i16x8 vector of isolated weights, its mask and the activations it multiplies. */
export interface FieldPass {
  /** Which of FieldLayout.views it masks. */
  readonly view: number;
  /** Per i16 lane: the mask that isolates its weight. */
  readonly masks: readonly number[];
  /** Per i16 lane: the weight's index within the chunk (the activation it multiplies). */
  readonly elems: readonly number[];
  /** Per i16 lane: the plane's scale exponent, 8 - o. */
  readonly shifts: readonly number[];
}

export interface FieldLayout {
  readonly bits: number;
  /** Weights per chunk. */
  readonly per: number;
  /** Bytes of weights per chunk (the loads' stride). */
  readonly bytes: number;
  readonly loads: readonly FieldLoad[];
  readonly views: readonly FieldView[];
  /** Bytes the last load reads past the chunk (the caller checks they lie inside the tensor). */
  readonly over: number;
  readonly passes: readonly FieldPass[];
  /**
   * Per view: the 16 bytes whose XOR, after the view's swizzle and before its shift, biases signed
   * weights to unsigned (each field's top bit).
   */
  readonly signs: readonly (readonly number[])[];
  /**
   * Two-load layouts whose chunk is not a multiple of 16 bytes and whose fixed load offsets put
   * fewer loads on 16-byte boundaries than could be (5 bits): the loads of a period of `chunks`
   * chunks (a multiple of 16 bytes), one per half chunk, in order.
   */
  readonly period?: FieldPeriod;
}

/**
 * One load per half chunk (two groups, both loads' views' passes) over a period of chunks: at a
 * 16-byte aligned offset from the period's start wherever one holds the half, else where the plain
 * layout loads it, each with the swizzle for its place. With the period's start 16-byte aligned
 * (the LLM's rows and groups are), an aligned load never straddles a cache line where the others
 * do 1 time in 4. 5 bits, plain: 2 of 8 loads aligned, not 4; the GEMV ran 1.12-1.16x slower (i5).
 */
export interface FieldPeriod {
  readonly chunks: number;
  readonly loads: readonly { readonly at: number; readonly swizzle: readonly number[] }[];
}

const layouts = new Map<number, FieldLayout>();
const lanes8 = Array.from({ length: 8 }, (_, l) => l);

/** A pass from per-lane (field offset o, chunk element) pairs. */
function pass(view: number, w: number, lane: (l: number) => { o: number; elem: number }): FieldPass {
  const at = lanes8.map(lane);
  return {
    view,
    masks: at.map(({ o }) => ((1 << w) - 1) << o),
    elems: at.map(({ elem }) => elem),
    shifts: at.map(({ o }) => 8 - o),
  };
}

/** 5 and 6 bits: lane i of group g holds fields 2i, 2i + 1 (the swizzle), picked at o and o + w. */
function pairLayout(w: number): Pick<FieldLayout, 'loads' | 'views' | 'passes' | 'period'> {
  const window = (i: number) => ({ byte: (2 * i * w) >> 3, o: (2 * i * w) & 7 });
  // Loads at the chunk's start and ending at its end (offsets 2 mod 4 ran slower), each holding
  // two whole groups.
  const loads = [0, 4 * w - 16];
  const swizzle = (at: number, first: number) =>
    lanes8.flatMap((l) => {
      const b = w * (first + (l >> 2)) + window(l & 3).byte - at;
      return [b, b + 1];
    });
  const views: FieldView[] = loads.flatMap((at, load) => [
    { load, swizzle: swizzle(at, 2 * load) },
    { load, swizzle: swizzle(at, 2 * load), shift: { lanes: 16, by: -w } } as const,
  ]);
  const passes = [0, 1, 2, 3].map((v) =>
    pass(v, w, (l) => ({ o: window(l & 3).o, elem: 16 * (v >> 1) + 8 * (l >> 2) + 2 * (l & 3) + (v & 1) })),
  );
  return {
    loads: loads.map((at) => ({ at, size: 16 })),
    views,
    passes,
    period: pairPeriod(w, loads, swizzle),
  };
}

/**
 * The period of a pair layout (FieldPeriod), when it puts more loads on 16-byte boundaries than
 * the plain loads at `plain` of each chunk do.
 */
function pairPeriod(
  w: number,
  plain: readonly number[],
  swizzle: (at: number, first: number) => number[],
): FieldPeriod | undefined {
  const bytes = 4 * w;
  let chunks = 1;
  while ((chunks * bytes) % 16 !== 0) chunks++;
  const loads: { at: number; swizzle: number[] }[] = [];
  let aligned = 0;
  let plainAligned = 0;
  for (let c = 0; c < chunks; c++) {
    for (let h = 0; h < 2; h++) {
      // Half h of chunk c: groups 2h, 2h + 1, bytes [start, start + 2w) of the period.
      const start = c * bytes + 2 * h * w;
      const up = Math.floor(start / 16) * 16;
      const fits = up + 16 >= start + 2 * w;
      const at = fits ? up : c * bytes + plain[h];
      if (fits) aligned++;
      if ((c * bytes + plain[h]) % 16 === 0) plainAligned++;
      loads.push({ at, swizzle: swizzle(at - c * bytes, 2 * h) });
    }
  }
  return aligned > plainAligned ? { chunks, loads } : undefined;
}

/** The layout for w-bit weights (w in 1, 2, 3, 5, 6, 7). */
export function fieldLayout(w: number): FieldLayout {
  let layout = layouts.get(w);
  if (layout) return layout;
  if (w < 1 || w > 7 || w === 4) throw new RangeError(`fieldLayout: no field layout for ${w}-bit weights`);
  const per = 32;
  const bytes = (per * w) / 8;
  let shape: Pick<FieldLayout, 'loads' | 'views' | 'passes' | 'period'>;
  const shr8 = { lanes: 16, by: -8 } as const;
  if (w === 1) {
    // Lane l = 2c + h: weight 16h + 8 (view) + 4 (p & 1) + c at bit 4 (p & 1) + c.
    shape = {
      loads: [{ at: 0, size: 4 }],
      views: [{ load: 0 }, { load: 0, shift: shr8 }],
      passes: [0, 1, 2, 3].map((p) =>
        pass(p >> 1, 1, (l) => {
          const o = 4 * (p & 1) + (l >> 1);
          return { o, elem: 16 * (l & 1) + 8 * (p >> 1) + o };
        }),
      ),
    };
  } else if (w === 2) {
    // Lane l = 4c + k: weight 8k + 4 (view) + f at bit 2f, f = 2 (p & 1) + c.
    shape = {
      loads: [{ at: 0, size: 8 }],
      views: [{ load: 0 }, { load: 0, shift: shr8 }],
      passes: [0, 1, 2, 3].map((p) =>
        pass(p >> 1, 2, (l) => {
          const f = 2 * (p & 1) + (l >> 2);
          return { o: 2 * f, elem: 8 * (l & 3) + 4 * (p >> 1) + f };
        }),
      ),
    };
  } else if (w === 3) {
    // Lane l: bytes 12l / 8 and the next, fields 4l..4l + 3 from o = 12l mod 8.
    const swizzle = lanes8.flatMap((l) => [(12 * l) >> 3, ((12 * l) >> 3) + 1]);
    shape = {
      loads: [{ at: 0, size: 16 }],
      views: [
        { load: 0, swizzle },
        { load: 0, swizzle, shift: { lanes: 16, by: -6 } },
      ],
      passes: [0, 1, 2, 3].map((p) =>
        pass(p >> 1, 3, (l) => ({ o: ((12 * l) & 7) + 3 * (p & 1), elem: 4 * l + p })),
      ),
    };
  } else if (w === 7) {
    // i64 lane g of a load: group g's 7 bytes; i16 lane k holds field 2k + 1 at o = 7 - 2k, and
    // after the shift left by 7, field 2k.
    const loads = [0, 12];
    const swizzle = (at: number, first: number) =>
      [0, 1].flatMap((g) => [...Array.from({ length: 7 }, (_, b) => 7 * (first + g) + b - at), 0x80]);
    const views: FieldView[] = loads.flatMap((at, load) => [
      { load, swizzle: swizzle(at, 2 * load) },
      { load, swizzle: swizzle(at, 2 * load), shift: { lanes: 64, by: 7 } } as const,
    ]);
    shape = {
      loads: loads.map((at) => ({ at, size: 16 })),
      views,
      passes: [0, 1, 2, 3].map((v) =>
        pass(v, 7, (l) => ({
          o: 7 - 2 * (l & 3),
          elem: 16 * (v >> 1) + 8 * (l >> 2) + 2 * (l & 3) + 1 - (v & 1),
        })),
      ),
    };
  } else {
    shape = pairLayout(w);
  }
  for (const p of shape.passes) {
    p.masks.forEach((_, l) => {
      const o = 8 - p.shifts[l];
      if (o < 0 || o > 8 || o + w > 15) throw new Error(`fieldLayout: ${w}-bit field at bit ${o}`);
    });
  }
  // Each field's top bit in the chunk, then each load's bytes of that (repeated for splats).
  const chunkSigns = Array<number>(bytes).fill(0);
  for (let f = 0; f < per; f++) {
    const bit = w * f + w - 1;
    chunkSigns[bit >> 3] |= 1 << (bit & 7);
  }
  const loadSigns = shape.loads.map(({ at, size }) =>
    Array.from({ length: 16 }, (_, k) => chunkSigns[at + (k % size)] ?? 0),
  );
  const signs = shape.views.map(({ load, swizzle }) =>
    swizzle ? swizzle.map((i) => (i < 16 ? loadSigns[load][i] : 0)) : loadSigns[load],
  );
  layout = {
    bits: w,
    per,
    bytes,
    ...shape,
    over: Math.max(0, ...shape.loads.map(({ at, size }) => at + size - bytes)),
    signs,
  };
  layouts.set(w, layout);
  return layout;
}

/** The 16 little-endian bytes of eight i16 lanes. */
export function i16Bytes(lanes: readonly number[]): number[] {
  return lanes.flatMap((x) => [x & 0xff, (x >> 8) & 0xff]);
}
