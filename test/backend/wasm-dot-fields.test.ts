// The field layouts of the sub-byte dot (dsl/backend/wasm/dot-fields.ts), checked apart from the
// code generator: each layout's loads, swizzles, shifts and masks are simulated on random packed
// chunks (with the bytes a load reads past the chunk random too), and every pass's lane must hold
// exactly the weight its `elems` names at bit 8 - shift, nothing else under its mask; every weight
// of the chunk must be used once. Signed weights: the loads' XOR constants must turn each field into
// q + 2^(w - 1). The generated code is checked against the interpreter in wasm-subbyte-dot.test.ts.
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
  let bytes = Array.from({ length: 16 }, (_, k) => (size === 12 && k >= 12 ? 0 : mem[at + (k % size)]));
  if (spec.swizzle) bytes = spec.swizzle.map((i) => (i < 16 ? bytes[i] : 0));
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
          const q = Array.from({ length: 32 }, () => randomInt(r, 0, 2 ** w - 1));
          const mem = Array.from({ length: layout.bytes + layout.over }, () => randomInt(r, 0, 255));
          mem.fill(0, 0, layout.bytes);
          q.forEach((v, i) => {
            for (let b = 0; b < w; b++) if ((v >> b) & 1) mem[(w * i + b) >> 3] |= 1 << ((w * i + b) & 7);
          });
          for (const pass of layout.passes) {
            const bytes = view(layout, pass.view, mem, signed);
            for (let l = 0; l < 8; l++) {
              const lane = bytes[2 * l] | (bytes[2 * l + 1] << 8);
              const o = 8 - pass.shifts[l];
              expect(pass.masks[l]).toBe((2 ** w - 1) << o);
              const want = signed ? q[pass.elems[l]] ^ (1 << (w - 1)) : q[pass.elems[l]];
              expect((lane & pass.masks[l]) >> o, `${signed ? 'i' : 'u'}${w} lane ${l}`).toBe(want);
              expect(o + w).toBeLessThanOrEqual(15);
            }
          }
        }
      }
    });
  }
});
