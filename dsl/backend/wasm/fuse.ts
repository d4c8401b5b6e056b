// Emitting a fused run (fuse-plan.ts) as one loop nest over its shape S: outer dims as loops, the
// second-to-last dim (up to 16 rows) unrolled inside the loop over 4-lane chunks of the last dim, so
// a value that does not change along the rows (x in a GEMV) is loaded once per chunk for all rows,
// and values that do not change along the last dim (group scales) are computed once per row before
// the chunk loop. Every statement keeps its own rounding, so results are the unfused ones bit for bit.
//
// Global tiles are read in place when every one of them lies inside its tensor (and, for sub-byte
// dtypes, 64 more elements follow, for the unaligned word reads of unpack.ts); otherwise the run
// loads them into scratch as unfused code would and runs the same nest over scratch.
import binaryen from 'binaryen';
import type { Stmt } from '../../ir/program.js';
import { stridesOf } from '../../ir/shapes.js';
import { carriedLoop, type LeafLoad } from './carry-loop.js';
import type { Gen, GlobalInfo } from './context.js';
import type { Ref, Reg } from './fn.js';
import { reg } from './formats.js';
import type { Counts, Leaf, Node, Run, Src } from './fuse-plan.js';
import { countVars, planRun } from './fuse-plan.js';
import { emitLoadGlobal, loadElement } from './memory.js';
import { broadcastStrides } from './nest.js';
import { binary, cast, unary, vecBinary, vecCast, vecSelect, vecUnary } from './ops.js';
import { convertedScalar, i32Expr } from './scalar.js';
import { canUnpack, subByteLoad4, vectorLoad4 } from './unpack.js';
import { type ConstPool, type WordDecoder, wordDecodable, wordDecoder, wordElements } from './words.js';

const { i32, v128 } = binaryen;

/** Most rows unrolled inside the chunk loop. */
export const MAX_ROWS = 16;

const countCache = new WeakMap<Gen, Counts>();

/** The fused run starting at body[i], if there is one worth emitting. */
export function findRun(g: Gen, body: readonly Stmt[], i: number): Run | undefined {
  let counts = countCache.get(g);
  if (!counts) {
    counts = countVars(g.program);
    countCache.set(g, counts);
  }
  return planRun(body, i, counts);
}

/** A stride along one dim of S: a compile-time element count, or a local holding one. */
type Stride = { readonly k: number } | { readonly local: number };

export interface Point {
  /** Element strides per dim of S. */
  readonly strides: readonly Stride[];
  /** The starting element index (global leaves: the tile origin's flat index). */
  readonly start: () => Ref;
}

export interface GlobalLeafInfo {
  readonly info: GlobalInfo;
  readonly offsets: number[];
  readonly origin: number;
}

/** The vector form of node n, when it has one. */
export function vectorOp(g: Gen, n: Node): ((args: (() => Ref)[]) => Ref) | undefined {
  const s = n.s;
  switch (n.kind) {
    case 'id':
      return ([x]) => x();
    case 'full':
      return () => g.m.i32.const(0); // replaced by a splat of the hoisted scalar
    case 'select':
      return ([c, a, b]) => vecSelect(g.mod, c, a, b);
    case 'unary': {
      if (s.op !== 'unary') return undefined;
      const v = vecUnary(g.mod, s.fn, s.src.type.dtype);
      return v && (([x]) => v(x));
    }
    case 'binary': {
      if (s.op !== 'binary') return undefined;
      const v = vecBinary(g.mod, s.fn, s.a.type.dtype);
      return v && (([a, b]) => v(a, b));
    }
    case 'cast': {
      if (s.op !== 'cast') return undefined;
      const v = vecCast(g.mod, s.src.type.dtype, s.dst.type.dtype);
      return v && (([x]) => v(x));
    }
  }
}

