// Run loads: a register tile of a sub-word dtype whose layout gives each thread runs of L
// consecutive elements along the tensor's last axis (consecutive slots, one row) is loaded a run at a
// time: the words that hold the run's bits are read once, shifted by the run's bit offset into an
// aligned window (a funnel shift per word), and every element is taken from the window with shifts
// and masks known at compile time. Per element that is a few constant shifts instead of a word
// address, a dynamic shift and, for the widths 3, 5, 6 and 7 whose fields straddle words, a second
// load behind a branch.
//
// A run whose first or last element lies outside the tensor takes the per-element path (`<p>_load`,
// `other` outside), so edge tiles read exactly what the scalar path reads. Inside, the run's bits
// [32 w + lo, 32 w + lo + L k) span words w .. w + n - 1 (n = ceil(L k / 32)) and word w + n only
// when lo + L k > 32 n: that word is read only then, so no word outside the run is read. Only
// unmasked loads of tensors the program never stores to take this path (stored tensors are atomics).
import { normalize } from '../../interp/elementwise.js';
import type { LoadGlobal } from '../../ir/program.js';
import type { Gen } from './context.js';
import { literal } from './expr.js';
import { decoder } from './f16.js';
import { holder } from './layouts.js';
import { declareOffsets, hex, indexFn, loadFn, NONE, tensorIndices, wordOf } from './memory.js';
import { at, type TileInfo } from './tiles.js';

/** The longest run a thread's code is unrolled for (elements). */
const MAX_RUN = 64;

/**
 * The run length L of `t`'s placement: the largest divisor of the slot count (at most MAX_RUN) such
 * that in every thread slots jL .. jL + L - 1 hold consecutive elements of one row of the last axis;
 * 1 when there is none.
 */
export function runLength(t: TileInfo, threads: number): number {
  if (t.replicated || t.placement.kind !== 'layout') return 1;
  const W = t.shape[t.shape.length - 1];
  const h = holder(t.shape, t.placement, threads);
  const holds = (L: number): boolean => {
    for (let th = 0; th < threads; th++) {
      for (let l0 = 0; l0 < h.slots; l0 += L) {
        const f0 = h.flat(th, l0);
        if (f0 < 0 || (f0 % W) + L > W) return false;
        for (let i = 1; i < L; i++) if (h.flat(th, l0 + i) !== f0 + i) return false;
      }
    }
    return true;
  };
  for (let L = Math.min(h.slots, MAX_RUN); L >= 2; L--) {
    if (h.slots % L === 0 && holds(L)) return L;
  }
  return 1;
}

/** Emits `s` as run loads where it applies (see above); false otherwise. */
export function emitRunLoad(g: Gen, s: LoadGlobal): boolean {
  const info = g.globals.get(s.param);
  if (!info || info.atomic || s.mask) return false;
  const d = s.dst.type.dtype;
  const k = d.bits;
  if (k >= 32) return false;
  const dst = g.tile(s.dst);
  const L = runLength(dst, g.threads);
  // Runs of under 16 bits save too little over per-element loads to pay for their fallback code.
  if (L < 2 || L * k < 16) return false;
  const n = Math.ceil((L * k) / 32);
  const runs = dst.slots / L;
  const code = g.layoutCode(dst);
  const rank = info.p.shape.length;
  const index = g.helpers.use(indexFn(g, info));
  const load = g.helpers.use(loadFn(info));
  const decode = decoder(g.helpers, d);
  const other = literal(g.helpers, d, normalize(d, s.other ?? 0));
  const buf = info.name;
  const elOf = (slot: string): string => {
    const local = code.localPart(slot);
    if (code.threadPart === '0u') return local;
    return local === '0u' ? code.threadPart : `${code.threadPart} + ${local}`;
  };
  const flatOf = (el: string): string => `${index}(${tensorIndices(rank, dst.shape, el).join(', ')})`;

  g.w.block('', () => {
    declareOffsets(g, s.offsets);
    g.w.line(`// run loads: ${runs} run(s) of ${L} consecutive elements per thread, ${n} word(s) each`);
    const body = (r: string): void => {
      const base = r === '0u' ? '0u' : `${r} * ${L}u`;
      const slot = (i: number | string): string =>
        base === '0u'
          ? typeof i === 'number'
            ? `${i}u`
            : i
          : i === 0
            ? base
            : `${base} + ${typeof i === 'number' ? `${i}u` : i}`;
      g.w.line(`let tv_el = ${elOf(base)};`);
      g.w.line(`let tv_f0 = ${flatOf('tv_el')};`);
      g.w.line(`let tv_f1 = ${flatOf(`(tv_el + ${L - 1}u)`)};`);
      g.w.ifElse(
        `tv_f0 != ${NONE} && tv_f1 != ${NONE}`,
        () => {
          g.w.line('let flat = tv_f0;');
          for (const l of wordOf(k)) g.w.line(l);
          for (let i = 0; i < n; i++) g.w.line(`let tv_a${i} = ${buf}[word${i === 0 ? '' : ` + ${i}u`}];`);
          g.w.line(`var tv_a${n} = 0u;`);
          g.w.block(`if lo + ${L * k}u > ${32 * n}u`, () => g.w.line(`tv_a${n} = ${buf}[word + ${n}u];`));
          // The run's bits from bit 0 of tv_v0 on (a shift of 32 - lo written as two, for lo = 0).
          for (let i = 0; i < n; i++) {
            g.w.line(`let tv_v${i} = (tv_a${i} >> lo) | ((tv_a${i + 1} << 1u) << (31u - lo));`);
          }
          const mask = hex(2 ** k - 1);
          for (let i = 0; i < L; i++) {
            const p = i * k;
            const w = p >> 5;
            const off = p & 31;
            let bits = off === 0 ? `tv_v${w}` : `(tv_v${w} >> ${off}u)`;
            if (off + k > 32) bits = `(${bits} | (tv_v${w + 1} << ${32 - off}u))`;
            g.w.line(`${at(dst, slot(i))} = ${decode}(${bits} & ${mask});`);
          }
        },
        () => {
          g.w.block(`for (var tv_i = 0u; tv_i < ${L}u; tv_i++)`, () => {
            g.w.line(`let flat = ${flatOf('(tv_el + tv_i)')};`);
            g.w.ifElse(
              `flat != ${NONE}`,
              () => g.w.line(`${at(dst, slot('tv_i'))} = ${decode}(${load}(flat));`),
              () => g.w.line(`${at(dst, slot('tv_i'))} = ${other};`),
            );
          });
        },
      );
    };
    if (runs === 1) body('0u');
    else g.w.block(`for (var tv_r = 0u; tv_r < ${runs}u; tv_r++)`, () => body('tv_r'));
  });
  return true;
}
