// One emitter per VM instruction. The table is checked against StmtOp, so an instruction the backend
// does not know fails to compile (tsc), not at run time.
//
// Elementwise ops, cast, copy, reshape, unsqueeze, broadcast and convert_layout read each operand
// element from the thread that holds the result element whenever the placements allow it (layout
// inference arranges that), through a slot map; otherwise the operand is first converted through
// workgroup memory (Gen.convert, counted). A reduction whose rows lie in one thread folds its own
// registers. Ops that need elements other threads hold by nature (repeat, transpose, view across
// widths, dot, other reductions) stage the source through the workgroup scratch array (Gen.stage):
// write, barrier, read, barrier.
import { i32 } from '../../dtype.js';
import { printStmtHead } from '../../ir/print.js';
import type { Stmt, StmtOp, TileVar } from '../../ir/program.js';
import { numel, stridesOf } from '../../ir/shapes.js';
import { sharedWords } from './budget.js';
import { wgslDecode, wgslEncode } from './codec.js';
import { type Gen, WORKGROUP_STORAGE_LIMIT } from './context.js';
import { emitBlockedDot } from './dot-blocked.js';
import { emitPackedDot } from './dot4.js';
import { binaryExpr, castExpr, condition, convertedScalar, literal, rounded, unaryExpr } from './expr.js';
import { emitLoadGlobal, emitLoadShared, emitStoreGlobal, emitStoreShared } from './memory.js';
import { reduceInThreads } from './reduce-local.js';
import { emitSubgroupReduce } from './subgroups.js';
import { at, coords, fromBits, linear, type TileInfo, toBits } from './tiles.js';

type EmitFn<K extends StmtOp> = (g: Gen, s: Extract<Stmt, { op: K }>) => void;
type EmitterTable = { readonly [K in StmtOp]: EmitFn<K> };

/** The flat index into `src` (shape) of the element a broadcast to `dst` reads for dst's `flat`. */
function broadcastIndex(dst: readonly number[], src: readonly number[]): (flat: number) => number {
  const off = dst.length - src.length;
  const dstStrides = stridesOf(dst);
  const srcStrides = stridesOf(src);
  return (flat) => {
    let f = 0;
    for (let j = 0; j < src.length; j++) {
      if (src[j] === 1) continue;
      f += (Math.floor(flat / dstStrides[j + off]) % dst[j + off]) * srcStrides[j];
    }
    return f;
  };
}

/**
 * An operand `x` of an elementwise op with result `dst` (x broadcast to dst's shape), readable at
 * the result's slots: x's own registers when this thread holds what it needs (a slot map), else a
 * copy converted to dst's placement through workgroup memory.
 */
function operand(g: Gen, x: TileInfo, dst: TileInfo, reshape = false): (slot: string) => string {
  if (x.replicated) return () => x.name;
  if (x.n === dst.n && g.sameHolding(x, dst)) return (slot) => at(x, slot);
  const map = g.slotMap(dst, x, reshape ? (f) => f : broadcastIndex(dst.shape, x.shape));
  if (map) {
    const expr = g.slotExpr(map);
    return (slot) => at(x, expr(slot));
  }
  const t = reshape ? g.convert(x, dst) : broadcastThrough(g, x, dst);
  return (slot) => at(t, slot);
}

