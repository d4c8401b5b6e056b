// One emitter per VM instruction; the table is checked against StmtOp, so an instruction the backend
// does not know fails tsc. A block runs on one thread, so there are no layouts and no barriers:
// every tile op is a loop nest over scratch buffers (nest.ts), elementwise ops with v128 inner loops
// where ops.ts has a vector form.
import binaryen from 'binaryen';
import { type DType, i32 as i32Type } from '../../dtype.js';
import type { For, Stmt, StmtOp, TileVar } from '../../ir/program.js';
import { numel, stridesOf } from '../../ir/shapes.js';
import { emitCarriedFor } from './carry.js';
import type { Gen } from './context.js';
import { emitDot } from './dot.js';
import { nextInPlaceSkip, skippedByInPlaceDot } from './dot-inplace.js';
import { nextSubbyteSkip, skippedBySubbyteDot } from './dot-subbyte.js';
import type { Ref, Val } from './fn.js';
import { decode, encode, literal, reg, wrapInt } from './formats.js';
import { emitRun, FuseHazard, findRun } from './fuse.js';
import {
  copyTile,
  emitLoadGlobal,
  emitLoadShared,
  emitStoreGlobal,
  emitStoreShared,
  emitView,
} from './memory.js';
import { broadcastStrides, nest } from './nest.js';
import {
  binary,
  cast,
  unary,
  type VecBinary,
  type VecUnary,
  vecBinary,
  vecCast,
  vecSelect,
  vecUnary,
} from './ops.js';
import { condition, convertedScalar, i32Expr, scalarExpr } from './scalar.js';

const { i32, v128 } = binaryen;

/** A tile-shaped buffer in scratch. */
interface Buf {
  readonly base: number;
  readonly shape: readonly number[];
  readonly dtype: DType;
}

function bufOf(g: Gen, v: TileVar): Buf {
  return { base: g.buf(v), shape: v.type.shape, dtype: v.type.dtype };
}

/**
 * dst[e] = op(src_0[e], src_1[e], ...) over dst's shape, sources broadcast. `vector` (when given)
 * computes 4 lanes.
 */
function elementwise(
  g: Gen,
  dst: Buf,
  srcs: readonly Buf[],
  scalar: (vals: Val[]) => Ref,
  vector?: (vals: Val[]) => Ref,
): Ref[] {
  const shape = dst.shape;
  const ops = [
    { base: dst.base, strides: stridesOf(shape) },
    ...srcs.map((s) => ({ base: s.base, strides: broadcastStrides(s.shape, shape) })),
  ];
  const regs = srcs.map((s) => reg(s.dtype));
  return nest(
    g.f,
    g.scratch,
    shape,
    ops,
    (at) => {
      const stmts: Ref[] = [];
      const vals = srcs.map((_, i) => {
        const [set, get] = g.f.save(at.load(i + 1, regs[i]), at.width === 4 ? v128 : binaryen[regs[i]]);
        stmts.push(set);
        return get;
      });
      const value = at.width === 4 ? vector!(vals) : scalar(vals);
      return [...stmts, at.store(0, reg(dst.dtype), value)];
    },
    { vector: vector !== undefined, pad: true },
  );
}

/** dst = src converted by the cast rules (a copy when the dtypes agree). */
function castInto(g: Gen, dst: Buf, src: Buf): Ref[] {
  const from = src.dtype;
  const to = dst.dtype;
  const v: VecUnary | undefined = vecCast(g.mod, from, to);
  return elementwise(g, dst, [src], ([x]) => cast(g.mod, from, to, x), v && (([x]) => v(x)));
}

/** dst = src for buffers holding the same elements in the same order. */
function assign(g: Gen, s: { readonly dst: TileVar; readonly src: TileVar }): Ref[] {
  if (g.alias(s.dst, s.src)) return [];
  const to = g.buf(s.dst);
  const from = g.buf(s.src);
  return to === from ? [] : copyTile(g, to, from, numel(s.dst.type.shape));
}

