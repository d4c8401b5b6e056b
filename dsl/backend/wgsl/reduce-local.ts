// `reduce` without data movement: where every thread holds, for each result element it holds, the
// whole row being reduced (layout inference keeps rows in one thread where the shape allows), the
// thread folds its own registers. The row's elements sit at slots base(slot) + r * stride, the same
// in every thread, in increasing index order r: the interpreter's exact order, so results are
// bit-identical to it (and to the staged path).
import type { Stmt } from '../../ir/program.js';
import { numel } from '../../ir/shapes.js';
import type { Gen } from './context.js';
import { binaryExpr, castExpr, literal } from './expr.js';
import { localSlots } from './layouts.js';
import { at } from './tiles.js';

type Reduce = Extract<Stmt, { op: 'reduce' }>;

/** Compile-time checks a (thread, slot, element) triple each; beyond this the reduction is staged. */
const CHECK_BUDGET = 1 << 20;

/** Emits `s` as a per-thread fold and returns true, or returns false when rows cross threads. */
export function reduceInThreads(g: Gen, s: Reduce): boolean {
  const src = g.tile(s.src);
  const dst = g.tile(s.dst);
  const len = src.shape[s.axis];
  const inner = numel(src.shape.slice(s.axis + 1));
  if (g.threads * dst.slots * len > CHECK_BUDGET) return false;
  // A layout with a thread mode on the axis spreads every row over threads.
  const l = src.placement.kind === 'layout' ? src.placement.layout : undefined;
  if (l?.modes.some((m, i) => m.dim === s.axis && !l.localModes.includes(i))) return false;
  const rowOf = (e: number): number[] => {
    const o = Math.floor(e / inner);
    const i = e % inner;
    return Array.from({ length: len }, (_, r) => (o * len + r) * inner + i);
  };
  const table = localSlots(g.holderOf(dst), g.holderOf(src), g.threads, rowOf);
  if (!table) return false;
  const stride =
    len > 1 ? (table.find((r) => r.length > 1)?.[1] ?? 0) - (table.find((r) => r.length > 1)?.[0] ?? 0) : 0;
  const affine = table.every((row) => row.every((x, r) => x === row[0] + r * stride));
  if (!affine || (len > 1 && stride <= 0)) return false;

  const base = g.slotExpr(table.map((row) => row[0] ?? 0));
  const from = src.dtype;
  const to = dst.dtype;
  const item = (r: string): string => {
    const slot = r === '0u' ? 'base' : `base + ${stride === 1 ? r : `${r} * ${stride}u`}`;
    return castExpr(g.helpers, from, to, at(src, slot));
  };
  g.w.comment('rows in registers: each thread folds its own elements');
  const body = (slot: string): void => {
    g.w.line(`let base = ${base(slot)};`);
    if (s.fn === 'sum') g.w.line(`var acc = ${literal(g.helpers, to, 0)};`);
    else g.w.line(`var acc = ${item('0u')};`);
    const first = s.fn === 'sum' ? 0 : 1;
    if (len > first) {
      const op = s.fn === 'sum' ? 'add' : s.fn;
      g.w.block(`for (var red = ${first}u; red < ${len}u; red++)`, () => {
        g.w.line(`acc = ${binaryExpr(g.helpers, op, to, 'acc', item('red'))};`);
      });
    }
    g.w.line(`${at(dst, slot)} = acc;`);
  };
  if (dst.slots === 1) g.w.block('', () => body('0u'));
  else g.w.block(`for (var slot = 0u; slot < ${dst.slots}u; slot++)`, () => body('slot'));
  return true;
}
