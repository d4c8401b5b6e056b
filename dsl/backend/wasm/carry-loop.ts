// The loop of a carried run (carry.ts), built for fuse.ts's nest: the carried tile's chunks live in
// v128 locals while the loop runs over every chunk of every row.
//
// Addresses are strength-reduced: every contiguous global tile row of 8, 16 or 32-bit elements gets
// a byte pointer, set once before the loop and bumped by the tile's step once per iteration, and each
// chunk's load takes its chunk offset in the load's `offset=` immediate: no address arithmetic per
// load. When a tile's step is known at compile time (checked again at run time, carry.ts) its pointer
// also ends the loop by comparison, so no counter competes for a register (V8 spilled it). carry.ts
// admits only global tiles with a pointer form (contiguous rows of 8/16/32-bit dtypes with a v128
// load). Iterations run in order, so every element sees its operations in the plain loop's order.
//
// Not unrolled: V8 (11.3) schedules every load of a basic block before the arithmetic, so a 4x
// unrolled GEMV body spilled and reloaded 28 vectors per pass and ran 1.45x slower than one
// iteration per pass (docs/wasm-backend.md).
import binaryen from 'binaryen';
import type { DType } from '../../dtype.js';
import type { Gen } from './context.js';
import type { Ref } from './fn.js';
import type { Carry, GlobalLeafInfo } from './fuse.js';
import type { Run } from './fuse-plan.js';
import { canUnpack, vectorLoad4 } from './unpack.js';

const { i32, v128 } = binaryen;

/** A global leaf's v128 read at the current position, or undefined for fuse.ts's own read. */
export type LeafLoad = (li: number, row: number, save: (v: Ref) => () => Ref) => Ref | undefined;

/** What fuse.ts's row block gives the carried loop. */
export interface CarriedBlock {
  readonly g: Gen;
  readonly run: Run;
  readonly carry: Carry;
  readonly globals: ReadonlyMap<number, GlobalLeafInfo>;
  /** Rows unrolled in the block (the carried tile's second-to-last dim, or 1). */
  readonly rows: number;
  /** The last dim (a multiple of 4). */
  readonly L: number;
  /** The local holding the element index along the last dim that fuse.ts's reads use. */
  readonly c: number;
  /** Global leaf -> element offset local that fuse.ts's index adds (unused with pointers: kept 0). */
  readonly kOffsets: ReadonlyMap<number, number>;
  /** Element index of leaf li's row `row` at the first iteration and chunk 0. */
  rowStart(li: number, row: number): Ref;
  /** Whether leaf li's rows start at different elements (false for a row broadcast to all). */
  rowVaries(li: number): boolean;
  /** Whether leaf li's elements are contiguous along the last dim. */
  unitInner(li: number): boolean;
  /** Scratch address of store si's row `row` at chunk c (buffer offset excluded). */
  storeAddr(si: number, row: number): Ref;
  /** A fresh position (a memo of values): per row, the statements and the stores' value locals. */
  position(): (row: number) => { stmts: Ref[]; values: number[] };
  /** While a position is built: carried leaves read `locals[store][row]`; global leaves try `load`. */
  redirect(locals: number[][] | undefined, load: LeafLoad | undefined): void;
}

/** Whether a global leaf of dtype d can be read through a byte pointer (carry.ts requires it). */
export function pointerDtype(d: DType): boolean {
  return (d.bits === 8 || d.bits === 16 || d.bits === 32) && canUnpack(d);
}

/** Four elements of dtype d at `ptr + offset` as register lanes (pointerDtype(d)). */
function loadAt(g: Gen, d: DType, ptr: number, offset: number, save: (v: Ref) => () => Ref): Ref {
  const { f, m } = g;
  const p = () => f.get(ptr);
  if (d.bits === 32) return m.v128.load(offset, 4, p());
  if (d.kind === 'int' && d.bits === 16)
    return (d.signed ? m.v128.load16x4_s : m.v128.load16x4_u)(offset, 2, p());
  if (d.kind === 'int' && d.bits === 8) {
    const bytes = m.v128.load32_zero(offset, 1, p());
    return d.signed
      ? m.i32x4.extend_low_i16x8_s(m.i16x8.extend_low_i8x16_s(bytes))
      : m.i32x4.extend_low_i16x8_u(m.i16x8.extend_low_i8x16_u(bytes));
  }
  // Other formats (f16, bf16): unpack.ts's decoding, from the address with the offset added.
  const I = m.i32;
  return vectorLoad4(
    g.mod,
    d,
    () => (offset === 0 ? p() : I.add(p(), I.const(offset))),
    () => I.const(0),
    save,
  );
}

