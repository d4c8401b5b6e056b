// Whole-word unpacking of sub-byte rows in fused loops (dsl/backend/wasm/words.ts): one v128 load
// per group of E elements, decoded by bit planes and shuffles (widths 1, 2, 4) or by per-lane
// swizzles and multiplies (3, 5, 6, 7). Rows are byte-aligned (C * k a multiple of 8), so interior
// tiles whose column origin is byte-aligned take the word loop; the others take the chunk-by-chunk
// loop, and edge tiles the scratch fallback. Tile widths 52 and 136 leave a partial group at every
// width (the word read runs past the tile row), and the last tiles are edge tiles on both dims.
// Every output must equal the interpreter's bit for bit on 1 and 2 threads, outputs start poisoned.
import { describe, expect, it } from 'vitest';
import { compileWasm } from '../../dsl/backend/wasm/index.js';
import { wordDecodable, wordElements } from '../../dsl/backend/wasm/words.js';
import {
  bool,
  type DType,
  dtypeByName,
  f16,
  f32,
  i1,
  i2,
  i3,
  i4,
  i5,
  i6,
  i7,
  u1,
  u2,
  u3,
  u4,
  u5,
  u6,
  u7,
} from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import { Tensor } from '../../dsl/tensor.js';
import { rng } from '../helpers/random.js';
import { gemv } from '../lang/kernels/gemv.js';
import { poisoned } from './differential.js';
import { expectExactOnDevices, moduleText, randomPatterns, suiteWasmDevices } from './wasm-differential.js';

const devices = suiteWasmDevices();

const WIDTHS: readonly DType[] = [u1, i1, bool, u2, i2, u3, i3, u4, i4, u5, i5, u6, i6, u7, i7];

/** Every narrow float of 2 to 7 bits (fEM with E >= 1): all decode a word at a time. */
const FLOATS: readonly DType[] = Array.from({ length: 6 }, (_, i) => i + 2).flatMap((k) =>
  Array.from({ length: k - 1 }, (_, e) => dtypeByName(`f${k}e${e + 1}m${k - 2 - e}`)!),
);

function scaled(d: DType, BC: number) {
  return kernel({
    name: `words_${d.name}_${BC}`,
    params: { w: global(d, ['R', 'C']), y: global(f32, ['R', 'C'], 'write') },
    consts: { BR: 4, BC },
  })`
    grid(cdiv(R, BR), cdiv(C, BC));
    threads(32);
    const r0 = blockIdx.x * BR;
    const c0 = blockIdx.y * BC;
    store(y, [r0, c0], load(w, [r0, c0], [BR, BC]).to(f32) * 2.0 - 1.0);
  `;
}

describe('whole-word unpacking of sub-byte rows', () => {
  it('groups hold a whole number of bytes and fit one v128', () => {
    for (let k = 1; k < 8; k++) {
      const e = wordElements(k);
      expect([k, e % 4, ((e * k) % 8) as number]).toEqual([k, 0, 0]);
      expect(e * k).toBeLessThanOrEqual(128);
      expect(e * k).toBeGreaterThanOrEqual(112);
    }
  });

  it('every narrow float of 2 to 7 bits is word-decodable', () => {
    expect(FLOATS.map((d) => d.name)).toHaveLength(21);
    for (const d of FLOATS) expect([d.name, wordDecodable(d)]).toEqual([d.name, true]);
  });

  it.each([...WIDTHS, ...FLOATS].map((d) => [d.name, d] as const))(
    '%s rows, tile widths 52 and 136',
    async (_, d) => {
      const [R, C] = [11, 8 * 41];
      const w = randomPatterns(d, [R, C], 70 + d.bits + (d.kind === 'int' && d.signed ? 10 : 0));
      // Every code occurs (floats: zeros, subnormals, Inf and NaN codes where the format has them).
      const seen = new Set(Array.from({ length: w.size }, (_, i) => w.getPattern(i)));
      expect(seen.size).toBe(2 ** d.bits);
      for (const BC of [52, 136]) {
        const program = scaled(d, BC).compile().program;
        // The word loop is there: a v128 read of the row feeding shuffles (planes) or swizzles.
        const text = moduleText(compileWasm(program));
        expect(text).toMatch(/v128\.load align=1/);
        expect(text).toMatch([1, 2, 4].includes(d.bits) ? /i8x16\.shuffle/ : /i8x16\.swizzle/);
        await expectExactOnDevices(devices, program, { w, y: poisoned(f32, [R, C]) });
      }
    },
  );

  it.each([
    ['u4', u4, 8],
    ['i4', i4, 0],
    ['u2', u2, 1],
    ['i3', i3, 0],
    ['u1', u1, 0],
    ['i7', i7, 0],
  ] as const)(
    'quantized GEMV, %s weights, byte-aligned rows, edge tiles on both dims',
    async (_, wt, zero) => {
      const [N, K, G] = [21, 8 * 49, 32];
      const r = rng(5);
      const x = Tensor.fromArray(
        f32,
        [K],
        Array.from({ length: K }, () => Math.fround(r() * 4 - 2)),
      );
      const s = Tensor.fromArray(
        f16,
        [N, Math.ceil(K / G)],
        Array.from({ length: N * Math.ceil(K / G) }, () => 0.01 + 0.04 * r()),
      );
      const w = randomPatterns(wt, [N, K], 6);
      await expectExactOnDevices(devices, gemv(wt, G, zero).compile().program, {
        x,
        w,
        s,
        y: poisoned(f32, [N]),
      });
    },
  );
});
