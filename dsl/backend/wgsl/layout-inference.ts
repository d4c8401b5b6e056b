// Layout inference: a placement (layouts.ts) for every register tile of a program.
//
// 1. Tiles that must share one layout for their op to be thread-local are grouped into classes:
//    the operands and result of elementwise ops of one shape (unary, binary, select, cast, copy,
//    view of equal widths, load/store masks, dot's accumulator and result).
// 2. A tile the program gave a layout (load(..., { layout }), convert_layout) keeps it; its class
//    takes the first such layout. A class with a reduced member takes a layout that keeps the
//    reduced axis inside one thread where the shape allows (rowLayout).
//    A class with a dot result and no layout yet takes a micro-tile layout (microTileLayout: each
//    thread a contiguous block of results, so the blocked dot shares operand reads between them).
// 3. Derived layouts flow along ops that change the shape: a reduction's result gets the source's
//    layout with the reduced axis removed (thread modes become replication), a broadcast operand
//    gets the result's layout with the broadcast dims removed the same way (so the broadcast reads
//    its own registers), unsqueeze/reshape that only add or drop size-1 dims keep the layout.
// 4. A class still without a layout takes the layout of an earlier class of the same shape (tiles of
//    one shape in different loops then agree), else defaultLayout, else the cyclic fallback when no
//    Layout fits without many more slots per thread than the cyclic placement.
//
// Where two uses still disagree (a user layout against the class's, or shapes the rules above cannot
// relate), the emitters insert a conversion through workgroup memory and count it (Gen.stats).
import type { Program, Stmt, TileVar } from '../../ir/program.js';
import { numel } from '../../ir/shapes.js';
import { forEachStmt } from '../../ir/walk.js';
import { defaultLayout, Layout, local, replicated, spatial } from '../../layout.js';
import { CYCLIC, type Placement } from './layouts.js';

/** Slots per thread a layout may hold beyond the cyclic placement's ceil(n / T) (registers are cheap up to here). */
const SLOT_ALLOWANCE = 64;

/**
 * Most copies of a tile rowLayout makes to keep rows in threads: every copy repeats the loads and
 * elementwise work (measured on SwiftShader: 32 copies of layer norm's 4 x 32 tiles ran 3.4 times
 * slower than staging the reductions).
 */
const ROW_REPLICATION = 4;

/** Whether `l` is a usable placement for a tile of `shape` in a block of `threads`. */
function fits(l: Layout | undefined, shape: readonly number[], threads: number): l is Layout {
  if (!l || l.numThreads !== threads) return false;
  if (l.shape.length !== shape.length || l.shape.some((s, d) => s !== shape[d])) return false;
  return l.localSize <= Math.max(Math.ceil(numel(shape) / threads), SLOT_ALLOWANCE);
}

/**
 * Keeps `axis` of `shape` in one thread where possible: threads go to the other dims (innermost
 * first); threads left over replicate the tile when they are few and each thread's share stays
 * small, else they split the axis (the reduction then crosses threads).
 */
export function rowLayout(shape: readonly number[], axis: number, threads: number): Layout | undefined {
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const spatialDims = shape.map(() => 1);
  let left = threads;
  for (let d = shape.length - 1; d >= 0 && left > 1; d--) {
    if (d === axis) continue;
    spatialDims[d] = gcd(shape[d], left);
    left /= spatialDims[d];
  }
  const used = threads / left;
  if (left > ROW_REPLICATION || (left > 1 && numel(shape) / used > SLOT_ALLOWANCE)) {
    spatialDims[axis] = gcd(shape[axis], left);
    left /= spatialDims[axis];
  }
  const locals = shape.map((s, d) => s / spatialDims[d]);
  const l = replicated(left, shape.length)
    .product(local(...locals))
    .spatial(...spatialDims);
  return fits(l, shape, threads) ? l : undefined;
}

/** Most result elements per thread `microTileLayout` gives (the blocked dot unrolls them). */
const MICRO_TILE_SLOTS = 64;

/**
 * A dot result [M, N] in `threads` threads as a grid of threads each holding a contiguous
 * lm x ln block, with lm + ln (the operand values a thread reads per k for its lm ln products)
 * smallest; undefined when no thread grid divides the shape (the default placement then).
 */
