// Grouped loads: a register tile of a read-only tensor loaded as aligned groups of 4 words (16 bytes,
// vec4<u32>) by the whole block, through the scratch array, then unpacked by each thread.
//
// Each row of the tile (its last axis) is a contiguous run of elements in the tensor, so its bits are
// a contiguous run of words. The block copies, for every row, the 16-byte-aligned groups of words
// that hold the row's elements inside the tensor (`R` rows x `V` groups, one group per thread at a
// time: neighbouring threads read neighbouring 16 bytes); groups wholly inside that run are read as
// one vec4 of words, the first and last group of a row word by word, so no word outside the row's
// run (and so outside the tensor) is ever read. After a barrier each thread extracts its elements'
// bits (shifts, masks, a second word for the widths 3, 5, 6, 7 whose elements straddle) exactly as
// `<p>_load` would from the buffer: bit-exact by construction. A second barrier frees the scratch.
//
// Soundness: the buffer binding starts 256-byte aligned, so word 4 q starts a 16-byte group; a row
// of W elements of k bits touches at most floor((W k - 1) / 128) + 2 groups (V); elements outside the
// tensor or masked off get `other` as on the scalar path. Only tensors the program never stores to
// ('read' params: plain array<u32>, no ordering with this block's stores) take this path, and only
// where the scratch fits next to the shared tiles. The tensor's binding stays array<u32>: the runtime
// pads buffers to 4 bytes, not 16, so an array<vec4<u32>> binding would lose the last words.
import { normalize } from '../../interp/elementwise.js';
import type { LoadGlobal } from '../../ir/program.js';
import { numel } from '../../ir/shapes.js';
import { sharedWords } from './budget.js';
import { type Gen, WORKGROUP_STORAGE_LIMIT } from './context.js';
import { literal } from './expr.js';
import { decoder } from './f16.js';
import { featureChoices } from './features.js';
import { declareOffsets, hex, indexFn, NONE, tensorIndices, wordOf } from './memory.js';
import { at, coords } from './tiles.js';
import type { HelperFn } from './writer.js';

/** `tv_bitpos_<k>(flat)`: the word holding the first bit of element `flat`, and the bit within it. */
function bitPosFn(k: number): HelperFn {
  const name = `tv_bitpos_${k}`;
  const body =
    k === 32
      ? ['  return vec2<u32>(flat, 0u);']
      : [...wordOf(k).map((l) => `  ${l}`), '  return vec2<u32>(word, lo);'];
  return { name, code: [`fn ${name}(flat: u32) -> vec2<u32> {`, ...body, '}'].join('\n') };
}

/** Groups of 4 words a row of `w` elements of `k` bits can touch. */
export function groupsPerRow(w: number, k: number): number {
  return Math.floor((w * k - 1) / 128) + 2;
}

