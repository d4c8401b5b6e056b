// Relaxed-SIMD lowering (compileWasm's `relaxedSimd` option): a module variant for engines that
// have relaxed SIMD (Chromium 114+, Node 22+, Node 20 behind --experimental-wasm-relaxed-simd). The
// baseline module stands on its own; the runtime picks this variant only where the engine validates it.
//
// - f32 accumulations (a local `q = q + a * b`: dot's register blocks, carried loops) become
//   f32x4.relaxed_madd, which the engine may fuse (one rounding) or not (two): such results may
//   differ from the interpreter's within the tolerance of docs/wasm-backend.md. Rewritten on the
//   optimized module, where every `q + a * b` of an accumulator is one expression tree.
// - Integer `dot` whose operands are provably in range, one in 0..127 (unsigned weights of <= 7 bits,
//   casts and views of them) and the other in -128..127, runs on i16x8.relaxed_dot_i8x16_i7x16_s:
//   with the second operand in 0..127 every engine computes the same exact pair sums, so the result
//   stays the interpreter's bit for bit. (The i32x4 dot-add form is about 30% slower on V8 11.3,
//   WASM-NOTES.md, and is not used.)
import binaryen from 'binaryen';
import type { DType } from '../../dtype.js';
import type { Dot, Stmt, TileVar } from '../../ir/program.js';
import { forEachStmt } from '../../ir/walk.js';
import type { Gen } from './context.js';
import type { Ref } from './fn.js';
import { eachColumnBlock, packIntDot, storeColumnSums } from './packed-int-dot.js';

const { i32, v128 } = binaryen;

/** The binaryen feature a relaxed module enables on top of the baseline set. */
export const RELAXED_SIMD_FEATURE = binaryen.Features.RelaxedSIMD;

/** Compilations with relaxed SIMD on, and those that emitted a relaxed op (kept here, not in Gen). */
const enabled = new WeakSet<Gen>();
const used = new WeakSet<Gen>();

/** Turns relaxed lowering on for compilation g. */
export function enableRelaxed(g: Gen): void {
  enabled.add(g);
}

/** Whether compilation g may emit relaxed ops. */
export function relaxedEnabled(g: Gen): boolean {
  return enabled.has(g);
}

/** Whether compilation g emitted a relaxed op (contractAccumulations counts its own). */
export function relaxedUsed(g: Gen): boolean {
  return used.has(g);
}

/** Records that compilation g emitted a relaxed op (lowerings outside this file, dot-subbyte.ts). */
export function markRelaxedUsed(g: Gen): void {
  used.add(g);
}

/** binaryen.js has no Module builders for relaxed ops; its C API does. */
const raw = binaryen as unknown as {
  _BinaryenSIMDTernary(module: number, op: number, a: Ref, b: Ref, c: Ref): Ref;
  _BinaryenBinary(module: number, op: number, left: Ref, right: Ref): Ref;
  _BinaryenLocalSetSetValue(set: Ref, value: Ref): void;
};
const modulePtr = (m: binaryen.Module): number => (m as unknown as { ptr: number }).ptr;

/** f32x4.relaxed_madd(a, b, c) = a * b + c, fused or not (the engine's choice). */
export function relaxedMadd(m: binaryen.Module, a: Ref, b: Ref, c: Ref): Ref {
  return raw._BinaryenSIMDTernary(modulePtr(m), binaryen.RelaxedMaddVecF32x4, a, b, c);
}

/** i16x8.relaxed_dot_i8x16_i7x16_s(a, b): pair sums of i8 a times b; deterministic for b in 0..127. */
export function relaxedDotI16(m: binaryen.Module, a: Ref, b: Ref): Ref {
  return raw._BinaryenBinary(modulePtr(m), binaryen.RelaxedDotI8x16I7x16SToVecI16x8, a, b);
}

// ---------------------------------------------------------------------------------------------
// Multiply-add contraction of accumulators

/** Fields of binaryen.getExpressionInfo that hold child expressions (0 = none). */
const CHILD_FIELDS = [
  'condition',
  'ifTrue',
  'ifFalse',
  'body',
  'value',
  'ptr',
  'left',
  'right',
  'a',
  'b',
  'c',
  'vec',
  'shift',
  'dest',
  'source',
  'size',
  'delta',
  'expected',
  'replacement',
  'timeout',
  'notifyCount',
] as const;
const CHILD_LISTS = ['children', 'operands'] as const;

type Info = Record<string, unknown> & { id: number };