/**
 * Runs `emit` into dst's buffer, or into a temporary copied to it afterwards when dst shares a
 * buffer with a source (an op that reads other elements than the one it writes).
 */
function viaTemp(g: Gen, dst: TileVar, srcs: readonly TileVar[], emit: (to: number) => Ref[]): Ref[] {
  const base = g.buf(dst);
  if (!srcs.some((s) => g.buf(s) === base)) return emit(base);
  const n = numel(dst.type.shape);
  const tmp = g.alloc(n * 4);
  return [...emit(tmp), ...copyTile(g, base, tmp, n)];
}

/** A gather: dst[e] = src[index(e)], as a nest over dst with the given source strides. */
function gather(
  g: Gen,
  dst: TileVar,
  src: TileVar,
  shape: readonly number[],
  dstStrides: number[],
  srcStrides: number[],
): Ref[] {
  return viaTemp(g, dst, [src], (to) =>
    nest(
      g.f,
      g.scratch,
      shape,
      [
        { base: to, strides: dstStrides },
        { base: g.buf(src), strides: srcStrides },
      ],
      (at) => [at.store(0, 'i32', at.load(1, 'i32'))],
      { vector: true, pad: true },
    ),
  );
}

function emitReduce(g: Gen, s: Extract<Stmt, { op: 'reduce' }>): Ref[] {
  const { f, m } = g;
  const shape = s.src.type.shape;
  const to = s.dst.type.dtype;
  const outer = numel(shape.slice(0, s.axis));
  const len = shape[s.axis];
  const inner = numel(shape.slice(s.axis + 1));
  const out: Ref[] = [];
  // Convert first (src elements become dst's dtype, the accumulator's).
  let src = g.buf(s.src);
  if (s.src.type.dtype !== to) {
    src = g.alloc(numel(shape) * 4);
    out.push(...castInto(g, { base: src, shape, dtype: to }, bufOf(g, s.src)));
  }
  const op = s.fn === 'sum' ? 'add' : s.fn;
  const vop: VecBinary | undefined = vecBinary(g.mod, op, to);
  const r = reg(to);
  const first = s.fn === 'sum' ? 0 : 1;
  out.push(
    ...nest(
      f,
      g.scratch,
      [outer, inner],
      [
        { base: g.buf(s.dst), strides: [inner, 1] },
        { base: src, strides: [len * inner, 1] },
      ],
      (at) => {
        const vec = at.width === 4;
        const type = vec ? v128 : binaryen[r];
        const acc = f.local(type);
        const q = f.local(i32);
        const x = f.local(type);
        const load = () => (vec ? m.v128.load(src, 4, f.get(q)) : at.load(1, r));
        const zero = literal(g.mod, to, 0);
        return [
          f.set(q, at.ptr(1)),
          f.set(
            acc,
            s.fn === 'sum'
              ? vec
                ? r === 'f32'
                  ? m.f32x4.splat(zero)
                  : m.i32x4.splat(zero)
                : zero
              : load(),
          ),
          ...f.bump(q, first * inner * 4),
          ...f.repeat(
            len - first,
            () => [
              f.set(
                x,
                vec
                  ? m.v128.load(src, 4, f.get(q))
                  : (r === 'f32' ? m.f32.load : m.i32.load)(src, 4, f.get(q)),
              ),
              f.set(acc, vec ? vop!(f.val(acc), f.val(x)) : binary(g.mod, op, to, f.val(acc), f.val(x))),
            ],
            () => f.bump(q, inner * 4),
          ),
          at.store(0, r, f.get(acc)),
        ];
      },
      { vector: vop !== undefined, pad: true },
    ),
  );
  return out;
}

/** dot (dot.ts), with a and b converted to the accumulator's dtype where its path needs that. */
function emitDotStmt(g: Gen, s: Extract<Stmt, { op: 'dot' }>): Ref[] {
  const acc = s.c.type.dtype;
  return emitDot(g, s, (d, operand) => {
    const v = operand === 'a' ? d.a : d.b;
    const base = g.alloc(numel(v.type.shape) * 4);
    return { base, code: castInto(g, { base, shape: v.type.shape, dtype: acc }, bufOf(g, v)) };
  });
}

