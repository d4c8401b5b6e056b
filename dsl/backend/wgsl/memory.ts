// Global tensors and shared tiles.
//
// A global param is bound as the little-endian bit string of its elements (docs/dtypes.md, Packing),
// one `array<u32>` per tensor: element f of a k-bit dtype occupies bits [f k, (f + 1) k). Per param the
// module gets `<p>_index` (flat index of a multi-index, or NONE outside the tensor), `<p>_load` (the
// k-bit pattern at a flat index) and `<p>_store`. Params written with k < 32 are arrays of atomics:
// several threads (and blocks) write parts of one word, so a store clears its bits with atomicAnd and
// sets them with atomicOr, which commute; elements of 3, 5, 6 and 7 bits may straddle two words.
//
// Word arithmetic never overflows u32: 32 elements of k bits are exactly k words, so element f starts
// in word (f / 32) k + ((f % 32) k) / 32. Flat indices are u32, which limits a tensor to 2^32 - 1
// elements.

import { normalize } from '../../interp/elementwise.js';
import type { LoadGlobal, LoadShared, StoreGlobal, StoreShared } from '../../ir/program.js';
import { stridesOf } from '../../ir/shapes.js';
import type { Gen, GlobalInfo } from './context.js';
import { literal } from './expr.js';
import { decoder, encoder } from './f16.js';
import { emitRunLoad } from './runs.js';
import { at, coords } from './tiles.js';
import { emitGroupedLoad } from './vec4.js';
import type { HelperFn } from './writer.js';

/** The flat index `<p>_index` returns for a multi-index outside the tensor. */
export const NONE = '0xffffffffu';

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}u`;
}

/** `<p>_index(i0, i1, ...)`: the flat index of an element, or NONE when any index is out of range. */
export function indexFn(g: Gen, info: GlobalInfo): HelperFn {
  const name = info.fns.index;
  const rank = info.p.shape.length;
  const args = Array.from({ length: rank }, (_, d) => `i${d}: i32`).join(', ');
  const lines = [`fn ${name}(${args}) -> u32 {`];
  if (rank === 0) {
    lines.push('  return 0u;', '}');
    return { name, code: lines.join('\n') };
  }
  info.p.shape.forEach((dim, d) => {
    lines.push(`  let d${d} = ${g.uniformScalar(dim)};`);
  });
  const outside = info.p.shape.map((_, d) => `i${d} < 0i || i${d} >= d${d}`).join(' || ');
  lines.push(`  if ${outside} {`, `    return ${NONE};`, '  }');
  let flat = 'u32(i0)';
  for (let d = 1; d < rank; d++) flat = `${d === 1 ? flat : `(${flat})`} * u32(d${d}) + u32(i${d})`;
  lines.push(`  return ${flat};`, '}');
  return { name, code: lines.join('\n') };
}

/** The word and bit of element `flat` of a k-bit array, as lines defining `word` and `lo`. */
export function wordOf(k: number): string[] {
  if (32 % k === 0) {
    const per = 32 / k;
    const log = Math.log2(per);
    return [`let word = flat >> ${log}u;`, `let lo = (flat & ${per - 1}u) * ${k}u;`];
  }
  return [
    `let q = (flat & 31u) * ${k}u; // bit offset in the group of 32 elements (${k} words)`,
    `let word = (flat >> 5u) * ${k}u + (q >> 5u);`,
    'let lo = q & 31u;',
  ];
}

/** `<p>_load(flat)`: the k-bit pattern of element `flat`. */
export function loadFn(info: GlobalInfo): HelperFn {
  const k = info.p.dtype.bits;
  const name = info.fns.load;
  const word = (i: string) => (info.atomic ? `atomicLoad(&${info.name}[${i}])` : `${info.name}[${i}]`);
  const lines = [`fn ${name}(flat: u32) -> u32 {`];
  if (k === 32) {
    lines.push(`  return ${word('flat')};`);
  } else {
    lines.push(...wordOf(k).map((l) => `  ${l}`));
    if (32 % k === 0) {
      lines.push(`  return (${word('word')} >> lo) & ${hex(2 ** k - 1)};`);
    } else {
      lines.push(
        `  var bits = ${word('word')} >> lo;`,
        `  if lo + ${k}u > 32u { // straddles two words`,
        `    bits |= ${word('word + 1u')} << (32u - lo);`,
        '  }',
        `  return bits & ${hex(2 ** k - 1)};`,
      );
    }
  }
  lines.push('}');
  return { name, code: lines.join('\n') };
}