export function microTileLayout(shape: readonly number[], threads: number): Layout | undefined {
  if (shape.length !== 2) return undefined;
  const [M, N] = shape;
  let best: { tm: number; tn: number; cost: number } | undefined;
  for (let tm = 1; tm <= threads; tm++) {
    const tn = threads / tm;
    if (!Number.isInteger(tn) || M % tm !== 0 || N % tn !== 0) continue;
    const lm = M / tm;
    const ln = N / tn;
    if (lm * ln > MICRO_TILE_SLOTS) continue;
    const cost = lm + ln;
    if (!best || cost < best.cost) best = { tm, tn, cost };
  }
  if (!best || best.cost <= 2) return undefined; // one element per thread: nothing to block
  const l = spatial(best.tm, best.tn).local(M / best.tm, N / best.tn);
  return fits(l, shape, threads) ? l : undefined;
}

/**
 * `l` with the modes of the dims `drop` says removed (thread modes become replication) and the
 * remaining dims renumbered by `dimOf`, as a layout of `shape`.
 */
function collapse(
  l: Layout,
  drop: (dim: number) => boolean,
  dimOf: (dim: number) => number,
  shape: readonly number[],
): Layout | undefined {
  const newId: number[] = [];
  const modes: { dim: number; size: number }[] = [];
  l.modes.forEach((m, i) => {
    newId[i] = drop(m.dim) ? -1 : modes.push({ dim: dimOf(m.dim), size: m.size }) - 1;
  });
  const thread = l.threadModes.map((e) => (e < 0 ? e : newId[e] < 0 ? -l.modes[e].size : newId[e]));
  const localModes = l.localModes.filter((e) => newId[e] >= 0).map((e) => newId[e]);
  try {
    return Layout.fromModes(shape, modes, thread, localModes);
  } catch {
    return undefined;
  }
}

/** The layout of a reduction's result: the source's with `axis` removed. */
export function reducedLayout(l: Layout, axis: number, keepdim: boolean, shape: readonly number[]) {
  return collapse(
    l,
    (d) => d === axis,
    (d) => (keepdim || d < axis ? d : d - 1),
    shape,
  );
}

/** The layout of a broadcast operand of `shape` that reads the result's (layout `l`) own registers. */
export function broadcastOperandLayout(l: Layout, shape: readonly number[]): Layout | undefined {
  const off = l.rank - shape.length;
  if (off < 0) return undefined;
  return collapse(
    l,
    (d) => d < off || (shape[d - off] === 1 && l.shape[d] !== 1),
    (d) => d - off,
    shape,
  );
}

/** `l` for a reshape that only adds or drops size-1 dims; undefined for other reshapes. */
export function unitReshapeLayout(l: Layout, shape: readonly number[]): Layout | undefined {
  const from = l.shape.flatMap((s, d) => (s > 1 ? [d] : []));
  const to = shape.flatMap((s, d) => (s > 1 ? [d] : []));
  if (from.length !== to.length || from.some((d, i) => l.shape[d] !== shape[to[i]])) return undefined;
  return collapse(
    l,
    () => false,
    (d) => to[from.indexOf(d)],
    shape,
  );
}

interface Derived {
  readonly from: TileVar;
  readonly to: TileVar;
  readonly derive: (l: Layout) => Layout | undefined;
}

/** The register tiles a statement reads or writes. */
function tilesOf(s: Stmt): TileVar[] {
  const out: TileVar[] = [];
  for (const key of ['dst', 'src', 'a', 'b', 'c', 'cond', 'mask'] as const) {
    const v = (s as unknown as Record<string, TileVar | undefined>)[key];
    if (v && typeof v === 'object' && 'type' in v && v.type.space === 'register') out.push(v);
  }
  return out;
}