/** binaryen.getExpressionInfo, which throws for kinds it has no accessors for (nop, unreachable, ...). */
function infoOf(e: Ref): Info {
  try {
    return binaryen.getExpressionInfo(e) as unknown as Info;
  } catch {
    return { id: binaryen.getExpressionId(e) };
  }
}

/**
 * Rewrites every `local.set $q (f32x4.add (local.get $q) (f32x4.mul a b))` (either operand order)
 * in the module's functions into `local.set $q (f32x4.relaxed_madd a b (local.get $q))`; the count.
 * Only accumulators: a one-off `a * b + c` elsewhere keeps its two roundings.
 */
export function contractAccumulations(m: binaryen.Module): number {
  let count = 0;
  for (let fi = 0; fi < m.getNumFunctions(); fi++) {
    const body = binaryen.getFunctionInfo(m.getFunctionByIndex(fi)).body;
    const stack: Ref[] = body ? [body] : [];
    while (stack.length > 0) {
      const e = stack.pop()!;
      const info = infoOf(e);
      if (info.id === binaryen.LocalSetId) {
        const madd = accumulation(m, info.index as number, info.value as Ref);
        if (madd !== undefined) {
          raw._BinaryenLocalSetSetValue(e, madd.expr);
          count++;
          // The product's operands may hold further accumulations (they are children now).
          stack.push(...madd.children);
          continue;
        }
      }
      if (info.id === binaryen.ConstId) continue; // its `value` is the constant
      for (const k of CHILD_FIELDS) {
        const c = info[k];
        if (typeof c === 'number' && c !== 0) stack.push(c);
      }
      for (const k of CHILD_LISTS) {
        const list = info[k];
        if (Array.isArray(list)) for (const c of list) if (typeof c === 'number' && c !== 0) stack.push(c);
      }
    }
  }
  return count;
}

/** The relaxed_madd replacing `value` when it is `$q + a * b` for local q. */
function accumulation(m: binaryen.Module, q: number, value: Ref): { expr: Ref; children: Ref[] } | undefined {
  const add = infoOf(value);
  if (add.id !== binaryen.BinaryId || add.op !== binaryen.AddVecF32x4) return undefined;
  const isQ = (r: Ref) => {
    const i = infoOf(r);
    return i.id === binaryen.LocalGetId && i.index === q;
  };
  const isMul = (r: Ref) => {
    const i = infoOf(r);
    return i.id === binaryen.BinaryId && i.op === binaryen.MulVecF32x4 ? i : undefined;
  };
  const left = add.left as Ref;
  const right = add.right as Ref;
  const [acc, mul] =
    isQ(left) && isMul(right)
      ? [left, isMul(right)!]
      : isQ(right) && isMul(left)
        ? [right, isMul(left)!]
        : [];
  if (acc === undefined || mul === undefined) return undefined;
  const a = mul.left as Ref;
  const b = mul.right as Ref;
  return { expr: relaxedMadd(m, a, b, acc), children: [a, b] };
}

// ---------------------------------------------------------------------------------------------
// Integer dot on i16x8.relaxed_dot_i8x16_i7x16_s

/** The range every element of `v` provably lies in (inclusive), from its definition. */
export function provenRange(program: Gen['program'], v: TileVar): [number, number] | undefined {
  const defs = new Map<TileVar, Stmt[]>();
  forEachStmt(program.body, (s) => {
    if ('dst' in s && s.op !== 'store_shared') defs.set(s.dst, [...(defs.get(s.dst) ?? []), s]);
  });
  const rangeOf = (d: DType): [number, number] | undefined =>
    d.kind === 'int' ? [d.min, d.max] : d.kind === 'bool' ? [0, 1] : undefined;
  const visit = (t: TileVar, depth: number): [number, number] | undefined => {
    const own = rangeOf(t.type.dtype);
    const ds = defs.get(t);
    if (!own || !ds || ds.length !== 1 || depth > 16) return own;
    const s = ds[0];
    switch (s.op) {
      case 'cast': {
        const src = visit(s.src, depth + 1);
        // A source range inside the target's converts without wrapping.
        return src && src[0] >= own[0] && src[1] <= own[1] ? src : own;
      }
      case 'transpose':
      case 'reshape':
      case 'unsqueeze':
      case 'broadcast':
      case 'repeat':
      case 'copy':
      case 'convert_layout': {
        const src = visit(s.src, depth + 1);
        return src && src[0] >= own[0] && src[1] <= own[1] ? src : own;
      }
      default:
        return own;
    }
  };
  return visit(v, 0);
}