type EmitFn<K extends StmtOp> = (g: Gen, s: Extract<Stmt, { op: K }>) => Ref[];
type EmitterTable = { readonly [K in StmtOp]: EmitFn<K> };

const EMITTERS = {
  load_global: emitLoadGlobal,
  store_global: emitStoreGlobal,
  alloc_shared: (g, s) => {
    g.buf(s.dst);
    return [];
  },
  load_shared: emitLoadShared,
  store_shared: emitStoreShared,
  sync: () => [], // one thread per block: nothing to wait for
  full: (g, s) => {
    const d = s.dst.type.dtype;
    const [set, value] = g.f.save(convertedScalar(g, s.value, d), binaryen[reg(d)]);
    const splat = reg(d) === 'f32' ? g.m.f32x4.splat : g.m.i32x4.splat;
    return [
      set,
      ...elementwise(
        g,
        bufOf(g, s.dst),
        [],
        () => value(),
        () => splat(value()),
      ),
    ];
  },
  arange: (g, s) => {
    const { f, m } = g;
    const from = s.start.dtype;
    const to = s.dst.type.dtype;
    const [set, start] = f.save(scalarExpr(g, s.start), binaryen[reg(from)]);
    const dst = g.buf(s.dst);
    const x = f.local(binaryen[reg(from)]);
    return [
      set,
      ...f.repeat(s.dst.type.shape[0], (i) => [
        f.set(
          x,
          from.kind === 'int' ? wrapInt(g.mod, from, m.i32.add(start(), i())) : m.i32.add(start(), i()),
        ),
        (reg(to) === 'f32' ? m.f32.store : m.i32.store)(
          dst,
          4,
          m.i32.add(f.get(g.scratch), m.i32.shl(i(), m.i32.const(2))),
          cast(g.mod, from, to, f.val(x)),
        ),
      ]),
    ];
  },
  cast: (g, s) => castInto(g, bufOf(g, s.dst), bufOf(g, s.src)),
  view: (g, s) => {
    const from = s.src.type.dtype;
    const to = s.dst.type.dtype;
    if (from.bits !== to.bits) return emitView(g, s);
    return elementwise(g, bufOf(g, s.dst), [bufOf(g, s.src)], ([x]) =>
      decode(g.mod, to, encode(g.mod, from, x())),
    );
  },
  unary: (g, s) => {
    const d = s.src.type.dtype;
    const v = vecUnary(g.mod, s.fn, d);
    return elementwise(
      g,
      bufOf(g, s.dst),
      [bufOf(g, s.src)],
      ([x]) => unary(g.mod, s.fn, d, x),
      v && (([x]) => v(x)),
    );
  },
  binary: (g, s) => {
    const d = s.a.type.dtype;
    const v = vecBinary(g.mod, s.fn, d);
    return elementwise(
      g,
      bufOf(g, s.dst),
      [bufOf(g, s.a), bufOf(g, s.b)],
      ([a, b]) => binary(g.mod, s.fn, d, a, b),
      v && (([a, b]) => v(a, b)),
    );
  },
  select: (g, s) =>
    elementwise(
      g,
      bufOf(g, s.dst),
      [bufOf(g, s.cond), bufOf(g, s.a), bufOf(g, s.b)],
      ([c, a, b]) => g.m.select(c(), a(), b()),
      ([c, a, b]) => vecSelect(g.mod, c, a, b),
    ),
  reshape: assign,
  unsqueeze: assign,
  convert_layout: assign,
  copy: (g, s) => {
    const to = g.buf(s.dst);
    const from = g.buf(s.src);
    return to === from ? [] : copyTile(g, to, from, numel(s.dst.type.shape));
  },
  broadcast: (g, s) => {
    const shape = s.dst.type.shape;
    if (numel(shape) === numel(s.src.type.shape)) return assign(g, s);
    return gather(g, s.dst, s.src, shape, stridesOf(shape), broadcastStrides(s.src.type.shape, shape));
  },
  repeat: (g, s) => {
    // Each dst dim d of size n r splits into (source index, repetition): source strides (stride, 0),
    // dst strides (r dstStride, dstStride).
    const src = s.src.type.shape;
    const dstStrides = stridesOf(s.dst.type.shape);
    const srcStrides = stridesOf(src);
    const shape = src.flatMap((n, d) => [n, s.repeats[d]]);
    return gather(
      g,
      s.dst,
      s.src,
      shape,
      src.flatMap((_, d) => [s.repeats[d] * dstStrides[d], dstStrides[d]]),
      src.flatMap((_, d) => [srcStrides[d], 0]),
    );
  },
  transpose: (g, s) => {
    const srcStrides = stridesOf(s.src.type.shape);
    const shape = s.dst.type.shape;
    return gather(
      g,
      s.dst,
      s.src,
      shape,
      stridesOf(shape),
      s.perm.map((p) => srcStrides[p]),
    );
  },
  reduce: emitReduce,
  dot: emitDotStmt,
  let_scalar: (g, s) => [g.f.set(g.scalar(s.name, s.value.dtype), scalarExpr(g, s.value))],
  for: (g, s) => emitCarriedFor(g, s, () => plainFor(g, s)) ?? plainFor(g, s),
  if: (g, s) => {
    const m = g.m;
    const then = emitBody(g, s.thenBody);
    const otherwise = emitBody(g, s.elseBody);
    return [
      m.if(
        condition(g, s.cond),
        m.block(null, then),
        otherwise.length > 0 ? m.block(null, otherwise) : undefined,
      ),
    ];
  },
} satisfies EmitterTable;

