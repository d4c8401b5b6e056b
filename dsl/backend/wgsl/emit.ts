// One emitter per VM instruction. The table is checked against StmtOp, so an instruction the backend
// does not know fails to compile (tsc), not at run time.
//
// Elementwise ops (operands of the result's element count), cast, copy, reshape and unsqueeze are
// thread-local: element e of every operand lives in the same thread and slot. Ops that need elements
// other threads hold (a broadcast operand, broadcast, repeat, transpose, view, reduce, dot) stage the
// source through the workgroup scratch array (Gen.stage): write, barrier, read, barrier.
import { i32 } from '../../dtype.js';
import { printStmtHead } from '../../ir/print.js';
import type { Stmt, StmtOp, TileVar } from '../../ir/program.js';
import { numel } from '../../ir/shapes.js';
import { wgslDecode, wgslEncode } from './codec.js';
import type { Gen } from './context.js';
import { binaryExpr, castExpr, condition, convertedScalar, literal, rounded, unaryExpr } from './expr.js';
import { emitLoadGlobal, emitLoadShared, emitStoreGlobal, emitStoreShared } from './memory.js';
import { emitSubgroupReduce } from './subgroups.js';
import { at, coords, linear, stridesOf, type TileInfo } from './tiles.js';

type EmitFn<K extends StmtOp> = (g: Gen, s: Extract<Stmt, { op: K }>) => void;
type EmitterTable = { readonly [K in StmtOp]: EmitFn<K> };

/**
 * An operand of an elementwise op with result shape `shape`, readable at the result's slots: itself
 * when it has the result's element count (broadcasting then keeps the flat order) or one element
 * (replicated), else first broadcast into a temporary tile through the scratch array.
 */
function operand(g: Gen, x: TileInfo, shape: readonly number[]): (slot: string) => string {
  if (x.replicated) return () => x.name;
  if (x.n === numel(shape)) return (slot) => at(x, slot);
  const t = g.temp(`${x.name}_b`, x.dtype, shape);
  gatherBroadcast(g, t, x);
  return (slot) => at(t, slot);
}

/** dst = src broadcast to dst's shape (stretching size-1 dims, adding leading dims). */
function gatherBroadcast(g: Gen, dst: TileInfo, src: TileInfo): void {
  const off = dst.shape.length - src.shape.length;
  const srcStrides = stridesOf(src.shape);
  gather(g, dst, src, (el) => {
    const c = coords(el, dst.shape);
    return linear(src.shape.map((dim, j) => [c[j + off], dim === 1 ? 0 : srcStrides[j]] as const));
  });
}

/** dst[e] = src[index(e)] for every element of dst: src staged unless it is replicated. */
function gather(g: Gen, dst: TileInfo, src: TileInfo, index: (el: string) => string): void {
  if (src.replicated) {
    g.each(dst, (slot) => g.w.line(`${at(dst, slot)} = ${src.name};`));
    return;
  }
  const [read] = g.stage([src]);
  g.each(dst, (slot, el) => g.w.line(`${at(dst, slot)} = ${read.read(index(el))};`));
  g.unstage();
}

/** dst = src where both hold the same elements in the same order (arrays of one WGSL type). */
function assign(g: Gen, s: { readonly dst: TileVar; readonly src: TileVar }): void {
  const src = g.tile(s.src);
  const dst = g.tile(s.dst);
  if (dst !== src) g.w.line(`${dst.name} = ${src.name};`);
}

/** `u32 expression + k` without writing `+ 0u`. */
function plus(x: string, k: string): string {
  if (x === '0u') return k;
  if (k === '0u') return x;
  return `${x} + ${k}`;
}