/** The carried loop: carried locals loaded, the loop over the iterations, locals stored. */
export function carriedLoop(b: CarriedBlock): Ref[] {
  const { g, run, carry, rows, L } = b;
  const { f, m } = g;
  const I = m.i32;
  const chunkCount = L / 4;
  // Byte pointers of contiguous tile rows (one per row, or one for a row broadcast to every row).
  const pointers = new Map<number, { d: DType; bytes: number; row: number[]; stepBytes?: number }>();
  for (const li of carry.steps.keys()) {
    const d = run.leaves[li].dtype;
    if (!b.unitInner(li) || !pointerDtype(d))
      throw new Error('internal: a carried global tile without a pointer form');
    const bytes = d.bits / 8;
    const count = b.rowVaries(li) ? rows : 1;
    const fixed = carry.fixedSteps?.get(li);
    pointers.set(li, {
      d,
      bytes,
      row: Array.from({ length: count }, () => f.local(i32)),
      stepBytes: fixed === undefined ? undefined : Math.imul(fixed, bytes),
    });
  }
  const code: Ref[] = [];
  for (const [li, p] of pointers) {
    const base = b.globals.get(li)!.info.base;
    p.row.forEach((local, row) => {
      const start = b.rowStart(li, row);
      const offset = p.bytes === 1 ? start : I.shl(start, I.const(Math.log2(p.bytes)));
      code.push(f.set(local, I.add(f.get(base), offset)));
    });
  }
  // Byte steps known only at run time.
  const stepLocal = new Map<number, number>();
  for (const [li, p] of pointers) {
    if (p.stepBytes !== undefined) continue;
    const local = f.local(i32);
    const step = f.get(carry.steps.get(li)!);
    code.push(f.set(local, p.bytes === 1 ? step : I.shl(step, I.const(Math.log2(p.bytes)))));
    stepLocal.set(li, local);
  }
  for (const k of b.kOffsets.values()) code.push(f.set(k, I.const(0)));
  // The carried tile into locals [chunk][store][row].
  const locals = Array.from({ length: chunkCount }, () =>
    run.stores.map(() => Array.from({ length: rows }, () => f.local(v128))),
  );
  const setC = (j: number) => f.set(b.c, I.const(4 * j));
  const finish: Ref[] = [];
  for (let j = 0; j < chunkCount; j++) {
    code.push(setC(j));
    finish.push(setC(j));
    run.stores.forEach((s, si) => {
      const buf = g.buf(s.v);
      for (let row = 0; row < rows; row++) {
        code.push(f.set(locals[j][si][row], m.v128.load(buf, 4, b.storeAddr(si, row))));
        finish.push(m.v128.store(buf, 4, b.storeAddr(si, row), f.get(locals[j][si][row])));
      }
    });
  }
  // The loop body: every chunk of every row, reading the global tiles at the pointers.
  const body: Ref[] = [];
  for (let j = 0; j < chunkCount; j++) {
    body.push(setC(j)); // scratch tiles other than the carried one are read at c
    const load: LeafLoad = (li, row, save) => {
      const p = pointers.get(li);
      if (!p) return undefined;
      return loadAt(g, p.d, p.row[p.row.length === 1 ? 0 : row], j * 4 * p.bytes, save);
    };
    b.redirect(locals[j], load);
    const at = b.position();
    for (let row = 0; row < rows; row++) {
      const { stmts, values } = at(row);
      body.push(...stmts);
      run.stores.forEach((_, si) => {
        body.push(f.set(locals[j][si][row], f.get(values[si])));
      });
    }
    b.redirect(undefined, undefined);
  }
  // The next iteration's pointers and element offsets.
  for (const [li, p] of pointers) {
    const by = () => (p.stepBytes !== undefined ? I.const(p.stepBytes) : f.get(stepLocal.get(li)!));
    for (const local of p.row) body.push(f.set(local, I.add(f.get(local), by())));
  }
  // `trips` (at least 1) iterations. A pointer that moves by a nonzero constant ends the loop by
  // comparison with its end: every tile position is inside memory, so the pointers of two iterations
  // differ by less than 2^32 and != is exact in wrapping i32 arithmetic.
  const loop = f.label('K');
  const lead = [...pointers.values()].find((p) => p.stepBytes !== undefined && p.stepBytes !== 0);
  const left = f.local(i32);
  const loopCode = lead
    ? [
        f.set(left, I.add(f.get(lead.row[0]), I.mul(f.get(carry.trips), I.const(lead.stepBytes!)))),
        m.loop(loop, m.block(null, [...body, m.br(loop, I.ne(f.get(lead.row[0]), f.get(left)))])),
      ]
    : [
        f.set(left, f.get(carry.trips)),
        m.loop(
          loop,
          m.block(null, [...body, f.set(left, I.sub(f.get(left), I.const(1))), m.br(loop, f.get(left))]),
        ),
      ];
  // (Inside an `if` on the count, though it is never 0: V8 11.3 allocated registers better for that
  // shape; the same f32 GEMV loop right after the pointer set-up spilled two accumulators.)
  code.push(m.if(f.get(carry.trips), m.block(null, loopCode)));
  code.push(...finish);
  return code;
}