export function inferLayouts(program: Program): Map<TileVar, Placement> {
  const T = program.threads;
  const vars: TileVar[] = [];
  const index = new Map<TileVar, number>();
  forEachStmt(program.body, (s) => {
    for (const v of tilesOf(s)) {
      if (!index.has(v)) {
        index.set(v, vars.length);
        vars.push(v);
      }
    }
  });
  const parent = vars.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
    return i;
  };
  const sameShape = (a: TileVar, b: TileVar) =>
    a.type.shape.length === b.type.shape.length && a.type.shape.every((x, d) => x === b.type.shape[d]);
  const union = (a: TileVar, b: TileVar | undefined): void => {
    if (!b || !sameShape(a, b)) return;
    const ra = find(index.get(a)!);
    const rb = find(index.get(b)!);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  const derived: Derived[] = [];
  const rowSeeds = new Map<TileVar, number>(); // reduced tile -> axis
  const dotResults: TileVar[] = [];
  const operand = (dst: TileVar, x: TileVar): void => {
    if (sameShape(dst, x)) union(dst, x);
    else if (numel(x.type.shape) > 1)
      derived.push({ from: dst, to: x, derive: (l) => broadcastOperandLayout(l, x.type.shape) });
  };
  forEachStmt(program.body, (s) => {
    switch (s.op) {
      case 'cast':
      case 'unary':
      case 'copy':
        union(s.dst, s.src);
        break;
      case 'view':
        if (s.dst.type.dtype.bits === s.src.type.dtype.bits) union(s.dst, s.src);
        break;
      case 'binary':
        operand(s.dst, s.a);
        operand(s.dst, s.b);
        break;
      case 'select':
        operand(s.dst, s.cond);
        operand(s.dst, s.a);
        operand(s.dst, s.b);
        break;
      case 'load_global':
        if (s.mask) union(s.dst, s.mask);
        break;
      case 'store_global':
        if (s.mask) union(s.src, s.mask);
        break;
      case 'dot':
        union(s.dst, s.c);
        dotResults.push(s.dst);
        break;
      case 'broadcast':
        if (numel(s.src.type.shape) > 1)
          derived.push({
            from: s.dst,
            to: s.src,
            derive: (l) => broadcastOperandLayout(l, s.src.type.shape),
          });
        break;
      case 'reduce':
        if (!rowSeeds.has(s.src)) rowSeeds.set(s.src, s.axis);
        derived.push({
          from: s.src,
          to: s.dst,
          // Rows across threads: the staged reduction computes each element once and hands it to
          // its other holders, so the result can still be broadcast from registers.
          derive: (l) => reducedLayout(l, s.axis, s.keepdim, s.dst.type.shape),
        });
        break;
      case 'reshape':
      case 'unsqueeze':
        derived.push({ from: s.src, to: s.dst, derive: (l) => unitReshapeLayout(l, s.dst.type.shape) });
        derived.push({ from: s.dst, to: s.src, derive: (l) => unitReshapeLayout(l, s.src.type.shape) });
        break;
      default:
        break;
    }
  });

  // Class layouts: given ones first, then rows kept in threads for reductions.
  const classOf = (v: TileVar) => find(index.get(v)!);
  const chosen = new Map<number, Placement>();
  for (const v of vars) {
    const l = v.type.layout;
    if (l && !chosen.has(classOf(v))) chosen.set(classOf(v), { kind: 'layout', layout: l });
  }
  for (const [v, axis] of rowSeeds) {
    if (chosen.has(classOf(v)) || numel(v.type.shape) === 1) continue;
    const l = rowLayout(v.type.shape, axis, T);
    if (l) chosen.set(classOf(v), { kind: 'layout', layout: l });
  }
  for (const v of dotResults) {
    if (chosen.has(classOf(v))) continue;
    const l = microTileLayout(v.type.shape, T);
    if (l) chosen.set(classOf(v), { kind: 'layout', layout: l });
  }
  const propagate = (): void => {
    for (let changed = true; changed; ) {
      changed = false;
      for (const d of derived) {
        const from = chosen.get(classOf(d.from));
        const to = classOf(d.to);
        if (chosen.has(to) || !from || from.kind !== 'layout') continue;
        const l = d.derive(d.from.type.layout ?? from.layout);
        if (fits(l, d.to.type.shape, T)) {
          chosen.set(to, { kind: 'layout', layout: l });
          changed = true;
        }
      }
    }
  };
  propagate();
  for (const v of vars) {
    const c = classOf(v);
    if (chosen.has(c)) continue;
    const shape = v.type.shape;
    let p: Placement = CYCLIC;
    for (const u of vars) {
      const q = chosen.get(classOf(u));
      if (q && sameShape(u, v)) {
        p = q;
        break;
      }
    }
    if (p === CYCLIC && numel(shape) > 1) {
      // Without replication: a replica would repeat every producer's work (costly for staged ops).
      const l = defaultLayout(shape, T);
      if (fits(l, shape, T) && l.replication === 1) p = { kind: 'layout', layout: l };
    }
    chosen.set(c, p);
    propagate();
  }

  const out = new Map<TileVar, Placement>();
  for (const v of vars) {
    const own = v.type.layout;
    out.set(v, own ? { kind: 'layout', layout: own } : chosen.get(classOf(v))!);
  }
  return out;
}
