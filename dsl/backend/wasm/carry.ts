// Loop-carried tiles in registers: a `for` whose body is one fused run that reads and writes a tile
// elementwise (`acc += w * x`) is emitted with the loops swapped: for every chunk of 4 lanes of
// every row, the carried tile's chunk is loaded into a local once, the loop runs over it, and it is
// stored once, instead of a load and a store per iteration. Every element still sees the same
// operations in the same order, so results are bit for bit those of the plain loop.
//
// The swap needs every iteration's global tiles inside their tensors and each tile origin moving by
// a fixed step per iteration. Offsets must be affine in the loop variable (sums, differences and
// products by loop-invariant values, in i32); then each tile is inside at every iteration when it is
// inside at the first and the last one and the offsets there lie on the line through the first two
// iterations (checked in i64, so wrapping cannot fake it). These O(1) checks run before the loop; the
// plain loop runs when one fails (edge tiles).
import binaryen from 'binaryen';
import { i32 as i32Type } from '../../dtype.js';
import type { For } from '../../ir/program.js';
import type { ScalarExpr } from '../../ir/scalar.js';
import { numel } from '../../ir/shapes.js';
import { pointerDtype } from './carry-loop.js';
import type { Gen } from './context.js';
import type { Ref } from './fn.js';
import {
  type Carry,
  carriedNest,
  FuseHazard,
  findRun,
  type GlobalLeafInfo,
  leafPoint,
  MAX_ROWS,
  tileAt,
  vectorOp,
} from './fuse.js';
import type { Run } from './fuse-plan.js';
import { i32Expr } from './scalar.js';

const { i32, i64 } = binaryen;

/**
 * Most carried v128 locals (stores x rows x chunks) kept live across the loop: x86-64 has 16 vector
 * registers, and wider tiles measured slower carried (docs/wasm-backend.md).
 */
const MAX_CARRIED = 8;

/** The run a carried loop could use for `s`, or undefined when the loop does not qualify. */
function carriedRun(g: Gen, s: For): Run | undefined {
  if (!affineIn(s.start, s.var)) return undefined;
  const run = findRun(g, s.body, 0);
  if (!run || run.end !== s.body.length || run.preLoads.length > 0 || run.stores.length === 0)
    return undefined;
  const S = run.shape;
  const r = S.length;
  if (r === 0 || r > 2) return undefined;
  const L = S[r - 1];
  const rows = r === 2 ? S[0] : 1;
  if (L < 4 || L % 4 !== 0 || rows > MAX_ROWS || (rows * L * run.stores.length) / 4 > MAX_CARRIED)
    return undefined;
  // `full` scalars may read the loop variable; every node needs its vector form.
  if (run.nodes.some((n) => n.kind === 'full' || vectorOp(g, n) === undefined)) return undefined;
  const storeBufs = new Set(run.stores.map((st) => g.buf(st.v)));
  if (storeBufs.size !== run.stores.length) return undefined;
  for (const st of run.stores) {
    // The carried tile: read once, as a buffer leaf of the run's own shape (same elements as written).
    const own = run.leaves.filter((l) => !l.load && g.buf(l.v) === g.buf(st.v));
    if (
      own.length !== 1 ||
      own[0].v !== st.v ||
      !sameList(own[0].shape, S) ||
      numel(S) !== numel(st.v.type.shape)
    )
      return undefined;
  }
  for (const l of run.leaves) {
    if (!l.load) continue;
    // Global tiles vary along the last dim (nothing of them is hoisted out of the chunk loop) and
    // are whole bytes (sub-byte rows track a bit phase per row block).
    if (l.dtype.bits < 8) return undefined;
    if (!l.load.offsets.every((o) => affineIn(o, s.var))) return undefined;
  }
  return run;
}

/** Whether e mentions scalar `name`. */
function mentions(e: ScalarExpr, name: string): boolean {
  switch (e.kind) {
    case 'var':
      return e.name === name;
    case 'const':
    case 'blockIdx':
      return false;
    case 'unary':
    case 'cast':
      return mentions(e.a, name);
    case 'binary':
      return mentions(e.a, name) || mentions(e.b, name);
    case 'select':
      return mentions(e.cond, name) || mentions(e.a, name) || mentions(e.b, name);
  }
}