const EMITTERS = {
  load_global: (g, s) => {
    emitLoadGlobal(g, s);
    if (g.accessNeedsBarrier(s.param)) g.w.line(`storageBarrier(); // ${s.param} is stored to later`);
  },
  store_global: (g, s) => {
    emitStoreGlobal(g, s);
    if (g.accessNeedsBarrier(s.param)) g.w.line(`storageBarrier(); // ${s.param} is accessed again`);
  },
  alloc_shared: (g, s) => {
    g.sharedTile(s.dst);
  },
  load_shared: emitLoadShared,
  store_shared: emitStoreShared,
  sync: (g) => g.w.line('workgroupBarrier();'),
  full: (g, s) => {
    const dst = g.tile(s.dst);
    const value = convertedScalar(g.helpers, s.value, s.dst.type.dtype, g.mainScope);
    if (dst.replicated) {
      g.w.line(`${dst.name} = ${value};`);
      return;
    }
    g.w.block('', () => {
      g.w.line(`let val = ${value};`);
      g.each(dst, (slot) => g.w.line(`${at(dst, slot)} = val;`));
    });
  },
  arange: (g, s) => {
    const dst = g.tile(s.dst);
    const from = s.start.dtype;
    g.w.block('', () => {
      g.w.line(`let start = ${g.scalar(s.start)};`);
      g.each(dst, (slot, el) => {
        const i =
          el === '0u'
            ? 'start'
            : rounded(g.helpers, from, `start + ${from.kind === 'int' && from.signed ? `i32(${el})` : el}`);
        g.w.line(`${at(dst, slot)} = ${castExpr(g.helpers, from, s.dst.type.dtype, i)};`);
      });
    });
  },
  cast: (g, s) => {
    const src = g.tile(s.src);
    const dst = g.tile(s.dst);
    g.each(dst, (slot) =>
      g.w.line(`${at(dst, slot)} = ${castExpr(g.helpers, src.dtype, dst.dtype, at(src, slot))};`),
    );
  },
  view: (g, s) => {
    const src = g.tile(s.src);
    const dst = g.tile(s.dst);
    const ka = src.dtype.bits;
    const kb = dst.dtype.bits;
    const decode = g.helpers.use(wgslDecode(dst.dtype));
    const encode = g.helpers.use(wgslEncode(src.dtype));
    if (ka === kb) {
      g.each(dst, (slot) => g.w.line(`${at(dst, slot)} = ${decode}(${encode}(${at(src, slot)}));`));
      return;
    }
    // Each dst element takes bits [j kb, (j + 1) kb) of its row's bit string, from the src elements
    // that hold them (staged as k-bit patterns).
    const rowOut = dst.shape[dst.shape.length - 1];
    const rowIn = src.shape[src.shape.length - 1];
    const [pats] = g.stage([src], (_, x) => `${encode}(${x})`);
    g.each(dst, (slot, el) => {
      g.w.line(
        `let first = ${el === '0u' ? '0u' : `(${el} % ${rowOut}u) * ${kb}u`}; // first bit in the row`,
      );
      g.w.line(`let base = ${el === '0u' || rowOut === dst.n ? '0u' : `(${el} / ${rowOut}u) * ${rowIn}u`};`);
      g.w.line('var bits = 0u;');
      g.w.block(`for (var q = first / ${ka}u; q * ${ka}u < first + ${kb}u; q++)`, () => {
        g.w.line(`let pat = ${pats.read('base + q')};`);
        g.w.line(`let lo = q * ${ka}u;`);
        g.w.ifElse(
          'lo >= first',
          () => g.w.line('bits |= pat << (lo - first);'),
          () => g.w.line('bits |= pat >> (first - lo);'),
        );
      });
      g.w.line(`${at(dst, slot)} = ${decode}(bits);`);
    });
    g.unstage();
  },
  unary: (g, s) => {
    const src = g.tile(s.src);
    const dst = g.tile(s.dst);
    g.each(dst, (slot) =>
      g.w.line(`${at(dst, slot)} = ${unaryExpr(g.helpers, s.fn, src.dtype, at(src, slot))};`),
    );
  },
  binary: (g, s) => {
    const shape = s.dst.type.shape;
    const a = operand(g, g.tile(s.a), shape);
    const b = operand(g, g.tile(s.b), shape);
    const dst = g.tile(s.dst);
    g.each(dst, (slot) =>
      g.w.line(`${at(dst, slot)} = ${binaryExpr(g.helpers, s.fn, s.a.type.dtype, a(slot), b(slot))};`),
    );
  },
  select: (g, s) => {
    const shape = s.dst.type.shape;
    const c = operand(g, g.tile(s.cond), shape);
    const a = operand(g, g.tile(s.a), shape);
    const b = operand(g, g.tile(s.b), shape);
    const dst = g.tile(s.dst);
    g.each(dst, (slot) => g.w.line(`${at(dst, slot)} = select(${b(slot)}, ${a(slot)}, ${c(slot)});`));
  },
  reshape: assign,
  unsqueeze: assign,
  copy: assign,
  convert_layout: assign, // one layout for every tile
  broadcast: (g, s) => {
    const src = g.tile(s.src);
    const dst = g.tile(s.dst);
    if (src.n === dst.n) g.w.line(`${dst.name} = ${src.name};`);
    else gatherBroadcast(g, dst, src);
  },
  repeat: (g, s) => {
    const src = g.tile(s.src);
    const dst = g.tile(s.dst);
    const srcStrides = stridesOf(src.shape);
    gather(g, dst, src, (el) => {
      const c = coords(el, dst.shape, s.repeats);
      return linear(c.map((x, d) => [x, srcStrides[d]] as const));
    });
  },
  transpose: (g, s) => {
    const src = g.tile(s.src);
    const dst = g.tile(s.dst);
    const srcStrides = stridesOf(src.shape);
    gather(g, dst, src, (el) => {
      const c = coords(el, dst.shape);
      return linear(c.map((x, d) => [x, srcStrides[s.perm[d]]] as const));
    });
  },
  reduce: (g, s) => {
    if (emitSubgroupReduce(g, s, g.subgroupReduce)) return;
    const src = g.tile(s.src);
    const dst = g.tile(s.dst);
    const len = src.shape[s.axis];
    const inner = numel(src.shape.slice(s.axis + 1));
    const from = src.dtype;
    const to = dst.dtype;
    const [read] = g.stage([src]);
    g.each(dst, (slot, el) => {
      // Output element el = (outer o, inner i) reads src[(o len + r) inner + i], r = 0 .. len - 1.
      const base =
        el === '0u'
          ? '0u'
          : inner === 1
            ? `${el} * ${len}u`
            : linear([
                [`(${el} / ${inner}u)`, len * inner],
                [`(${el} % ${inner}u)`, 1],
              ]);
      g.w.line(`let base = ${base};`);
      const item = (r: string) => castExpr(g.helpers, from, to, read.read(plus('base', r)));
      if (s.fn === 'sum') g.w.line(`var acc = ${literal(g.helpers, to, 0)};`);
      else g.w.line(`var acc = ${item('0u')};`);
      const first = s.fn === 'sum' ? 0 : 1;
      if (len > first) {
        const op = s.fn === 'sum' ? 'add' : s.fn;
        const r = inner === 1 ? 'red' : `red * ${inner}u`;
        g.w.block(`for (var red = ${first}u; red < ${len}u; red++)`, () => {
          g.w.line(`acc = ${binaryExpr(g.helpers, op, to, 'acc', item(r))};`);
        });
      }
      g.w.line(`${at(dst, slot)} = acc;`);
    });
    g.unstage();
  },
  dot: (g, s) => {
    const a = g.tile(s.a);
    const b = g.tile(s.b);
    const c = g.tile(s.c);
    const dst = g.tile(s.dst);
    const [M, K] = a.shape;
    const N = b.shape[1];
    const from = a.dtype;
    const acc = c.dtype;
    const [ra, rb] = g.stage([a, b]);
    g.each(dst, (slot, el) => {
      const i = el === '0u' || M === 1 ? '0u' : N === 1 ? el : `(${el} / ${N}u)`;
      const j = el === '0u' || N === 1 ? '0u' : M === 1 ? el : `(${el} % ${N}u)`;
      g.w.line(`var acc = ${at(c, slot)};`);
      const av = (k: string) =>
        castExpr(g.helpers, from, acc, ra.read(plus(i === '0u' ? '0u' : `${i} * ${K}u`, k)));
      const bv = (k: string) =>
        castExpr(g.helpers, from, acc, rb.read(plus(k === '0u' ? '0u' : `${k} * ${N}u`, j)));
      g.w.block(`for (var kk = 0u; kk < ${K}u; kk++)`, () => {
        const prod = binaryExpr(g.helpers, 'mul', acc, av('kk'), bv('kk'));
        g.w.line(`acc = ${binaryExpr(g.helpers, 'add', acc, 'acc', prod)};`);
      });
      g.w.line(`${at(dst, slot)} = acc;`);
    });
    g.unstage();
  },
  let_scalar: (g, s) => {
    const id = g.mainScope.variable(s.name, s.value.dtype);
    g.w.line(`${id} = ${g.scalar(s.value)};`);
  },
  for: (g, s) => {
    const v = g.mainScope.variable(s.var, i32);
    g.w.block('', () => {
      const stop = g.namer.take(`${s.var}_stop`);
      const step = g.namer.take(`${s.var}_step`);
      g.w.line(`let ${stop} = ${g.i32(s.stop)};`);
      g.w.line(`let ${step} = ${g.i32(s.step)};`);
      // A step that is not positive runs nothing (the interpreter rejects it) rather than forever.
      g.w.block(`for (${v} = ${g.i32(s.start)}; ${step} > 0i && ${v} < ${stop}; ${v} += ${step})`, () =>
        emitBody(g, s.body),
      );
    });
  },
  if: (g, s) => {
    const cond = condition(g.helpers, s.cond, g.mainScope);
    if (s.elseBody.length === 0) g.w.block(`if ${cond}`, () => emitBody(g, s.thenBody));
    else
      g.w.ifElse(
        cond,
        () => emitBody(g, s.thenBody),
        () => emitBody(g, s.elseBody),
      );
  },
} satisfies EmitterTable;

/** Emits a body: each instruction under a comment quoting it. */
export function emitBody(g: Gen, body: readonly Stmt[]): void {
  for (const [i, s] of body.entries()) {
    if (s.op !== 'alloc_shared') g.w.comment(printStmtHead(s));
    (EMITTERS[s.op] as (g: Gen, s: Stmt) => void)(g, s);
    // Shared tiles are written and read by different threads: a barrier after every shared access
    // orders it with the next one as the VM's sequential semantics do (a `sync` right after serves).
    if ((s.op === 'load_shared' || s.op === 'store_shared') && body[i + 1]?.op !== 'sync') {
      g.w.line('workgroupBarrier();');
    }
  }
}
