// `reduce` with subgroup operations (device feature 'subgroups'): for reductions along the last axis
// (the reduced elements of an output are consecutive), the whole workgroup reduces one output row at
// a time. Each thread folds the row's elements it holds (in slot order; of replicated elements only
// the first holder's count), the
// subgroup combines them with subgroupAdd / subgroupMax / subgroupMin, each subgroup's first lane
// writes its partial to the scratch array, and after one barrier the thread that holds the output
// element folds the partials in subgroup order. No staging of the source, one barrier per row
// (partials alternate between two halves of the scratch array, so row r + 1 never overwrites what
// row r is still reading).
//
// Subgroups are numbered once, at the top of main (`subgroupPrologue`), from the workgroup's own
// view of them: nothing assumes a subgroup size, that it divides the workgroup, or that subgroups are
// runs of consecutive invocation indices. Every barrier and subgroup operation is in uniform control
// flow: row loops have constant bounds, the per-thread loop's bounds depend only on the row.
//
// Exactness: integer sums wrap (mod 2^32 in the subgroup, wrapped to the dtype at the end, which
// commutes with wrapping after each add), integer and float max/min are order-independent (floats are
// mapped to u32 keys that order -0 below +0 and make NaN win), so those are bit-exact. f32 sums are
// reassociated: |err| <= (n - 1) 2^-24 sum|x|. Narrow-float sums round after each add in the
// interpreter's order and keep the staged path, as do bool reductions.

import type { Stmt } from '../../ir/program.js';
import { numel } from '../../ir/shapes.js';
import type { Gen } from './context.js';
import { binaryExpr, castExpr, literal } from './expr.js';
import { at, fromBits, toBits } from './tiles.js';
import type { HelperFn } from './writer.js';

type Reduce = Extract<Stmt, { op: 'reduce' }>;

/** Which reductions take the subgroup path: 'auto' where it is clearly faster, 'always' where valid. */
export type SubgroupReduce = 'auto' | 'always';

/** Sequential steps a row costs beyond its elements in the subgroup path (barrier, subgroup op, partials). */
const ROW_OVERHEAD = 8;

/** Emits `s` with subgroup operations and returns true, or returns false (the caller stages it). */
export function emitSubgroupReduce(g: Gen, s: Reduce, mode: SubgroupReduce = 'auto'): boolean {
  if (!g.features.has('subgroups')) return false;
  const T = g.threads;
  const src = g.tile(s.src);
  const dst = g.tile(s.dst);
  const from = src.dtype;
  const to = dst.dtype;
  const len = src.shape[s.axis];
  const inner = numel(src.shape.slice(s.axis + 1));
  if (inner !== 1 || len === 1 || src.replicated || to.kind === 'bool') return false;
  if (s.fn === 'sum' && !(to.kind === 'int' || to.name === 'f32')) return false;
  const rows = dst.n;
  if (mode === 'auto') {
    // Staged: each thread walks ceil(rows / T) whole rows. Here: every row costs ceil(len / T) + overhead.
    if (rows * (Math.ceil(len / T) + ROW_OVERHEAD) >= Math.ceil(rows / T) * len) return false;
  }
  g.subgroupsUsed = true;
  g.scratchWords = Math.max(g.scratchWords, 2 * T);

  const item = (slot: string) => castExpr(g.helpers, from, to, at(src, slot));
  const key = keyOf(g, s.fn, dst.reg);
  g.w.comment('subgroup path: the workgroup reduces one row at a time');
  const body = (row: string) => {
    g.w.line(`let sg_lo = ${row === '0u' ? '0u' : `${row} * ${len}u`};`);
    g.w.line(`let sg_hi = sg_lo + ${len}u;`);
    const identity = s.fn === 'sum' ? literal(g.helpers, to, 0) : s.fn === 'max' ? '0u' : '0xffffffffu';
    g.w.line(`var sg_acc = ${identity};`);
    const fold = (): void => {
      if (s.fn === 'sum') g.w.line(`sg_acc = ${binaryExpr(g.helpers, 'add', to, 'sg_acc', item('slot'))};`);
      else g.w.line(`sg_acc = ${s.fn}(sg_acc, ${key.to(item('slot'))});`);
    };
    if (src.placement.kind === 'layout') {
      // Every slot of the thread (constant bounds); only the first holder of an element counts it.
      const c = g.layoutCode(src);
      const el = c.threadPart === '0u' ? c.localPart('slot') : `${c.threadPart} + ${c.localPart('slot')}`;
      g.w.block(`for (var slot = 0u; slot < ${src.slots}u; slot++)`, () => {
        g.w.line(`let el = ${el};`);
        g.w.block(`if ${c.primary ? `${c.primary} && ` : ''}el >= sg_lo && el < sg_hi`, fold);
      });
    } else {
      // The slots that hold the row's elements in some thread (bounds uniform: they depend on the row only).
      const lo = row === '0u' ? '0u' : `sg_lo / ${T}u`;
      const hi = `min(${src.slots}u, (sg_hi + ${T - 1}u) / ${T}u)`;
      g.w.block(`for (var slot = ${lo}; slot < ${hi}; slot++)`, () => {
        g.w.line(`let el = slot * ${T}u + tid;`);
        g.w.block('if el >= sg_lo && el < sg_hi', fold);
      });
    }
    const sgOp = { sum: 'subgroupAdd', max: 'subgroupMax', min: 'subgroupMin' }[s.fn];
    g.w.line(`let sg_res = ${sgOp}(sg_acc);`);
    const half = row === '0u' ? '' : `(${row} % 2u) * ${T}u + `;
    g.w.block('if sg_lane == 0u', () => {
      g.w.line(`scratch[${half}sg_id] = ${s.fn === 'sum' ? toBits(dst.reg, 'sg_res') : 'sg_res'};`);
    });
    g.w.line('workgroupBarrier();');
    const spread = !dst.replicated && dst.placement.kind === 'layout';
    const owner = dst.replicated || spread ? undefined : `tid == ${row} % ${T}u`;
    const combine = () => {
      g.w.line(`var acc = ${identity};`);
      g.w.block('for (var sg_part = 0u; sg_part < sg_count; sg_part++)', () => {
        const word = `scratch[${half}sg_part]`;
        if (s.fn === 'sum')
          g.w.line(`acc = ${binaryExpr(g.helpers, 'add', to, 'acc', fromBits(dst.reg, word))};`);
        else g.w.line(`acc = ${s.fn}(acc, ${word});`);
      });
      const value = s.fn === 'sum' ? 'acc' : key.from('acc');
      if (spread) {
        // Every thread folded the partials; the holders of the result element keep it.
        g.each(dst, (slot, el) =>
          g.w.block(`if ${el} == ${row}`, () => g.w.line(`${at(dst, slot)} = ${value};`)),
        );
        return;
      }
      const target = dst.replicated ? dst.name : at(dst, `${row} / ${T}u`);
      g.w.line(`${target} = ${value};`);
    };
    if (owner) g.w.block(`if ${owner}`, combine);
    else combine();
  };
  if (rows === 1) g.w.block('', () => body('0u'));
  else g.w.block(`for (var sg_row = 0u; sg_row < ${rows}u; sg_row++)`, () => body('sg_row'));
  g.w.line('workgroupBarrier(); // before the scratch array is written again');
  return true;
}