/** `<p>_store(flat, pat)`: writes the k-bit pattern `pat` of element `flat`, leaving other bits alone. */
function storeFn(info: GlobalInfo): HelperFn {
  const k = info.p.dtype.bits;
  const name = info.fns.store;
  const b = info.name;
  const lines = [`fn ${name}(flat: u32, pat: u32) {`];
  if (k === 32) {
    lines.push(`  ${b}[flat] = pat;`);
  } else {
    const mask = hex(2 ** k - 1);
    lines.push(
      ...wordOf(k).map((l) => `  ${l}`),
      `  atomicAnd(&${b}[word], ~(${mask} << lo));`,
      `  atomicOr(&${b}[word], (pat & ${mask}) << lo);`,
    );
    if (32 % k !== 0) {
      lines.push(
        `  if lo + ${k}u > 32u { // straddles two words: the high bits go to the next`,
        '    let hi = 32u - lo;',
        `    atomicAnd(&${b}[word + 1u], ~(${mask} >> hi));`,
        `    atomicOr(&${b}[word + 1u], (pat & ${mask}) >> hi);`,
        '  }',
      );
    }
  }
  lines.push('}');
  return { name, code: lines.join('\n') };
}

/** Per element: the multi-index into the tensor (i32 expressions) of a tile at offsets o0, o1, .... */
export function tensorIndices(rank: number, tileShape: readonly number[], el: string): string[] {
  const lead = rank - tileShape.length;
  const c = coords(el, tileShape);
  return Array.from({ length: rank }, (_, d) =>
    d < lead || c[d - lead] === '0u' ? `o${d}` : `o${d} + i32(${c[d - lead]})`,
  );
}

export function declareOffsets(g: Gen, offsets: LoadGlobal['offsets']): void {
  offsets.forEach((o, d) => {
    g.w.line(`let o${d} = ${g.i32(o)};`);
  });
}

export function emitLoadGlobal(g: Gen, s: LoadGlobal): void {
  if (emitRunLoad(g, s) || emitGroupedLoad(g, s)) return;
  const info = g.globals.get(s.param)!;
  const dst = g.tile(s.dst);
  const mask = s.mask ? g.tile(s.mask) : undefined;
  const d = s.dst.type.dtype;
  const index = g.helpers.use(indexFn(g, info));
  const load = g.helpers.use(loadFn(info));
  const decode = decoder(g.helpers, d);
  const other = literal(g.helpers, d, normalize(d, s.other ?? 0));
  g.w.block('', () => {
    declareOffsets(g, s.offsets);
    g.each(dst, (slot, el) => {
      const idx = tensorIndices(info.p.shape.length, dst.shape, el);
      g.w.line(`let flat = ${index}(${idx.join(', ')});`);
      const inside = mask ? `flat != ${NONE} && ${at(mask, slot)}` : `flat != ${NONE}`;
      g.w.ifElse(
        inside,
        () => g.w.line(`${at(dst, slot)} = ${decode}(${load}(flat));`),
        () => g.w.line(`${at(dst, slot)} = ${other};`),
      );
    });
  });
}

export function emitStoreGlobal(g: Gen, s: StoreGlobal): void {
  const info = g.globals.get(s.param)!;
  const src = g.tile(s.src);
  const mask = s.mask ? g.tile(s.mask) : undefined;
  const index = g.helpers.use(indexFn(g, info));
  const store = g.helpers.use(storeFn(info));
  const encode = encoder(g.helpers, s.src.type.dtype);
  g.w.block('', () => {
    declareOffsets(g, s.offsets);
    g.each(
      src,
      (slot, el) => {
        const idx = tensorIndices(info.p.shape.length, src.shape, el);
        g.w.line(`let flat = ${index}(${idx.join(', ')});`);
        const inside = mask ? `flat != ${NONE} && ${at(mask, slot)}` : `flat != ${NONE}`;
        g.w.block(`if ${inside}`, () => g.w.line(`${store}(flat, ${encode}(${at(src, slot)}));`));
      },
      true,
    );
  });
}

/** The flat index into a shared tile of the region element `el` (offsets in o0, o1, ...). */
function sharedIndex(sharedShape: readonly number[], regShape: readonly number[], el: string): string {
  const c = coords(el, regShape);
  const strides = stridesOf(sharedShape);
  const terms = sharedShape.map((_, d) => {
    const i = c[d] === '0u' ? `o${d}` : `o${d} + i32(${c[d]})`;
    return strides[d] === 1 ? i : `(${i}) * ${strides[d]}i`;
  });
  return terms.length === 0 ? '0u' : `u32(${terms.join(' + ')})`;
}

export function emitLoadShared(g: Gen, s: LoadShared): void {
  const sh = g.sharedTile(s.src);
  const dst = g.tile(s.dst);
  g.w.block('', () => {
    declareOffsets(g, s.offsets);
    g.each(dst, (slot, el) => {
      g.w.line(`${at(dst, slot)} = ${sh.name}[${sharedIndex(sh.shape, dst.shape, el)}];`);
    });
  });
}

export function emitStoreShared(g: Gen, s: StoreShared): void {
  const sh = g.sharedTile(s.dst);
  const src = g.tile(s.src);
  g.w.block('', () => {
    declareOffsets(g, s.offsets);
    g.each(
      src,
      (slot, el) => {
        g.w.line(`${sh.name}[${sharedIndex(sh.shape, src.shape, el)}] = ${at(src, slot)};`);
      },
      true,
    );
  });
}

export { hex };