/**
 * How integer dot s (dot.ts's isIntDot holds) takes the relaxed path: which operand is the one in
 * 0..127 and how many 16-lane chunks its i16 sums may take before widening; undefined when neither
 * operand is provably in 0..127 or the other is not in -128..127.
 */
export function relaxedIntDotPlan(
  program: Gen['program'],
  s: Dot,
): { seven: 'a' | 'b'; chunksPerWiden: number } | undefined {
  const ra = provenRange(program, s.a);
  const rb = provenRange(program, s.b);
  if (!ra || !rb) return undefined;
  const i7 = (r: [number, number]) => r[0] >= 0 && r[1] <= 127;
  const i8 = (r: [number, number]) => r[0] >= -128 && r[1] <= 127;
  let seven: 'a' | 'b';
  if (i7(rb) && i8(ra)) seven = 'b';
  else if (i7(ra) && i8(rb)) seven = 'a';
  else return undefined;
  const sevenMax = Math.max(1, (seven === 'b' ? rb : ra)[1]);
  const other = seven === 'b' ? ra : rb;
  const otherMax = Math.max(1, Math.abs(other[0]), Math.abs(other[1]));
  // Each i16 lane adds one pair of products per chunk: at most 2 sevenMax otherMax.
  return { seven, chunksPerWiden: Math.max(1, Math.floor(32767 / (2 * sevenMax * otherMax))) };
}

/** The relaxed lowering of integer dot s, or undefined (relaxed off, or operands not in range). */
export function emitRelaxedIntDot(g: Gen, s: Dot): Ref[] | undefined {
  if (!relaxedEnabled(g)) return undefined;
  const plan = relaxedIntDotPlan(g.program, s);
  return plan && lower(g, s, plan.seven, plan.chunksPerWiden);
}

function lower(g: Gen, s: Dot, seven: 'a' | 'b', chunksPerWiden: number): Ref[] {
  const { f, m } = g;
  const I = m.i32;
  const p = packIntDot(g, s, 1);
  const { packedA, packedB, paddedK: K16, at } = p;
  const out: Ref[] = [...p.code];
  const ones = f.local(v128);
  out.push(f.set(ones, m.i16x8.splat(I.const(1))));
  const chunks = K16 / 16;
  const rounds = Math.ceil(chunks / chunksPerWiden);
  // Per row, blocks of up to 4 columns: i16 partial sums over `chunksPerWiden` chunks, widened into i32.
  const block = (i: () => Ref, j0: () => Ref, cols: number): Ref[] => {
    const acc32 = Array.from({ length: cols }, () => f.local(v128));
    const acc16 = Array.from({ length: cols }, () => f.local(v128));
    const x = f.local(v128);
    const kc = f.local(i32);
    const stop = f.local(i32);
    const dot16 = (row: Ref, col: Ref) =>
      seven === 'b' ? relaxedDotI16(m, row, col) : relaxedDotI16(m, col, row);
    const round: Ref[] = [
      ...acc16.map((q) => f.set(q, m.v128.const(new Array(16).fill(0)))),
      f.set(stop, I.add(f.get(kc), I.const(16 * chunksPerWiden))),
      f.set(stop, m.select(I.lt_s(f.get(stop), I.const(K16)), f.get(stop), I.const(K16))),
      f.while(
        () => I.lt_s(f.get(kc), f.get(stop)),
        [
          f.set(x, m.v128.load(packedA, 1, at(I.add(I.mul(i(), I.const(K16)), f.get(kc)), 0))),
          ...acc16.map((q, jj) =>
            f.set(
              q,
              m.i16x8.add(
                f.get(q),
                dot16(
                  f.get(x),
                  m.v128.load(
                    packedB,
                    1,
                    at(I.add(I.mul(I.add(j0(), I.const(jj)), I.const(K16)), f.get(kc)), 0),
                  ),
                ),
              ),
            ),
          ),
          ...f.bump(kc, 16),
        ],
      ),
      ...acc16.map((q, jj) =>
        f.set(acc32[jj], m.i32x4.add(f.get(acc32[jj]), m.i32x4.dot_i16x8_s(f.get(q), f.get(ones)))),
      ),
    ];
    const stmts: Ref[] = [f.set(kc, I.const(0)), ...acc32.map((q) => f.set(q, m.i32x4.splat(I.const(0))))];
    stmts.push(...f.repeat(rounds, () => round));
    stmts.push(...storeColumnSums(g, p, acc32, i, j0));
    return stmts;
  };
  out.push(...eachColumnBlock(g, s, p, block));
  used.add(g);
  return out;
}
