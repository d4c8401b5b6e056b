// Field layouts of the sub-byte dot (dot-subbyte.ts) for integer weights of 1, 2, 3, 5, 6 and 7
// bits: how one v128 of packed weights becomes i16x8 vectors of weights, each weight isolated in
// place in its lane by an AND mask, ready for i32x4.dot_i16x8_s against a plane of activations.
//
// A weight isolated at bit o of its 16-bit lane is worth q 2^o; the activation plane's lane holds
// x 2^(8 - o), so every product is q x 2^8 and the sums shift back down exactly (S = 8). That needs
// o <= 8 (with |x| <= 128 the plane fits i16) and o + w <= 15 (the lane stays a positive i16).
//
// - 1 and 2 bits (fields never straddle a byte): a v128 is 128 / w weights; each i16 lane holds
//   16 / w of them. The low byte's fields are masked in v (o = 0, w, ..), the high byte's in
//   v >>u 8 (one shift per v128), so every o <= 7. Plane (h, r), lane j holds weight
//   (16 / w) j + (8 / w) h + r: a strided gather of the activations.
// - 3, 5, 6 and 7 bits (fields straddle bytes): a group of 8 weights is w bytes. Per group one
//   i8x16.swizzle copies into lane i the two bytes [w i / 8, + 1] of the group (little-endian), so
//   weight i lies at o_i = w i mod 8 <= 7, and one AND with the lane masks (2^w - 1) << o_i isolates
//   all 8. A chunk is 4 groups (32 weights): 12 bytes for 3 bits, one load reading 4 bytes past
//   the chunk (the caller checks that they lie inside the tensor); 20, 24, 28 bytes for 5, 6, 7
//   bits, two loads (at the chunk's start and ending at its end). Planes are contiguous
//   activations, lane i scaled by 2^(8 - o_i).
// Signed weights are biased to unsigned by XOR with each field's sign bit (one constant per load),
// q + 2^(w - 1); the caller subtracts 2^(w - 1) sum(x).

/** One i16x8 vector of isolated weights, its mask and the activations it multiplies. */
export interface FieldPass {
  /** Which of the chunk's loads (FieldLayout.loads) it reads. */
  readonly load: number;
  /** 0: the loaded v128; 1: it shifted right by 8 in each i16 lane. */
  readonly view: 0 | 1;
  /** i8x16.swizzle byte indices applied to the view first (< 16, or 0x80 for a zero byte), if any. */
  readonly swizzle?: readonly number[];
  /** Per i16 lane: the mask that isolates its weight. */
  readonly masks: readonly number[];
  /** Per i16 lane: the weight's index within the chunk (the activation it multiplies). */
  readonly elems: readonly number[];
  /** Per i16 lane: the plane's scale exponent, 8 - o. */
  readonly shifts: readonly number[];
}

export interface FieldLayout {
  readonly bits: number;
  /** Weights per chunk (one v128 load). */
  readonly per: number;
  /** Bytes of weights per chunk (the loads' stride). */
  readonly bytes: number;
  /** Byte offsets within the chunk of its 16-byte loads. */
  readonly loads: readonly number[];
  /** Bytes the last load reads past the chunk (the caller checks they lie inside the tensor). */
  readonly over: number;
  readonly passes: readonly FieldPass[];
  /** Per load: the 16 bytes whose XOR biases signed weights to unsigned (each field's top bit). */
  readonly signs: readonly (readonly number[])[];
  /** Whether some pass reads view 1. */
  readonly shifted: boolean;
}

const layouts = new Map<number, FieldLayout>();

/** The layout for w-bit weights (w in 1, 2, 3, 5, 6, 7). */
export function fieldLayout(w: number): FieldLayout {
  let layout = layouts.get(w);
  if (layout) return layout;
  if (w < 1 || w > 7 || w === 4) throw new RangeError(`fieldLayout: no field layout for ${w}-bit weights`);
  const passes: FieldPass[] = [];
  const loads: number[] = [];
  const fieldMask = (1 << w) - 1;
  let per: number;
  if (8 % w === 0) {
    per = 128 / w;
    loads.push(0);
    const lane = 16 / w;
    const half = 8 / w;
    for (const view of [0, 1] as const) {
      for (let r = 0; r < half; r++) {
        passes.push({
          load: 0,
          view,
          masks: Array(8).fill(fieldMask << (w * r)),
          elems: Array.from({ length: 8 }, (_, j) => lane * j + half * view + r),
          shifts: Array(8).fill(8 - w * r),
        });
      }
    }
  } else {
    // Chunks of 4 groups, loaded at multiples of 4 bytes (2 groups of 5 or 7 bits per load, at 2
    // mod 4, ran up to 1.4x slower): 12 bytes of 3-bit weights in one load reading 4 bytes past the
    // chunk; 20, 24, 28 bytes of 5-, 6-, 7-bit ones in two loads, at the chunk's start and ending
    // at its end, each group wholly in one. 8 groups would need 8 swizzle constants, more than the
    // registers hold beside the planes (3 bits: 2.8x slower).
    const groups = 4;
    per = 8 * groups;
    const bytes = groups * w;
    loads.push(...(bytes > 16 ? [0, bytes - 16] : [0]));
    for (let g = 0; g < groups; g++) {
      const lanes = Array.from({ length: 8 }, (_, i) => i);
      const load = g * w + w <= 16 ? 0 : 1;
      // A byte past the load (only a field that does not straddle asks for it) reads 0: index 0x80
      // (top bit set) keeps the swizzle a plain byte shuffle on x64.
      const at = (b: number) => (b - loads[load] < 16 ? b - loads[load] : 0x80);
      passes.push({
        load,
        view: 0,
        swizzle: lanes.flatMap((i) => [at(g * w + ((w * i) >> 3)), at(g * w + ((w * i) >> 3) + 1)]),
        masks: lanes.map((i) => fieldMask << ((w * i) & 7)),
        elems: lanes.map((i) => 8 * g + i),
        shifts: lanes.map((i) => 8 - ((w * i) & 7)),
      });
    }
  }
  const bytes = (per * w) / 8;
  // Each field's top bit in the chunk, then each load's 16 bytes of that.
  const chunkSigns = Array<number>(bytes).fill(0);
  for (let f = 0; f < per; f++) {
    const bit = w * f + w - 1;
    chunkSigns[bit >> 3] |= 1 << (bit & 7);
  }
  const signs = loads.map((at) => Array.from({ length: 16 }, (_, k) => chunkSigns[at + k] ?? 0));
  layout = {
    bits: w,
    per,
    bytes,
    loads,
    over: Math.max(0, loads[loads.length - 1] + 16 - bytes),
    passes,
    signs,
    shifted: passes.some((p) => p.view === 1),
  };
  layouts.set(w, layout);
  return layout;
}

/** The 16 little-endian bytes of eight i16 lanes. */
export function i16Bytes(lanes: readonly number[]): number[] {
  return lanes.flatMap((x) => [x & 0xff, (x >> 8) & 0xff]);
}