function scalarOp(g: Gen, n: Node, args: (() => Ref)[]): Ref {
  const s = n.s;
  if (n.kind === 'id') return args[0]();
  if (n.kind === 'select') return g.m.select(args[0](), args[1](), args[2]());
  if (s.op === 'unary') return unary(g.mod, s.fn, s.src.type.dtype, args[0]);
  if (s.op === 'binary') return binary(g.mod, s.fn, s.a.type.dtype, args[0], args[1]);
  if (s.op === 'cast') return cast(g.mod, s.src.type.dtype, s.dst.type.dtype, args[0]);
  throw new Error(`internal: no scalar form for ${s.op} in a fused run`);
}

/** The code of a fused run. */
export function emitRun(g: Gen, run: Run): Ref[] {
  const { f, m } = g;
  const I = m.i32;
  const S = run.shape.length === 0 ? [1] : run.shape;
  const out: Ref[] = [];
  for (const l of run.preLoads) out.push(...emitLoadGlobal(g, l));
  // Scalars of `full`, evaluated where the statement stands (no scalar changes inside a run).
  const fulls = new Map<number, number>();
  run.nodes.forEach((n, i) => {
    if (n.s.op !== 'full') return;
    const local = f.local(binaryen[reg(n.dst.type.dtype)]);
    out.push(f.set(local, convertedScalar(g, n.s.value, n.dst.type.dtype)));
    fulls.set(i, local);
  });
  // Global leaves: offsets, tile origin and whether the whole tile is inside the tensor.
  const globals = new Map<number, GlobalLeafInfo>();
  let inside: Ref = I.const(1);
  run.leaves.forEach((l, i) => {
    if (!l.load) return;
    const t = tileAt(g, l);
    out.push(...t.set);
    inside = I.and(inside, t.inside);
    globals.set(i, t.gl);
  });
  if (globals.size === 0) return [...out, ...nestCode(g, run, S, fulls, undefined)];
  const [setInside, insideVal] = f.save(inside, i32);
  const slow = [
    ...run.leaves.flatMap((l) => (l.load ? emitLoadGlobal(g, l.load) : [])),
    ...nestCode(g, run, S, fulls, undefined),
  ];
  const fast = nestCode(g, run, S, fulls, globals);
  return [...out, setInside, m.if(insideVal(), m.block(null, fast), m.block(null, slow))];
}

/** A loop whose body is one fused run, emitted with the run's loop nest outside the loop (carry.ts). */
export interface Carry {
  /** The loop's iteration count (a local, at least 1). */
  readonly trips: number;
  /** Global leaf -> local holding the element step of its tile origin per iteration. */
  readonly steps: ReadonlyMap<number, number>;
  /** Buffer leaf -> store: a loop-carried tile read and written at the same elements. */
  readonly carried: ReadonlyMap<number, number>;
  /** Global leaf -> its step when known at compile time (checked at run time): the loop unrolls. */
  readonly fixedSteps?: ReadonlyMap<number, number>;
}

/**
 * The code of a carried loop's nest (see carry.ts): `globals` hold the first iteration's tile
 * origins. Throws FuseHazard when the run cannot be emitted as a nest.
 */
export function carriedNest(g: Gen, run: Run, globals: Map<number, GlobalLeafInfo>, carry: Carry): Ref[] {
  return nestCode(g, run, run.shape, new Map(), globals, carry);
}

/**
 * Where global leaf l's tile starts: statements that set its offset locals and origin local, and
 * whether the whole tile lies inside its tensor (read after the statements).
 */
