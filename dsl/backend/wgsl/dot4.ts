// `dot` of 8-bit-or-narrower integer tiles with dot4I8Packed / dot4U8Packed (WGSL language feature
// 'packed_4x8_integer_dot_product'): four multiply-adds per call.
//
// a [M, K] and b [K, N] are staged as bytes (the low 8 bits of each value: two's complement for
// signed dtypes), then the block packs them into words, four consecutive k per word: rows of a and
// columns of b, zero-padded past K (a zero byte adds nothing), after the staged elements in the
// scratch array. Each output element then takes ceil(K / 4) packed dots.
//
// Exact: the VM computes c + sum a b with every cast, product and sum wrapped to c's integer width,
// and wrapping to w bits is a ring homomorphism, so the same value comes out of the unwrapped i32
// (u32) sum wrapped once at the end. The packed dot of signed bytes is exact in i32 (|sum| <= 4 *
// 128^2), of unsigned ones in u32; adding it to a u32 (i32) accumulator as bits is the same sum mod
// 2^32. The VM requires a and b to share a dtype, so signed x unsigned operands never occur.
import type { Dot } from '../../ir/program.js';
import { sharedWords } from './budget.js';
import { type Gen, WORKGROUP_STORAGE_LIMIT } from './context.js';
import { rounded } from './expr.js';
import { featureChoices, PACKED_DOT_FEATURE, useFeature } from './features.js';
import { at } from './tiles.js';

/** Whether the dot's dtypes allow the packed lowering (feature aside). */
export function packedDotApplies(s: Dot): boolean {
  const from = s.a.type.dtype;
  const acc = s.c.type.dtype;
  const K = s.a.type.shape[1];
  return from.kind === 'int' && from.bits <= 8 && acc.kind === 'int' && K >= 4;
}

/**
 * Emits `s` with packed dots when the compilation may and the dtypes allow it, and the packed
 * operands fit in workgroup memory next to everything else; returns false (nothing emitted) otherwise.
 * `accumulator` gives c readable at the result's slots (converting it when its layout differs, as
 * a program may place c anywhere with convert_layout); it is called only once the packed path is taken,
 * so a fallback emits no conversion.
 */
export function emitPackedDot(g: Gen, s: Dot, accumulator: () => (slot: string) => string): boolean {
  if (!featureChoices(g.helpers).packedDot || !packedDotApplies(s)) return false;
  const a = g.tile(s.a);
  const b = g.tile(s.b);
  const c = g.tile(s.c);
  const dst = g.tile(s.dst);
  const [M, K] = a.shape;
  const N = b.shape[1];
  const K4 = Math.ceil(K / 4);
  const staged = (a.replicated ? 0 : a.n) + (b.replicated ? 0 : b.n);
  const packedWords = (M + N) * K4;
  // Where c is held elsewhere than the result, its conversion (unless a slot map suffices) stages c
  // alone before the packing reuses the scratch array.
  const converts = !c.replicated && !(c.n === dst.n && g.sameHolding(c, dst));
  const scratch = Math.max(staged + packedWords, converts ? c.n : 0);
  if ((sharedWords(g.program) + scratch) * 4 > WORKGROUP_STORAGE_LIMIT) return false;
  useFeature(g.helpers, PACKED_DOT_FEATURE);
  const acc = accumulator();

  const signed = a.dtype.kind === 'int' && a.dtype.signed;
  const byte = (r: string, x: string) => (r === 'u32' ? `(${x} & 0xffu)` : `(bitcast<u32>(${x}) & 0xffu)`);
  const [ra, rb] = g.stage([a, b], (t, x) => byte(t.reg, x));
  const base = staged; // the packed words follow the staged elements
  if (base + packedWords > g.scratchWords) {
    g.scratchWords = base + packedWords;
    g.scratchFor = [a, b].filter((t) => !t.replicated);
  }
  const packedA = (i: string, q: string) => `scratch[${base}u + ${i} * ${K4}u + ${q}]`;
  const packedB = (j: string, q: string) => `scratch[${base + M * K4}u + ${j} * ${K4}u + ${q}]`;

  g.w.comment(`pack 4 bytes per word: rows of ${a.name}, columns of ${b.name} (${K4} words each)`);
  g.w.block(`for (var tv_p = tid; tv_p < ${packedWords}u; tv_p += ${g.threads}u)`, () => {
    g.w.line(`let tv_q = tv_p % ${K4}u;`);
    g.w.line('var tv_word = 0u;');
    g.w.ifElse(
      `tv_p < ${M * K4}u`,
      () => {
        g.w.line(`let tv_i = tv_p / ${K4}u;`);
        g.w.block(`for (var tv_j = 0u; tv_j < 4u && tv_q * 4u + tv_j < ${K}u; tv_j++)`, () => {
          g.w.line(`tv_word |= ${ra.read(`tv_i * ${K}u + tv_q * 4u + tv_j`)} << (tv_j * 8u);`);
        });
      },
      () => {
        g.w.line(`let tv_n = tv_p / ${K4}u - ${M}u;`);
        g.w.block(`for (var tv_j = 0u; tv_j < 4u && tv_q * 4u + tv_j < ${K}u; tv_j++)`, () => {
          g.w.line(`tv_word |= ${rb.read(`(tv_q * 4u + tv_j) * ${N}u + tv_n`)} << (tv_j * 8u);`);
        });
      },
    );
    g.w.line(`scratch[${base}u + tv_p] = tv_word;`);
  });
  g.w.line('workgroupBarrier();');

  const accReg = c.reg; // i32 or u32
  const dot = signed ? 'dot4I8Packed' : 'dot4U8Packed';
  const dotReg = signed ? 'i32' : 'u32';
  const term = (x: string) => (dotReg === accReg ? x : `bitcast<${accReg}>(${x})`);
  g.each(dst, (slot, el) => {
    const i = el === '0u' || M === 1 ? '0u' : N === 1 ? el : `(${el} / ${N}u)`;
    const j = el === '0u' || N === 1 ? '0u' : M === 1 ? el : `(${el} % ${N}u)`;
    g.w.line(`var tv_acc = ${acc(slot)};`);
    g.w.block(`for (var tv_kq = 0u; tv_kq < ${K4}u; tv_kq++)`, () => {
      g.w.line(`tv_acc += ${term(`${dot}(${packedA(i, 'tv_kq')}, ${packedB(j, 'tv_kq')})`)};`);
    });
    g.w.line(`${at(dst, slot)} = ${rounded(g.helpers, s.c.type.dtype, 'tv_acc')}; // wrapped once: exact`);
  });
  g.unstage();
  return true;
}
