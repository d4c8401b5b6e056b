// The field layouts of the sub-byte dot (dsl/backend/wasm/dot-fields.ts), checked apart from the
// code generator: each layout's loads, swizzles, shifts and masks are simulated on random packed
// chunks (with the bytes a load reads past the chunk random too), and every pass's lane must hold
// exactly the weight its `elems` names at bit 8 - shift, nothing else under its mask; every weight
// of the chunk must be used once. Signed weights: the loads' XOR constants must turn each field into
// q + 2^(w - 1). 5 bits' period (its half chunks loaded at 16-byte aligned offsets where they fit)
// is simulated the same way over 4 chunks. The generated code is checked against the interpreter in wasm-subbyte-dot.test.ts.
import { describe, expect, it } from 'vitest';
import { type FieldLayout, fieldLayout } from '../../dsl/backend/wasm/dot-fields.js';
import { randomInt, rng } from '../helpers/random.js';

/** Bits of a 16-byte vector as a bigint (little-endian). */
function toBig(bytes: readonly number[]): bigint {
  return bytes.reduceRight((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

function fromBig(x: bigint): number[] {
  return Array.from({ length: 16 }, (_, k) => Number((x >> BigInt(8 * k)) & 0xffn));
}

/** The view's 16 bytes for a chunk whose memory (chunk and past it) is `mem`. */
function view(layout: FieldLayout, v: number, mem: readonly number[], signed: boolean): number[] {
  const spec = layout.views[v];
  const { at, size } = layout.loads[spec.load];
  const loaded = Array.from({ length: 16 }, (_, k) => mem[at + (k % size)]);
  return swizzled(layout, v, loaded, spec.swizzle, signed);
}

/** View v of `loaded` (16 bytes) through `swizzle`, the sign XOR (signed) and the view's shift. */
function swizzled(
  layout: FieldLayout,
  v: number,
  loaded: readonly number[],
  swizzle: readonly number[] | undefined,
  signed: boolean,
): number[] {
  const spec = layout.views[v];
  let bytes = swizzle ? swizzle.map((i) => (i < 16 ? loaded[i] : 0)) : [...loaded];
  if (signed) bytes = bytes.map((b, k) => b ^ layout.signs[v][k]);
  if (spec.shift) {
    const { lanes, by } = spec.shift;
    const laneMask = (1n << BigInt(lanes)) - 1n;
    let out = 0n;
    const x = toBig(bytes);
    for (let l = 0; l < 128 / lanes; l++) {
      const lane = (x >> BigInt(l * lanes)) & laneMask;
      const moved = by > 0 ? (lane << BigInt(by)) & laneMask : lane >> BigInt(-by);
      out |= moved << BigInt(l * lanes);
    }
    bytes = fromBig(out);
  }
  return bytes;
}

/** Random w-bit codes and the bytes that pack them (LSB first), `extra` random bytes past them. */
function packed(r: () => number, w: number, count: number, extra: number): { q: number[]; mem: number[] } {
  const q = Array.from({ length: count }, () => randomInt(r, 0, 2 ** w - 1));
  const mem = Array.from({ length: (count * w) / 8 + extra }, () => randomInt(r, 0, 255));
  mem.fill(0, 0, (count * w) / 8);
  q.forEach((v, i) => {
    for (let b = 0; b < w; b++) if ((v >> b) & 1) mem[(w * i + b) >> 3] |= 1 << ((w * i + b) & 7);
  });
  return { q, mem };
}

/** Expects every lane of `pass` over view bytes `bytes` to hold code q[base + elem] (biased when signed). */
function expectLanes(
  w: number,
  pass: FieldLayout['passes'][number],
  bytes: number[],
  want: (e: number) => number,
) {
  for (let l = 0; l < 8; l++) {
    const lane = bytes[2 * l] | (bytes[2 * l + 1] << 8);
    const o = 8 - pass.shifts[l];
    expect(pass.masks[l]).toBe((2 ** w - 1) << o);
    expect((lane & pass.masks[l]) >> o, `${w}-bit lane ${l}`).toBe(want(pass.elems[l]));
    expect(o + w).toBeLessThanOrEqual(15);
  }
}

describe('sub-byte dot field layouts', () => {
  for (const w of [1, 2, 3, 5, 6, 7]) {
    it(`${w}-bit: every pass isolates the weights its planes name, each once`, () => {
      const layout = fieldLayout(w);
      expect(layout.per).toBe(32);
      expect(layout.bytes).toBe(4 * w);
      const used = layout.passes.flatMap((p) => p.elems).sort((a, b) => a - b);
      expect(used).toEqual(Array.from({ length: 32 }, (_, i) => i));
      const r = rng(100 + w);
      for (const signed of [false, true]) {
        for (let trial = 0; trial < 50; trial++) {
          const { q, mem } = packed(r, w, 32, layout.over);
          for (const pass of layout.passes) {
            const bytes = view(layout, pass.view, mem, signed);
            expectLanes(w, pass, bytes, (e) => (signed ? q[e] ^ (1 << (w - 1)) : q[e]));
          }
        }
      }
    });
  }

  it('only 3 bits reads past its chunk: one 16-byte load of 12 bytes', () => {
    for (const w of [1, 2, 5, 6, 7]) expect(fieldLayout(w).over, `${w}-bit`).toBe(0);
    expect(fieldLayout(3).loads).toEqual([{ at: 0, size: 16 }]);
    expect(fieldLayout(3).over).toBe(4);
  });

  it('5 bits: a period of 4 chunks loads 4 of its 8 half chunks 16-byte aligned, never past its end', () => {
    // The other widths' plain loads are as aligned as they can be (6 and 7 bits: 2 of 8 per 48 or
    // 112 bytes), or straddle cache lines and gain nothing from a period (3 bits: the GEMV is bound
    // by vector instructions, not by its loads), so only 5 bits has a period.
    for (const w of [1, 2, 3, 6, 7]) expect(fieldLayout(w).period, `${w}-bit`).toBeUndefined();
    const layout = fieldLayout(5);
    const period = layout.period!;
    expect(period.chunks).toBe(4);
    expect(period.loads.map((l) => l.at)).toEqual([0, 4, 16, 24, 40, 48, 60, 64]);
    for (const { at } of period.loads) expect(at + 16).toBeLessThanOrEqual(period.chunks * layout.bytes);
    const r = rng(205);
    for (const signed of [false, true]) {
      for (let trial = 0; trial < 50; trial++) {
        // Half k: chunk k >> 1's groups 2h, 2h + 1 (h = k & 1), through views 2h and 2h + 1.
        const { q, mem } = packed(r, 5, 32 * period.chunks, 0);
        period.loads.forEach(({ at, swizzle }, k) => {
          const h = k & 1;
          const loaded = mem.slice(at, at + 16);
          for (const v of [2 * h, 2 * h + 1]) {
            const bytes = swizzled(layout, v, loaded, swizzle, signed);
            const code = (e: number) => q[32 * (k >> 1) + e];
            expectLanes(5, layout.passes[v], bytes, (e) => (signed ? code(e) ^ 16 : code(e)));
          }
        });
      }
    }
  });
});