/** Whether e is an affine function of scalar `name` in wrapping i32 arithmetic. */
function affineIn(e: ScalarExpr, name: string): boolean {
  if (!mentions(e, name)) return true;
  if (e.dtype.kind !== 'int' || e.dtype.bits !== 32) return false;
  if (e.kind === 'var') return true;
  if (e.kind !== 'binary') return false;
  if (e.op === 'add' || e.op === 'sub') return affineIn(e.a, name) && affineIn(e.b, name);
  if (e.op === 'mul')
    return (!mentions(e.a, name) && affineIn(e.b, name)) || (!mentions(e.b, name) && affineIn(e.a, name));
  return false;
}

/** The value of e when it is an i32 constant expression (wrapping), else undefined. */
function constValue(e: ScalarExpr): number | undefined {
  if (e.dtype.kind !== 'int' || e.dtype.bits !== 32) return undefined;
  if (e.kind === 'const') return Number.isInteger(e.value) ? e.value | 0 : undefined;
  if (e.kind !== 'binary') return undefined;
  const a = constValue(e.a);
  const b = constValue(e.b);
  if (a === undefined || b === undefined) return undefined;
  if (e.op === 'add') return (a + b) | 0;
  if (e.op === 'sub') return (a - b) | 0;
  if (e.op === 'mul') return Math.imul(a, b);
  return undefined;
}

/**
 * d e / d name for an affine e (affineIn) when it is a compile-time constant (wrapping i32), else
 * undefined (a product by a loop-invariant that is not constant).
 */
function slope(e: ScalarExpr, name: string): number | undefined {
  if (!mentions(e, name)) return 0;
  if (e.kind === 'var') return 1;
  if (e.kind !== 'binary') return undefined;
  const a = slope(e.a, name);
  const b = slope(e.b, name);
  if (e.op === 'add' || e.op === 'sub') {
    if (a === undefined || b === undefined) return undefined;
    return e.op === 'add' ? (a + b) | 0 : (a - b) | 0;
  }
  if (e.op !== 'mul') return undefined;
  if (!mentions(e.a, name)) {
    const k = constValue(e.a);
    return k === undefined || b === undefined ? undefined : Math.imul(k, b);
  }
  const k = constValue(e.b);
  return k === undefined || a === undefined ? undefined : Math.imul(k, a);
}

/**
 * The element step of a global tile's origin per iteration when it is a compile-time constant: only
 * the offset of the tensor's last dim (stride 1) may move, by a constant times a constant loop step.
 */
function fixedStep(offsets: readonly ScalarExpr[], name: string, loopStep: ScalarExpr): number | undefined {
  const step = constValue(loopStep);
  if (step === undefined || offsets.length === 0) return undefined;
  const R = offsets.length;
  for (let d = 0; d < R - 1; d++) if (slope(offsets[d], name) !== 0) return undefined;
  const k = slope(offsets[R - 1], name);
  return k === undefined ? undefined : Math.imul(k, step);
}