/** The u32 keys max/min work on: ordered as the interpreter orders values (floats: -0 < +0, NaN wins). */
function keyOf(g: Gen, fn: string, r: string): { to(x: string): string; from(k: string): string } {
  switch (r) {
    case 'u32':
      return { to: (x) => x, from: (k) => k };
    case 'i32':
      return {
        to: (x) => `(bitcast<u32>(${x}) ^ 0x80000000u)`,
        from: (k) => `bitcast<i32>(${k} ^ 0x80000000u)`,
      };
    default: {
      // Sign-magnitude to offset order: negatives reversed below the positives; NaN to the extreme.
      const nan = fn === 'max' ? '0xffffffffu' : '0u';
      return {
        to: (x) => `${g.helpers.use(FKEY_FN)}(bitcast<u32>(${x}), ${nan})`,
        from: (k) => `bitcast<f32>(select(~${k}, ${k} ^ 0x80000000u, (${k} & 0x80000000u) != 0u))`,
      };
    }
  }
}

/** Numbers the subgroups (in order of their first lanes' tid): `sg_id` and `sg_count`, once per block. */
export function subgroupPrologue(threads: number): string[] {
  return [
    '// Number the subgroups: count the first lanes below ours (no assumption on their size or layout).',
    'scratch[tid] = select(0u, 1u, sg_lane == 0u);',
    'workgroupBarrier();',
    'var sg_count = 0u;',
    'var sg_before = 0u;',
    `for (var sg_part = 0u; sg_part < ${threads}u; sg_part++) {`,
    '  let sg_flag = scratch[sg_part];',
    '  sg_count += sg_flag;',
    '  if sg_part < tid {',
    '    sg_before += sg_flag;',
    '  }',
    '}',
    'let sg_id = subgroupMax(select(0u, sg_before, sg_lane == 0u));',
    'workgroupBarrier();',
  ];
}

/** `tv_fkey(bits, nan)`: an f32's bits as a u32 key in value order; NaN becomes `nan`. */
const FKEY_FN: HelperFn = {
  name: 'tv_fkey',
  code: [
    'fn tv_fkey(b: u32, nan: u32) -> u32 {',
    '  if (b & 0x7fffffffu) > 0x7f800000u {',
    '    return nan;',
    '  }',
    '  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);',
    '}',
  ].join('\n'),
};