export function tileAt(g: Gen, l: Leaf): { set: Ref[]; inside: Ref; gl: GlobalLeafInfo } {
  const { f, m } = g;
  const I = m.i32;
  const load = l.load!;
  const info = g.globals.get(load.param)!;
  const set: Ref[] = [];
  const offsets = load.offsets.map((o) => {
    const local = f.local(i32);
    set.push(f.set(local, i32Expr(g, o)));
    return local;
  });
  const R = offsets.length;
  const T = load.dst.type.shape;
  const lead = R - T.length;
  let inside: Ref = I.const(1);
  let origin: Ref = I.const(0);
  let last: Ref = I.const(0);
  offsets.forEach((o, d) => {
    origin = I.add(origin, I.mul(f.get(o), f.get(info.strides[d])));
    if (d < lead) {
      inside = I.and(inside, I.lt_u(f.get(o), f.get(info.dims[d])));
    } else {
      const n = T[d - lead];
      inside = I.and(
        inside,
        I.and(I.ge_s(f.get(o), I.const(0)), I.le_s(f.get(o), I.sub(f.get(info.dims[d]), I.const(n)))),
      );
      last = I.add(last, I.mul(I.const(n - 1), f.get(info.strides[d])));
    }
  });
  const originLocal = f.local(i32);
  set.push(f.set(originLocal, origin));
  if (l.dtype.bits < 8 && R > 0) {
    // Sub-byte rows are read a word at a time: leave room after the tile's last element for an
    // 8-byte read (unpack.ts) and a 16-byte one (words.ts) from its byte.
    const room = Math.max(64, 128 / l.dtype.bits);
    const numelT = I.mul(f.get(info.dims[0]), f.get(info.strides[0]));
    inside = I.and(inside, I.le_s(I.add(I.add(f.get(originLocal), last), I.const(room)), numelT));
  }
  return { set, inside, gl: { info, offsets, origin: originLocal } };
}

/** The access strides of leaf l over S (global leaves: tensor strides through the tile's dims). */
export function leafPoint(g: Gen, l: Leaf, S: readonly number[], gl: GlobalLeafInfo | undefined): Point {
  const f = g.f;
  if (!gl || !l.load) {
    const strides = broadcastStrides(l.shape, S).map((k) => ({ k }));
    return { strides, start: () => g.m.i32.const(0) };
  }
  // S dims map right-aligned onto the leaf's shape; its non-1 dims are the tile's non-1 dims in order.
  const T = l.load.dst.type.shape;
  const lead = gl.offsets.length - T.length;
  const tileDims = T.map((n, d) => ({ n, d: lead + d })).filter((x) => x.n !== 1);
  const off = S.length - l.shape.length;
  let next = 0;
  const leafDim: (number | undefined)[] = l.shape.map((n) => (n === 1 ? undefined : tileDims[next++].d));
  const strides = S.map((_, d) => {
    const ld = d - off;
    const td = ld < 0 ? undefined : leafDim[ld];
    if (td === undefined) return { k: 0 };
    if (td === gl.offsets.length - 1) return { k: 1 };
    return { local: gl.info.strides[td] };
  });
  return { strides, start: () => f.get(gl.origin) };
}

export function strideIsZero(s: Stride): boolean {
  return 'k' in s && s.k === 0;
}

/** Adds `count` (a compile-time number) steps of stride s to an index expression. */
function addSteps(g: Gen, x: Ref, s: Stride, count: number): Ref {
  const I = g.m.i32;
  if ('k' in s) return s.k === 0 || count === 0 ? x : I.add(x, I.const(count * s.k));
  return count === 0 ? x : I.add(x, I.mul(I.const(count), g.f.get(s.local)));
}

/** Adds `count` (an i32 expression) steps of stride s to an index expression. */
function addStepsVar(g: Gen, x: Ref, s: Stride, count: Ref): Ref {
  const I = g.m.i32;
  if ('k' in s) {
    if (s.k === 0) return x;
    return I.add(x, s.k === 1 ? count : I.mul(count, I.const(s.k)));
  }
  return I.add(x, I.mul(count, g.f.get(s.local)));
}