/** `src` broadcast to dst's shape and placement through workgroup memory (a layout conversion). */
function broadcastThrough(g: Gen, src: TileInfo, dst: TileInfo): TileInfo {
  const off = dst.shape.length - src.shape.length;
  const srcStrides = stridesOf(src.shape);
  return g.convert(src, dst, (el) => {
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

/**
 * dst = src with the same elements in row-major order (copy, reshape, unsqueeze, convert_layout, a
 * broadcast that adds only size-1 dims): a whole-array assignment where both hold each element in
 * the same thread and slot, per slot where the thread holds it elsewhere, else a conversion.
 */
function assign(g: Gen, s: { readonly dst: TileVar; readonly src: TileVar }): void {
  const src = g.tile(s.src);
  const dst = g.tile(s.dst);
  if (dst === src) return;
  if (src.slots === dst.slots && g.sameHolding(src, dst)) {
    g.w.line(`${dst.name} = ${src.name};`);
    return;
  }
  const x = operand(g, src, dst, true);
  g.each(dst, (slot) => g.w.line(`${at(dst, slot)} = ${x(slot)};`));
}

/** `u32 expression + k` without writing `+ 0u`. */
function plus(x: string, k: string): string {
  if (x === '0u') return k;
  if (k === '0u') return x;
  return `${x} + ${k}`;
}

const EMITTERS = {
  load_global: (g, s) => {
    // memory.ts reads the mask at the destination's slots.
    const mask = s.mask ? g.matching(s.mask, g.tile(s.dst)) : undefined;
    emitLoadGlobal(g, mask === s.mask ? s : { ...s, mask });
    if (g.accessNeedsBarrier(s.param)) g.w.line(`storageBarrier(); // ${s.param} is stored to later`);
  },
  store_global: (g, s) => {
    const mask = s.mask ? g.matching(s.mask, g.tile(s.src)) : undefined;
    emitStoreGlobal(g, mask === s.mask ? s : { ...s, mask });
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
    const x = operand(g, src, dst);
    g.each(dst, (slot) =>
      g.w.line(`${at(dst, slot)} = ${castExpr(g.helpers, src.dtype, dst.dtype, x(slot))};`),
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
      const x = operand(g, src, dst);
      g.each(dst, (slot) => g.w.line(`${at(dst, slot)} = ${decode}(${encode}(${x(slot)}));`));
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
    const x = operand(g, src, dst);
    g.each(dst, (slot) => g.w.line(`${at(dst, slot)} = ${unaryExpr(g.helpers, s.fn, src.dtype, x(slot))};`));
  },
  binary: (g, s) => {
    const dst = g.tile(s.dst);
    const a = operand(g, g.tile(s.a), dst);
    const b = operand(g, g.tile(s.b), dst);
    g.each(dst, (slot) =>
      g.w.line(`${at(dst, slot)} = ${binaryExpr(g.helpers, s.fn, s.a.type.dtype, a(slot), b(slot))};`),
    );
  },
  select: (g, s) => {
    const dst = g.tile(s.dst);
    const c = operand(g, g.tile(s.cond), dst);
    const a = operand(g, g.tile(s.a), dst);
    const b = operand(g, g.tile(s.b), dst);
    g.each(dst, (slot) => g.w.line(`${at(dst, slot)} = select(${b(slot)}, ${a(slot)}, ${c(slot)});`));
  },
  reshape: assign,
  unsqueeze: assign,
  copy: assign,
  convert_layout: assign, // free where the thread holds the element already, else a conversion
  broadcast: (g, s) => {
    const src = g.tile(s.src);
    const dst = g.tile(s.dst);
    if (src.n === dst.n) return assign(g, s);
    const x = operand(g, src, dst);
    g.each(dst, (slot) => g.w.line(`${at(dst, slot)} = ${x(slot)};`));
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
    if (g.subgroupReduce === 'always' && emitSubgroupReduce(g, s, 'always')) return;
    if (reduceInThreads(g, s)) return;
    if (emitSubgroupReduce(g, s, g.subgroupReduce)) return;
    const src = g.tile(s.src);
    const dst = g.tile(s.dst);
    const len = src.shape[s.axis];
    const inner = numel(src.shape.slice(s.axis + 1));
    const from = src.dtype;
    const to = dst.dtype;
    // A result element several threads hold is computed once, by its first holder, and handed to the
    // others through the scratch array after the staged source (cheaper than a whole row each).
    const once =
      !src.replicated &&
      (sharedWords(g.program) + src.n + dst.n) * 4 <= WORKGROUP_STORAGE_LIMIT &&
      (dst.replicated ? g.threads > 1 : dst.placement.kind === 'layout' && !!g.layoutCode(dst).primary);
    const [read] = g.stage([src]);
    const out = src.n; // results follow the staged source
    if (once && out + dst.n > g.scratchWords) g.scratchWords = out + dst.n;
    g.each(
      dst,
      (slot, el) => {
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
        if (once) g.w.line(`scratch[${plus(`${out}u`, el)}] = ${toBits(dst.reg, 'acc')};`);
        else g.w.line(`${at(dst, slot)} = acc;`);
      },
      once,
    );
    if (once) {
      g.w.line('workgroupBarrier();');
      g.each(dst, (slot, el) =>
        g.w.line(`${at(dst, slot)} = ${fromBits(dst.reg, `scratch[${plus(`${out}u`, el)}]`)};`),
      );
    }
    g.unstage();
  },
  dot: (g, s) => {
    if (emitPackedDot(g, s, () => operand(g, g.tile(s.c), g.tile(s.dst)))) return;
    const a = g.tile(s.a);
    const b = g.tile(s.b);
    const c = g.tile(s.c);
    const dst = g.tile(s.dst);
    const [M, K] = a.shape;
    const N = b.shape[1];
    const from = a.dtype;
    const acc = c.dtype;
    const cv = operand(g, c, dst);
    if (emitBlockedDot(g, s, cv)) return;
    const [ra, rb] = g.stage([a, b]);
    g.each(dst, (slot, el) => {
      const i = el === '0u' || M === 1 ? '0u' : N === 1 ? el : `(${el} / ${N}u)`;
      const j = el === '0u' || N === 1 ? '0u' : M === 1 ? el : `(${el} % ${N}u)`;
      g.w.line(`var acc = ${cv(slot)};`);
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