/** A `for` loop as written: the body once per iteration. */
function plainFor(g: Gen, s: For): Ref[] {
  const { f, m } = g;
  const I = m.i32;
  const v = g.scalar(s.var, i32Type);
  const stop = f.local(i32);
  const step = f.local(i32);
  const next = f.local(i32);
  const out = f.label('for_end');
  const loop = f.label('for');
  // A step that is not positive runs nothing (the interpreter rejects it) rather than forever;
  // so does a step that would wrap past the i32 range.
  return [
    f.set(v, i32Expr(g, s.start)),
    f.set(stop, i32Expr(g, s.stop)),
    f.set(step, i32Expr(g, s.step)),
    m.block(out, [
      m.br(out, I.le_s(f.get(step), I.const(0))),
      m.loop(
        loop,
        m.block(null, [
          m.br(out, I.ge_s(f.get(v), f.get(stop))),
          ...emitBody(g, s.body),
          f.set(next, I.add(f.get(v), f.get(step))),
          m.br(out, I.lt_s(f.get(next), f.get(v))),
          f.set(v, f.get(next)),
          m.br(loop),
        ]),
      ),
    ]),
  ];
}

/** The code of a body, in order: fused runs of elementwise statements (fuse.ts), the rest one by one. */
export function emitBody(g: Gen, body: readonly Stmt[]): Ref[] {
  const out: Ref[] = [];
  for (let i = 0; i < body.length; ) {
    // Loads (and their cast and transpose) that a sub-byte or float dot reads in place emit nothing.
    if (skippedBySubbyteDot(g, body[i]) || skippedByInPlaceDot(g, body[i])) {
      i++;
      continue;
    }
    // A run must not swallow them either: it sees the body only up to the next one.
    const limit = Math.min(nextSubbyteSkip(g, body, i + 1), nextInPlaceSkip(g, body, i + 1));
    const run = g.fuse ? findRun(g, limit < body.length ? body.slice(0, limit) : body, i) : undefined;
    if (run) {
      try {
        out.push(...emitRun(g, run));
        i = run.end;
        continue;
      } catch (e) {
        if (!(e instanceof FuseHazard)) throw e;
      }
    }
    const s = body[i++];
    out.push(...(EMITTERS[s.op] as (g: Gen, s: Stmt) => Ref[])(g, s));
  }
  return out;
}