function sameList(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The code of `for` statement s as a carried loop, or undefined when it does not qualify. `plain`
 * gives the ordinary loop, run when the run-time checks fail.
 */
export function emitCarriedFor(g: Gen, s: For, plain: () => Ref[]): Ref[] | undefined {
  if (!g.fuse || !g.carry) return undefined;
  const run = carriedRun(g, s);
  if (!run) return undefined;
  const { f, m } = g;
  const I = m.i32;
  const S = run.shape;
  const v = g.scalar(s.var, i32Type);
  const stop = f.local(i32);
  const step = f.local(i32);
  const trips = f.local(i32);
  const ok = f.local(i32);
  // Per global leaf: a tile's offsets and origin (evaluated at three iterations), the first origin and
  // the step, and copies of the offsets at the first, last and second iteration.
  const tiles: { li: number; t: ReturnType<typeof tileAt>; first: number; step: number; offs: number[][] }[] =
    [];
  run.leaves.forEach((l, li) => {
    if (!l.load) return;
    tiles.push({ li, t: tileAt(g, l), first: f.local(i32), step: f.local(i32), offs: [] });
  });
  // Global leaves must vary along the last dim (checked with the strides they will be read with)
  const globals = new Map<number, GlobalLeafInfo>();
  for (const { li, t, first } of tiles) globals.set(li, { ...t.gl, origin: first });
  // ... contiguously, in a dtype the loop reads through a byte pointer (carry-loop.ts).
  for (const { li } of tiles) {
    const inner = leafPoint(g, run.leaves[li], S, globals.get(li)).strides[S.length - 1];
    if (!('k' in inner) || inner.k !== 1 || !pointerDtype(run.leaves[li].dtype)) return undefined;
  }
  const carried = new Map<number, number>();
  run.stores.forEach((st, si) => {
    carried.set(
      run.leaves.findIndex((l) => !l.load && l.v === st.v),
      si,
    );
  });
  // Steps known at compile time let the loop unroll (carry-loop.ts); checked again at run time below.
  const fixedSteps = new Map<number, number>();
  for (const { li } of tiles) {
    const k = fixedStep(run.leaves[li].load!.offsets, s.var, s.step);
    if (k !== undefined) fixedSteps.set(li, k);
  }
  let nest: Ref[];
  try {
    nest = carriedNest(g, run, globals, {
      trips,
      steps: new Map(tiles.map(({ li, step: st }) => [li, st])),
      carried,
      fixedSteps,
    } satisfies Carry);
  } catch (e) {
    if (e instanceof FuseHazard) return undefined;
    throw e;
  }
  // Iterations, the last value of the loop variable and the value the plain loop leaves it at.
  const L64 = m.i64;
  const wide = (x: Ref) => L64.extend_s(x);
  const last = f.local(i32);
  const nextOfLast = f.local(i64);
  const checks: Ref[] = [
    f.set(v, i32Expr(g, s.start)),
    f.set(stop, i32Expr(g, s.stop)),
    f.set(step, i32Expr(g, s.step)),
    f.set(ok, I.and(I.gt_s(f.get(step), I.const(0)), I.lt_s(f.get(v), f.get(stop)))),
    f.set(
      trips,
      I.wrap(
        L64.add(
          L64.div_s(
            L64.sub(L64.sub(wide(f.get(stop)), L64.const(1n)), wide(f.get(v))),
            wide(m.select(f.get(ok), f.get(step), I.const(1))),
          ),
          L64.const(1n),
        ),
      ),
    ),
    f.set(last, I.add(f.get(v), I.mul(I.sub(f.get(trips), I.const(1)), f.get(step)))),
    f.set(nextOfLast, L64.add(wide(f.get(last)), wide(f.get(step)))),
  ];
  // Each tile at the first, second and last iteration (the second only matters for 2+ iterations).
  // (Expressions are built afresh for every use: a binaryen tree must not share nodes.)
  const at = (
    value: Ref,
    keep: (tile: (typeof tiles)[number], here: ReturnType<typeof tileAt>) => Ref[],
  ): Ref[] => [
    f.set(v, value),
    ...tiles.flatMap((tile) => {
      const here = tileAt(g, run.leaves[tile.li]);
      tile.offs.push(here.gl.offsets);
      return [...here.set, ...keep(tile, here)];
    }),
  ];
  const start = f.local(i32);
  checks.push(
    f.set(start, f.get(v)),
    ...at(f.get(start), (tile, here) => [
      f.set(ok, I.and(f.get(ok), here.inside)),
      f.set(tile.first, f.get(here.gl.origin)),
    ]),
    ...at(f.get(last), (_, here) => [f.set(ok, I.and(f.get(ok), here.inside))]),
    ...at(I.add(f.get(start), f.get(step)), (tile, here) => [
      f.set(tile.step, I.sub(f.get(here.gl.origin), f.get(tile.first))),
    ]),
  );
  for (const tile of tiles) {
    const [first, lastOffs, second] = tile.offs;
    first.forEach((o0, d) => {
      // last = first + (trips - 1) (second - first), exactly.
      const expected = L64.add(
        wide(f.get(o0)),
        L64.mul(wide(I.sub(f.get(trips), I.const(1))), L64.sub(wide(f.get(second[d])), wide(f.get(o0)))),
      );
      checks.push(f.set(ok, I.and(f.get(ok), L64.eq(wide(f.get(lastOffs[d])), expected))));
    });
  }
  for (const tile of tiles) {
    const k = fixedSteps.get(tile.li);
    if (k !== undefined) checks.push(f.set(ok, I.and(f.get(ok), I.eq(f.get(tile.step), I.const(k)))));
  }
  // Where the plain loop leaves the variable: one step past the last value, unless that wraps.
  checks.push(
    f.set(
      v,
      m.select(L64.gt_s(f.get(nextOfLast), L64.const(0x7fffffffn)), f.get(last), I.wrap(f.get(nextOfLast))),
    ),
  );
  return [...checks, m.if(f.get(ok), m.block(null, nest), m.block(null, plain()))];
}