/** Emits `s` as a grouped load when the compilation allows it and it applies; false otherwise. */
export function emitGroupedLoad(g: Gen, s: LoadGlobal): boolean {
  const mode = featureChoices(g.helpers).vec4Loads;
  if (mode === 'off') return false;
  const info = g.globals.get(s.param);
  if (info?.p.access !== 'read' || info.atomic) return false;
  const shape = s.dst.type.shape;
  const n = numel(shape);
  if (shape.length === 0 || n <= 1) return false;
  const d = s.dst.type.dtype;
  const k = d.bits;
  const W = shape[shape.length - 1];
  if (W < 2) return false; // a column: no runs
  if (mode === 'auto' && !(k < 8 && W * k >= 128)) return false;
  const R = n / W;
  const V = groupsPerRow(W, k);
  const words = R * V * 4;
  if ((sharedWords(g.program) + words) * 4 > WORKGROUP_STORAGE_LIMIT) return false;

  const dst = g.tile(s.dst);
  const mask = s.mask ? g.tile(s.mask) : undefined;
  const rank = info.p.shape.length;
  const lead = rank - shape.length;
  const last = rank - 1;
  const index = g.helpers.use(indexFn(g, info));
  const pos = g.helpers.use(bitPosFn(k));
  const decode = decoder(g.helpers, d);
  const other = literal(g.helpers, d, normalize(d, s.other ?? 0));
  if (words > g.scratchWords) {
    g.scratchWords = words;
    g.scratchFor = [dst];
  }
  /** The flat index of the first element of tile row `r` inside the tensor (NONE if the row is outside). */
  const rowFirst = (r: string): string => {
    const c = coords(r, shape.slice(0, -1));
    const idx = Array.from({ length: rank }, (_, dd) => {
      if (dd === last) return `o${last} + tv_lo`;
      if (dd < lead || c[dd - lead] === '0u') return `o${dd}`;
      return `o${dd} + i32(${c[dd - lead]})`;
    });
    return `${index}(${idx.join(', ')})`;
  };
  const x = info.name;
  const straddles = 32 % k !== 0;

  g.w.block('', () => {
    declareOffsets(g, s.offsets);
    g.w.line(`// grouped load: ${R} row(s) x ${V} aligned groups of 4 words, through the scratch array`);
    g.w.line(`let tv_lo = max(0i, -o${last}); // the tile's columns inside the tensor: [tv_lo, tv_hi)`);
    // The dim from the uniforms, as <p>_index reads it (a scalar of main could shadow the symbol).
    g.w.line(`let tv_hi = min(${W}i, ${g.uniformScalar(info.p.shape[last])} - o${last});`);
    g.w.block(`for (var tv_p = tid; tv_p < ${R * V}u; tv_p += ${g.threads}u)`, () => {
      g.w.line(`let tv_first = ${rowFirst(R === 1 ? '0u' : `(tv_p / ${V}u)`)};`);
      g.w.block(`if tv_lo < tv_hi && tv_first != ${NONE}`, () => {
        g.w.line(`let tv_w0 = ${pos}(tv_first).x;`);
        g.w.line(`let tv_end = ${pos}(tv_first + u32(tv_hi - tv_lo - 1i));`);
        g.w.line(`let tv_w1 = tv_end.x + (tv_end.y + ${k - 1}u) / 32u; // the row's last word`);
        g.w.line(`let tv_q = (tv_w0 >> 2u) + tv_p % ${V}u;`);
        g.w.line('let tv_s = tv_p * 4u;');
        g.w.line('let tv_w = tv_q * 4u;');
        g.w.line('if tv_w >= tv_w0 && tv_w + 3u <= tv_w1 {');
        g.w.line(
          `  let tv_v = vec4<u32>(${x}[tv_w], ${x}[tv_w + 1u], ${x}[tv_w + 2u], ${x}[tv_w + 3u]); // one aligned group`,
        );
        g.w.line('  scratch[tv_s] = tv_v.x;');
        g.w.line('  scratch[tv_s + 1u] = tv_v.y;');
        g.w.line('  scratch[tv_s + 2u] = tv_v.z;');
        g.w.line('  scratch[tv_s + 3u] = tv_v.w;');
        g.w.line('} else if tv_w <= tv_w1 {');
        g.w.line(
          "  for (var tv_j = 0u; tv_j < 4u; tv_j++) { // the row's first or last group: only its own words",
        );
        g.w.line('    if tv_w + tv_j >= tv_w0 && tv_w + tv_j <= tv_w1 {');
        g.w.line(`      scratch[tv_s + tv_j] = ${x}[tv_w + tv_j];`);
        g.w.line('    }');
        g.w.line('  }');
        g.w.line('}');
      });
    });
    g.w.line('workgroupBarrier();');
    g.each(dst, (slot, el) => {
      const idx = tensorIndices(rank, shape, el);
      g.w.line(`let flat = ${index}(${idx.join(', ')});`);
      const inside = mask ? `flat != ${NONE} && ${at(mask, slot)}` : `flat != ${NONE}`;
      g.w.ifElse(
        inside,
        () => {
          // The element's bit offset from the start of its row's first staged group: the row's first
          // element sits (first k) mod 128 bits into that group, and this one d k bits further.
          const col = coords(el, shape)[shape.length - 1];
          g.w.line(`let tv_d = ${col} - u32(tv_lo); // columns past the row's first`);
          g.w.line(`let tv_b = ((((flat - tv_d) & 127u) * ${k}u) & 127u) + tv_d * ${k}u;`);
          const row = R === 1 ? '' : `(${el} / ${W}u) * ${V * 4}u + `;
          g.w.line(`let tv_i = ${row}(tv_b >> 5u);`);
          if (k === 32) {
            g.w.line(`${at(dst, slot)} = ${decode}(scratch[tv_i]);`);
            return;
          }
          g.w.line('let tv_sh = tv_b & 31u;');
          g.w.line('var tv_bits = scratch[tv_i] >> tv_sh;');
          if (straddles) {
            g.w.block(`if tv_sh > ${32 - k}u`, () =>
              g.w.line('tv_bits |= scratch[tv_i + 1u] << (32u - tv_sh);'),
            );
          }
          g.w.line(`${at(dst, slot)} = ${decode}(tv_bits & ${hex(2 ** k - 1)});`);
        },
        () => g.w.line(`${at(dst, slot)} = ${other};`),
      );
    });
    g.w.line('workgroupBarrier();');
  });
  return true;
}