function nestCode(
  g: Gen,
  run: Run,
  S: readonly number[],
  fulls: Map<number, number>,
  globals: Map<number, GlobalLeafInfo> | undefined,
  carry?: Carry,
): Ref[] {
  const { f, m } = g;
  const I = m.i32;
  const r = S.length;
  const L = S[r - 1];
  const unroll = r >= 2 && S[r - 2] <= MAX_ROWS;
  const rows = unroll ? S[r - 2] : 1;
  const outerRank = unroll ? r - 2 : r - 1;
  const vector = L >= 4 && run.nodes.every((n) => vectorOp(g, n) !== undefined);
  // Access points: leaves, then stores.
  const leafPoints = run.leaves.map((l, i) => leafPoint(g, l, S, globals?.get(i)));
  const rowMajor = stridesOf(S).map((k) => ({ k }));
  const storePoints: Point[] = run.stores.map(() => ({ strides: rowMajor, start: () => I.const(0) }));
  // Lane-wise sums: [..., 4] destinations, the same 4 lanes at every chunk of a row.
  const reducePoints: Point[] = run.reductions.map((red) => {
    const dst = broadcastStrides(red.v.type.shape, [...S.slice(0, -1), 4]);
    return { strides: S.map((_, d) => ({ k: d === r - 1 ? 0 : dst[d] })), start: () => I.const(0) };
  });
  if (run.reductions.length > 0 && (!vector || carry)) throw new FuseHazard();
  const points = [...leafPoints, ...storePoints, ...reducePoints];
  // Hazard: a buffer both stored and read through another mapping makes fusion unsafe here.
  const storeBases = new Set(run.stores.map((s) => g.buf(s.v)));
  const sameMapping = (p: Point) =>
    p.strides.every((s, d) => S[d] === 1 || ('k' in s && s.k === rowMajor[d].k));
  for (let i = 0; i < run.leaves.length; i++) {
    const l = run.leaves[i];
    if (globals?.has(i)) continue;
    if (storeBases.has(g.buf(l.v)) && !sameMapping(leafPoints[i])) throw new FuseHazard();
  }
  // What each node depends on: the row dim (unrolled) and the last dim.
  const leafVaries = (p: Point, d: number) => d >= 0 && !strideIsZero(p.strides[d]);
  const deps = new Map<string, { row: boolean; inner: boolean }>();
  const depOf = (src: Src): { row: boolean; inner: boolean } => {
    if (src.kind === 'leaf') {
      const p = leafPoints[src.leaf];
      return { row: unroll && leafVaries(p, r - 2), inner: leafVaries(p, r - 1) };
    }
    const key = `n${src.node}`;
    let d = deps.get(key);
    if (!d) {
      const parts = run.nodes[src.node].args.map(depOf);
      d = { row: parts.some((p) => p.row), inner: parts.some((p) => p.inner) };
      deps.set(key, d);
    }
    return d;
  };

  // Element index locals of every point at the current outer position.
  const body: Ref[] = [];
  const cursors = points.map((p) => {
    const c = f.local(i32);
    body.push(f.set(c, p.start()));
    return c;
  });

  const rowBlock = (cur: readonly number[]): Ref[] => {
    const stmts: Ref[] = [];
    // Row start index of every point (locals where the row stride is a runtime value).
    const rowStart = points.map((p, pi) =>
      Array.from({ length: rows }, (_, i): (() => Ref) => {
        if (!unroll || i === 0) return () => f.get(cur[pi]);
        const s = p.strides[r - 2];
        if ('k' in s) return () => addSteps(g, f.get(cur[pi]), s, i);
        const local = f.local(i32);
        stmts.push(f.set(local, addSteps(g, f.get(cur[pi]), s, i)));
        return () => f.get(local);
      }),
    );
    const c = f.local(i32); // element index along the last dim
    // Sub-byte rows read in place: each row's first byte and bit phase, once per row block.
    const subRows = new Map<number, { byte: number; phase: number }[]>();
    run.leaves.forEach((l, li) => {
      const gl = globals?.get(li);
      const inner = points[li].strides[r - 1];
      if (!gl || !vector || l.dtype.bits >= 8 || !('k' in inner) || inner.k !== 1 || !canUnpack(l.dtype))
        return;
      const k = l.dtype.bits;
      subRows.set(
        li,
        Array.from({ length: rows }, (_, i) => {
          const e = rowStart[li][i];
          const byte = f.local(i32);
          const phase = f.local(i32);
          const q = () => I.mul(I.and(e(), I.const(7)), I.const(k));
          stmts.push(
            f.set(
              byte,
              I.add(
                I.add(f.get(gl.info.base), I.mul(I.shr_u(e(), I.const(3)), I.const(k))),
                I.shr_u(q(), I.const(3)),
              ),
            ),
            f.set(phase, I.and(q(), I.const(7))),
          );
          return { byte, phase };
        }),
      );
    });
    // Whole-word unpacking (words.ts): sub-byte integer, bool and float rows of one width read a v128
    // word per group of E elements, when every such row starts on a byte (checked at run time; else
    // chunk by chunk).
    const wordK = carry
      ? undefined
      : [...subRows.keys()].map((li) => run.leaves[li].dtype).find(wordDecodable)?.bits;
    const wordSet = new Set(
      [...subRows.keys()].filter(
        (li) => wordDecodable(run.leaves[li].dtype) && run.leaves[li].dtype.bits === wordK,
      ),
    );
    const poolLocals = new Map<string, number>();
    const poolStmts: Ref[] = [];
    const pool: ConstPool = (bytes) => {
      const key = bytes.join(',');
      let local = poolLocals.get(key);
      if (local === undefined) {
        local = f.local(v128);
        poolStmts.push(f.set(local, m.v128.const([...bytes])));
        poolLocals.set(key, local);
      }
      const l = local;
      return () => f.get(l);
    };
    let words: Map<string, WordDecoder> | undefined;
    let wordChunk = 0;
    // Carried loops: each global leaf's tile origin moves by its step per iteration.
    const kOffsets = new Map<number, number>();
    if (carry) for (const li of carry.steps.keys()) kOffsets.set(li, f.local(i32));
    const index = (pi: number, row: number, lane: number) => {
      const k = kOffsets.get(pi);
      const rowIndex = rowStart[pi][row]();
      return addSteps(
        g,
        addStepsVar(
          g,
          k === undefined ? rowIndex : I.add(rowIndex, f.get(k)),
          points[pi].strides[r - 1],
          f.get(c),
        ),
        points[pi].strides[r - 1],
        lane,
      );
    };
    // A scratch element's address as a pointer shared by the unrolled rows and a memarg offset for
    // the row (compile-time row strides), so rows cost no address arithmetic of their own.
    const scratchAt = (pi: number, row: number, base: number): { ptr: Ref; offset: number } => {
      const s = points[pi].strides[r - 2];
      if (unroll && row > 0 && s && 'k' in s && !kOffsets.has(pi))
        return {
          ptr: I.add(f.get(g.scratch), I.shl(index(pi, 0, 0), I.const(2))),
          offset: base + 4 * row * s.k,
        };
      return { ptr: I.add(f.get(g.scratch), I.shl(index(pi, row, 0), I.const(2))), offset: base };
    };
    // Carried tiles in registers: one v128 local per (store, row) while a chunk's loop runs.
    let carriedLocals: number[][] | undefined;
    let carriedLoad: LeafLoad | undefined;
    const loadLeaf = (li: number, row: number, width: 1 | 4): Ref => {
      const carriedStore = carry?.carried.get(li);
      if (carriedLocals && carriedStore !== undefined && width === 4)
        return f.get(carriedLocals[carriedStore][row]);
      const direct =
        width === 4
          ? carriedLoad?.(li, row, (v) => {
              const [set, get] = f.save(v, v128);
              stmts0.push(set);
              return get;
            })
          : undefined;
      if (direct !== undefined) return direct;
      const l = run.leaves[li];
      const gl = globals?.get(li);
      const rg = reg(l.dtype);
      const scalarAt = (lane: number): Ref => {
        const e = index(li, row, lane);
        if (gl) return loadElement(g.mod, l.dtype, f.get(gl.info.base), e);
        return (rg === 'f32' ? m.f32.load : I.load)(
          g.buf(l.v),
          4,
          I.add(f.get(g.scratch), I.shl(e, I.const(2))),
        );
      };
      if (width === 1) return scalarAt(0);
      const inner = points[li].strides[r - 1];
      if (strideIsZero(inner)) return (rg === 'f32' ? m.f32x4.splat : m.i32x4.splat)(scalarAt(0));
      const unit = 'k' in inner && inner.k === 1;
      if (unit && !gl) {
        const at = scratchAt(li, row, g.buf(l.v));
        return m.v128.load(at.offset, 4, at.ptr);
      }
      const sub = subRows.get(li)?.[row];
      if (sub && words && wordSet.has(li)) {
        const key = `${li}:${row}`;
        let dec = words.get(key);
        if (!dec) {
          const save = (v: Ref) => {
            const [set, get] = f.save(v, v128);
            stmts0.push(set);
            return get;
          };
          // Read at the group's first chunk, whose element index c * k is a whole number of bytes.
          const addr = I.add(f.get(sub.byte), I.shr_u(I.mul(f.get(c), I.const(l.dtype.bits)), I.const(3)));
          dec = wordDecoder(g.mod, l.dtype, save(m.v128.load(0, 1, addr)), pool, save);
          words.set(key, dec);
        }
        return dec.chunk(wordChunk);
      }
      if (sub) {
        // Chunks start at multiples of 4 elements: 4k bits on from the row's phase.
        const save = (v: Ref) => {
          const [set, get] = f.save(v, v128);
          stmts0.push(set);
          return get;
        };
        const k = l.dtype.bits;
        const cBits = () => I.mul(f.get(c), I.const(k));
        if (k % 2 === 0) {
          const addr = I.add(f.get(sub.byte), I.shr_u(cBits(), I.const(3)));
          return subByteLoad4(g.mod, l.dtype, addr, () => f.get(sub.phase), save);
        }
        const [setBits, bits] = f.save(I.add(f.get(sub.phase), cBits()), i32);
        stmts0.push(setBits);
        const addr = I.add(f.get(sub.byte), I.shr_u(bits(), I.const(3)));
        return subByteLoad4(g.mod, l.dtype, addr, () => I.and(bits(), I.const(7)), save);
      }
      if (unit && gl && canUnpack(l.dtype)) {
        const [setE, e] = f.save(index(li, row, 0), i32);
        stmts0.push(setE);
        return vectorLoad4(
          g.mod,
          l.dtype,
          () => f.get(gl.info.base),
          e,
          (v) => {
            const [set, get] = f.save(v, v128);
            stmts0.push(set);
            return get;
          },
        );
      }
      // Gather lane by lane.
      let v = (rg === 'f32' ? m.f32x4.splat : m.i32x4.splat)(scalarAt(0));
      for (let lane = 1; lane < 4; lane++) {
        v = (rg === 'f32' ? m.f32x4.replace_lane : m.i32x4.replace_lane)(
          v,
          lane as unknown as Ref,
          scalarAt(lane),
        );
      }
      return v;
    };
    // Statements preceding the current value (local sets of sub-expressions); flushed in order.
    let stmts0: Ref[] = [];
    type Memo = Map<string, number>;
    const valueAt = (src: Src, row: number, width: 1 | 4, memo: Memo, hoisted: Memo): number => {
      const dep = depOf(src);
      const rowKey = dep.row ? row : -1;
      if (!dep.inner) {
        // Computed once per row before the chunk loop, as a scalar; splat on demand.
        const hk = `${src.kind}${src.kind === 'leaf' ? src.leaf : src.node}:${rowKey}:${width}`;
        const h = hoisted.get(hk);
        if (h !== undefined) return h;
        const scalar = scalarValue(src, row, hoisted);
        if (width === 1) return scalar;
        const rg = regOf(src);
        const local = f.local(v128);
        hoistStmts.push(f.set(local, (rg === 'f32' ? m.f32x4.splat : m.i32x4.splat)(f.get(scalar))));
        hoisted.set(hk, local);
        return local;
      }
      const key = `${src.kind}${src.kind === 'leaf' ? src.leaf : src.node}:${rowKey}`;
      const got = memo.get(key);
      if (got !== undefined) return got;
      let value: Ref;
      if (src.kind === 'leaf') {
        value = loadLeaf(src.leaf, row, width);
      } else {
        const n = run.nodes[src.node];
        const args = n.args.map((a) => {
          const local = valueAt(a, row, width, memo, hoisted);
          return () => f.get(local);
        });
        value = width === 4 ? vectorOp(g, n)!(args) : scalarOp(g, n, args);
      }
      const local = f.local(width === 4 ? v128 : binaryen[regOf(src)]);
      stmts0.push(f.set(local, value));
      memo.set(key, local);
      return local;
    };
    const regOf = (src: Src): Reg =>
      reg(src.kind === 'leaf' ? run.leaves[src.leaf].dtype : run.nodes[src.node].dst.type.dtype);
    // Hoisted scalars: computed with c = 0 (they do not depend on it).
    const hoistStmts: Ref[] = [];
    const scalarValue = (src: Src, row: number, hoisted: Memo): number => {
      const dep = depOf(src);
      const hk = `s${src.kind}${src.kind === 'leaf' ? src.leaf : src.node}:${dep.row ? row : -1}`;
      const h = hoisted.get(hk);
      if (h !== undefined) return h;
      let value: Ref;
      if (src.kind === 'leaf') {
        const saved = stmts0;
        stmts0 = [];
        value = loadLeaf(src.leaf, row, 1);
        hoistStmts.push(...stmts0);
        stmts0 = saved;
      } else {
        const n = run.nodes[src.node];
        if (n.kind === 'full') {
          const local = fulls.get(src.node)!;
          hoisted.set(hk, local);
          return local;
        }
        const args = n.args.map((a) => {
          const local = scalarValue(a, row, hoisted);
          return () => f.get(local);
        });
        value = scalarOp(g, n, args);
      }
      const local = f.local(binaryen[regOf(src)]);
      hoistStmts.push(f.set(local, value));
      hoisted.set(hk, local);
      return local;
    };
    const hoisted: Memo = new Map();
    // Running lane-wise sums: a v128 local per (reduction, row), from +0 (the interpreter's start).
    // A sum broadcast along the rows (x's own sum in a GEMV) is kept for row 0 only.
    const sums = run.reductions.map((_, ri) =>
      Array.from({ length: unroll && strideIsZero(reducePoints[ri].strides[r - 2]) ? 1 : rows }, () =>
        f.local(v128),
      ),
    );
    for (const row of sums)
      for (const local of row) stmts.push(f.set(local, m.v128.const(new Array(16).fill(0))));
    const sumAt = (ri: number, row: number) =>
      scratchAt(run.leaves.length + run.stores.length + ri, row, g.buf(run.reductions[ri].v));
    const position = (width: 1 | 4): Ref[] => {
      const memo: Memo = new Map();
      const code: Ref[] = [];
      for (let row = 0; row < rows; row++) {
        const values = run.stores.map((s) =>
          valueAt({ kind: 'node', node: s.node }, row, width, memo, hoisted),
        );
        const parts = run.reductions.map((red, ri) =>
          row < sums[ri].length
            ? valueAt({ kind: 'node', node: red.node }, row, 4, memo, hoisted)
            : undefined,
        );
        code.push(...stmts0);
        stmts0 = [];
        parts.forEach((part, ri) => {
          if (part === undefined) return;
          code.push(f.set(sums[ri][row], m.f32x4.add(f.get(sums[ri][row]), f.get(part))));
        });
        run.stores.forEach((s, si) => {
          const pi = run.leaves.length + si;
          const at = scratchAt(pi, row, g.buf(s.v));
          const value = f.get(values[si]);
          code.push(
            width === 4
              ? m.v128.store(at.offset, 4, at.ptr, value)
              : (reg(s.v.type.dtype) === 'f32' ? m.f32.store : I.store)(at.offset, 4, at.ptr, value),
          );
        });
      }
      return code;
    };
    // Every chunk of every row through all iterations of a carried loop (carry-loop.ts).
    const carriedAll = (cr: Carry): Ref[] =>
      carriedLoop({
        g,
        run,
        carry: cr,
        globals: globals ?? new Map(),
        rows,
        L,
        c,
        kOffsets,
        rowStart: (li, row) => rowStart[li][row](),
        rowVaries: (li) => unroll && rows > 1 && !strideIsZero(points[li].strides[r - 2]),
        unitInner: (li) => {
          const s = points[li].strides[r - 1];
          return 'k' in s && s.k === 1;
        },
        storeAddr: (si, row) =>
          I.add(f.get(g.scratch), I.shl(index(run.leaves.length + si, row, 0), I.const(2))),
        position: () => {
          const memo: Memo = new Map();
          return (row) => {
            const values = run.stores.map((s) =>
              valueAt({ kind: 'node', node: s.node }, row, 4, memo, hoisted),
            );
            const stmts = stmts0;
            stmts0 = [];
            return { stmts, values };
          };
        },
        redirect: (locals, load) => {
          carriedLocals = locals;
          carriedLoad = load;
        },
      });
    // The chunk loop and its tail are built before the hoisted code they need is placed.
    const chunks = vector ? Math.floor(L / 4) : 0;
    const vecLoop = carry
      ? carriedAll(carry)
      : f.repeat(
          chunks,
          () => position(4),
          () => f.bump(c, 4),
        );
    const tailLoop = f.repeat(
      L - chunks * 4,
      () => position(1),
      () => f.bump(c, 1),
    );
    const sumStores = sums.flatMap((row, ri) =>
      row.map((local, i) => {
        const at = sumAt(ri, i);
        return m.v128.store(at.offset, 4, at.ptr, f.get(local));
      }),
    );
    if (wordK === undefined || chunks === 0)
      return [...stmts, f.set(c, I.const(0)), ...hoistStmts, ...vecLoop, ...tailLoop, ...sumStores];
    // The word loop: groups of E / 4 chunks unrolled around one word per row and leaf, then the
    // chunks left (a partial group, its word read past the row: tileAt leaves room for it).
    const group = (n: number): Ref[] => {
      words = new Map();
      const code: Ref[] = [];
      for (let j = 0; j < n; j++) {
        wordChunk = j;
        code.push(...position(4), ...f.bump(c, 4));
      }
      words = undefined;
      return code;
    };
    const perGroup = wordElements(wordK) / 4;
    const fullGroups = Math.floor(chunks / perGroup);
    const rest = chunks - fullGroups * perGroup;
    const wordLoop = [...f.repeat(fullGroups, () => group(perGroup)), ...(rest > 0 ? group(rest) : [])];
    let aligned: Ref = I.const(0);
    for (const li of wordSet) for (const sub of subRows.get(li)!) aligned = I.or(aligned, f.get(sub.phase));
    return [
      ...stmts,
      ...poolStmts,
      f.set(c, I.const(0)),
      ...hoistStmts,
      m.if(I.eqz(aligned), m.block(null, wordLoop), m.block(null, vecLoop)),
      ...tailLoop,
      ...sumStores,
    ];
  };

  // Outer dims: plain loops, each level walking from a copy of the cursors.
  const level = (d: number, cur: readonly number[]): Ref[] => {
    if (d === outerRank) return rowBlock(cur);
    const inner = cur.map(() => f.local(i32));
    return f.repeat(
      S[d],
      () => [...inner.map((q, i) => f.set(q, f.get(cur[i]))), ...level(d + 1, inner)],
      () => cur.map((p, i) => f.set(p, addSteps(g, f.get(p), points[i].strides[d], 1))),
    );
  };
  body.push(...level(0, cursors));
  return body;
}

/** Thrown when a run turns out unsafe to fuse; the caller emits its statements one by one. */
export class FuseHazard extends Error {}
