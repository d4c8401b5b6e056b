// Integer `dot` straight from packed global weights: the pattern of the quantized matmul's integer
// path,
//
//   L = load_global(w)   (ints of 1..8 bits, no mask, out-of-range lanes read 0)
//   C = cast(L)          (optional; to an int dtype that holds every value of L's)
//   T = transpose(C)     ([BN, K] -> [K, BN])
//   d = dot(a, T, c)     (a: int tile, c: int accumulator)
//
// with L, C and T each written once and read only by the next step, all in one body with no scalar
// assignment, loop or branch between the load and the dot. The load, cast and transpose emit
// nothing (emitBody asks `skippedBySubbyteDot`); the dot reads the weights where they lie, one v128
// per 32 u4/i4 or 16 u8/i8 weights (other widths: dot-fields.ts), and never materializes the [BN, K]
// tile in scratch.
//
// - 4-bit weights (a in -128..127): each 16-bit lane holds four nibbles, isolated in place with the
//   masks 0x000F, 0x00F0, 0x0F00 and a shift by 12, so a nibble at bit 4r is worth q * 16^r. Rows of
//   a are de-interleaved once per dot into four planes (elements 4j + r of each 32) widened to i16 and
//   pre-multiplied by 256, 16, 1 and 256, so every i32x4.dot_i16x8_s product is 256 q x; the scaled
//   sum is shifted back down every 256 chunks (before it could leave the i32 range). Signed nibbles
//   are biased by xor 0x8888 (q + 8) and 8 sum(a) subtracted at the end.
// - 8-bit weights (a in -32768..32767): i8x16 widened to two i16x8 (sign or zero), against a's row
//   narrowed to i16, contiguous.
// - 1, 2, 3, 5, 6 and 7 bits (a in -128..127): the same scaled scheme with the field layouts of
//   dot-fields.ts: chunks of 32 weights, each weight isolated in place at bit o <= 8 of its i16
//   lane by an AND, after a splat load (1, 2 bits) or a swizzle (3, 5, 6, 7 bits) and at most one
//   shift per 16 weights, against planes of a built once per dot (shuffles of each chunk's 32
//   elements) with each lane pre-multiplied by 2^(8 - o); the scaled sums are shifted down before
//   they could overflow i32 (every 2048 weights at 7 bits, more below). Signed weights are biased
//   by XOR with the fields' sign bits (q + 2^(w - 1)) and 2^(w - 1) sum(a) subtracted. 5-, 6- and
//   7-bit chunks (two loads per row) run as two halves, the second behind an always-taken branch:
//   V8 hoists a basic block's loads, and 8 live loads spilled (u7 1.1x, i7 1.2x slower). 5 bits
//   run whole periods of 4 chunks (dot-fields.ts FieldPeriod), each half at its own load offset
//   and swizzle and behind its own branch, then the chunks left over as plain halves.
// - Relaxed SIMD (a relaxed compilation with relaxedNibbleDot, the default), 4-bit weights: a's rows are
//   split into two i8 planes, its even and odd elements of each 32, against each byte's low and high
//   nibble (0..15, valid 7-bit operands of i16x8.relaxed_dot_i8x16_i7x16_s, so every engine computes
//   the same exact pair sums); the i16 sums run for as many chunks as cannot overflow (4 for i8 a:
//   4 * 4 * 15 * 128 < 32768), then widen into i32 by i32x4.dot_i16x8_s against ones. With one row
//   of a, blocks of 8 weight rows (subbyteRowBlock): more cache lines in flight from DRAM.
// Rows of the weight tile that lie wholly inside the tensor (and, below 8 bits, start on a byte or
// a group of 8 weights; with a layout whose last load reads past the chunk, 3 bits' 4 bytes, end that
// far before the tensor's end) take this path; other rows, and the K % chunk tail, are summed element by
// element with the load's bounds (when K is whole chunks, a block on the vector path writes c + sum
// straight to dst and skips that per-row code). When K is whole chunks, one check per dot asks
// whether every row of the tile takes the vector path; if so (all but edge tiles) the blocks run
// with no check or tail code of their own, else each block checks itself. The sums are exact, so
// wrapping once into c's dtype at the end equals the interpreter's result (dot.ts).
//
// Fixed costs cut around the inner loop (the LLM's u4/g128 int8 GEMV: 1.11x faster, baseline SIMD):
// - c a `full 0` used only by the dot (`acc += dot(x, wT)`): skipped; sums stored without adding c.
// - a scaled sum that cannot leave i32 over the whole K and 4 lanes (4-bit: K <= 4352 for i8 a) is
//   reduced first and shifted down once per 4 rows, not once per accumulator.
// - a's own i8 global load (every width below 8 bits: planes come from each chunk's 32 contiguous
//   elements) is skipped too: when a's tile lies inside its tensor the planes are built straight from its bytes
//   (two v128 loads per 32 elements), else (and before blocks that sum element by element, which
//   read a's scratch tile) the load runs as it would have.
import binaryen from 'binaryen';
import { type DType, type IntDType, i8 } from '../../dtype.js';
import type { Cast, Dot, Full, LoadGlobal, Program, Stmt, TileVar, Transpose } from '../../ir/program.js';
import type { Gen } from './context.js';
import { type FieldLayout, fieldLayout, i16Bytes } from './dot-fields.js';
import type { Ref, Val } from './fn.js';
import { wrapInt } from './formats.js';
import { countVars } from './fuse-plan.js';
import { emitLoadGlobal, loadElement } from './memory.js';
import { markRelaxedUsed, relaxedDotI16, relaxedEnabled } from './relaxed.js';
import { i32Expr } from './scalar.js';

const { i32, v128 } = binaryen;

interface Chain {
  readonly load: LoadGlobal;
  readonly cast?: Cast;
  readonly transpose: Transpose;
  /** The weights' width, 1..8. */
  readonly bits: number;
  /** c's `full 0`, when nothing else reads c: skipped, and the sums are stored without adding c. */
  readonly zeroC?: Full;
  /**
   * Weights whose planes are contiguous (contiguousPlanes): a's own global load of i8 (no cast,
   * mask or `other`), skipped: the dot builds its planes straight from the tensor's bytes when a's
   * tile lies inside it, and runs the load into scratch otherwise (and before any block that sums
   * columns element by element).
   */
  readonly aLoad?: LoadGlobal;
}

interface Plan {
  readonly skip: Set<Stmt>;
  readonly chains: Map<Dot, Chain>;
}

const plans = new WeakMap<Program, Plan>();

/**
 * The default of compileWasm's `relaxedNibbleDot`: whether relaxed-SIMD compilations give 4-bit
 * weights the relaxed nibble dot (the header's last paragraph). On by default: with 8 weight rows
 * per block (subbyteRowBlock) the u4/g128 4096x4096 int8 GEMV runs 1.2x faster than baseline SIMD
 * on Node 20 (V8 11.3, relaxed SIMD behind a flag) and 4-6% faster in Chromium 156
 * (test/bench/browser-llm.ts; docs/wasm-backend.md, 'Relaxed SIMD'). Exact either way.
 */
export const relaxedSubbyte = { enabled: true };

/**
 * Weight rows per block when a has one row (a GEMV): each row is its own stream of cache lines, so
 * more rows keep more DRAM reads in flight. The LLM's u4/g128 4096x4096 int8 GEMV from DRAM, relaxed
 * nibbles: 8 rows ran 1.4-1.7x faster than 4 on Node 20; baseline nibbles (4 planes, 8 accumulators:
 * spills) ran 1.02-1.10x slower with 8 (docs/wasm-backend.md, 'Eight weight rows per block').
 * Mutable for benchmarks and tests, like relaxedSubbyte.
 */
export const subbyteRowBlock = { relaxedNibble: 8, nibble: 4, other: 4 };

function rowBlockOf(bits: number, relaxed: boolean): number {
  if (bits !== 4) return subbyteRowBlock.other;
  return relaxed ? subbyteRowBlock.relaxedNibble : subbyteRowBlock.nibble;
}

function intRange(d: DType): [number, number] | undefined {
  if (d.kind !== 'int') return undefined;
  return d.signed ? [-(2 ** (d.bits - 1)), 2 ** (d.bits - 1) - 1] : [0, 2 ** d.bits - 1];
}

function within(d: DType, lo: number, hi: number): boolean {
  const r = intRange(d);
  return r !== undefined && r[0] >= lo && r[1] <= hi;
}

function planOf(program: Program): Plan {
  let plan = plans.get(program);
  if (plan) return plan;
  plan = { skip: new Set(), chains: new Map() };
  const counts = countVars(program);
  const once = (v: TileVar) => counts.uses.get(v) === 1 && counts.defs.get(v) === 1;
  const visit = (body: readonly Stmt[]) => {
    const def = new Map<TileVar, number>();
    body.forEach((s, i) => {
      if (s.op === 'for') visit(s.body);
      if (s.op === 'if') {
        visit(s.thenBody);
        visit(s.elseBody);
      }
      if ('dst' in s && s.op !== 'store_shared') def.set(s.dst, i);
      if (s.op !== 'dot') return;
      const chain = match(program, body, def, s, once);
      if (!chain) return;
      plan!.chains.set(s, chain);
      for (const t of [chain.load, chain.cast, chain.transpose, chain.zeroC, chain.aLoad]) {
        if (t) plan!.skip.add(t);
      }
    });
  };
  visit(program.body);
  plans.set(program, plan);
  return plan;
}

function match(
  program: Program,
  body: readonly Stmt[],
  def: Map<TileVar, number>,
  d: Dot,
  once: (v: TileVar) => boolean,
): Chain | undefined {
  const acc = d.c.type.dtype;
  if (acc.kind !== 'int' || d.a.type.dtype.kind !== 'int' || d.a.type.shape.length !== 2) return undefined;
  const at = (v: TileVar) => {
    const i = def.get(v);
    return i === undefined || !once(v) ? undefined : { i, s: body[i] };
  };
  const t = at(d.b);
  if (t?.s.op !== 'transpose' || t.s.perm.length !== 2 || t.s.perm[0] !== 1) return undefined;
  const transpose = t.s;
  let src = at(transpose.src);
  let cast: Cast | undefined;
  if (src?.s.op === 'cast') {
    cast = src.s;
    src = at(cast.src);
  }
  if (src?.s.op !== 'load_global') return undefined;
  const load = src.s;
  const w = load.dst.type.dtype;
  if (w.kind !== 'int' || w.bits > 8) return undefined;
  if (load.mask || (load.other ?? 0) !== 0) return undefined;
  const param = program.params.find((p) => p.name === load.param);
  if (param?.kind !== 'global' || param.shape.length !== 2 || param.access !== 'read') return undefined;
  // The cast must keep every weight value (a widening).
  if (cast && !within(w, ...(intRange(cast.dst.type.dtype) ?? [1, 0]))) return undefined;
  // a must fit the planes: i8 below 8 bits (pre-multiplied by up to 256), i16 for bytes.
  const a = d.a.type.dtype;
  if (w.bits < 8 ? !within(a, -128, 127) : !within(a, -32768, 32767)) return undefined;
  // Nothing between the load and the dot may change what the load's offsets evaluate to.
  const dotAt = body.indexOf(d);
  for (let i = src.i + 1; i < dotAt; i++) {
    const op = body[i].op;
    if (op === 'let_scalar' || op === 'for' || op === 'if') return undefined;
  }
  const c = at(d.c)?.s;
  const zeroC = c?.op === 'full' && c.value.kind === 'const' && c.value.value === 0 ? c : undefined;
  const aLoad = contiguousPlanes(w.bits) ? inPlaceA(program, body, at(d.a), dotAt) : undefined;
  return {
    load,
    ...(cast ? { cast } : {}),
    transpose,
    bits: w.bits,
    ...(zeroC ? { zeroC } : {}),
    ...(aLoad ? { aLoad } : {}),
  };
}

/**
 * Whether a's planes are built from 32 contiguous elements per chunk (4 bits, and every field
 * layout), so planes read in place take two loads per chunk; 8-bit weights take i16 a.
 */
function contiguousPlanes(bits: number): boolean {
  return bits < 8;
}

/** a's load when the dot can read it in place (Chain.aLoad). */
function inPlaceA(
  program: Program,
  body: readonly Stmt[],
  def: { i: number; s: Stmt } | undefined,
  dotAt: number,
): LoadGlobal | undefined {
  const s = def?.s;
  if (s?.op !== 'load_global' || s.dst.type.dtype !== i8 || s.mask || (s.other ?? 0) !== 0) return undefined;
  const param = program.params.find((p) => p.name === s.param);
  if (param?.kind !== 'global' || param.shape.length !== 2 || param.access !== 'read') return undefined;
  for (let i = def!.i + 1; i < dotAt; i++) {
    const op = body[i].op;
    if (op === 'let_scalar' || op === 'for' || op === 'if') return undefined;
  }
  return s;
}

/** Whether statement s is a load, cast or transpose that a sub-byte dot reads in place. */
export function skippedBySubbyteDot(g: Gen, s: Stmt): boolean {
  return planOf(g.program).skip.has(s);
}

/** The index of the first statement of body at or after `from` that is skipped (body.length if none). */
export function nextSubbyteSkip(g: Gen, body: readonly Stmt[], from: number): number {
  const skip = planOf(g.program).skip;
  if (skip.size === 0) return body.length;
  let i = from;
  while (i < body.length && !skip.has(body[i])) i++;
  return i;
}

/** How many dots of a program take this lowering (for tests). */
export function subbyteDotCount(program: Program): number {
  return planOf(program).chains.size;
}

/** How many of a program's sub-byte dots skip a zeros c, and read a in place (for tests). */
export function subbyteDotParts(program: Program): { zeroC: number; aInPlace: number } {
  const chains = [...planOf(program).chains.values()];
  return { zeroC: chains.filter((c) => c.zeroC).length, aInPlace: chains.filter((c) => c.aLoad).length };
}

/** Whether dot s reads 4-bit weights in place: with relaxed SIMD on, it uses relaxed dots. */
export function relaxedSubbyteDot(program: Program, s: Dot, nibbleDot: boolean): boolean {
  return nibbleDot && planOf(program).chains.get(s)?.bits === 4;
}

/** The code of dot s when it matches the pattern above; undefined otherwise. */
export function emitSubbyteDot(g: Gen, s: Dot): Ref[] | undefined {
  const chain = planOf(g.program).chains.get(s);
  if (!chain) return undefined;
  return emitChain(g, s, chain);
}

function emitChain(g: Gen, s: Dot, chain: Chain): Ref[] {
  const { f, m } = g;
  const I = m.i32;
  const [M, K] = s.a.type.shape;
  const N = s.b.type.shape[1];
  const acc = s.c.type.dtype as IntDType;
  const w = chain.load.dst.type.dtype as IntDType;
  const nibble = chain.bits === 4;
  // 1, 2, 3, 5, 6, 7 bits: weights isolated in place by masks (dot-fields.ts).
  const layout = chain.bits < 8 && !nibble ? fieldLayout(chain.bits) : undefined;
  const per = nibble ? 32 : (layout?.per ?? 16); // weights per v128
  const stride = layout?.bytes ?? 16; // bytes of weights per chunk
  // Relaxed nibbles: two i8 planes (a's even and odd elements) against each byte's low and high
  // nibble (0..15, valid 7-bit operands), summed in i16 for `seg` chunks, then widened.
  const relaxed = nibble && g.relaxedNibbleDot && relaxedEnabled(g);
  const planes = layout ? layout.passes.length : nibble && !relaxed ? 4 : 2;
  const aRange = intRange(s.a.type.dtype)!;
  const aMax = Math.max(1, -aRange[0], aRange[1]);
  // Each i16 lane gains 4 products of at most 15 aMax per chunk (two pairs, two planes).
  const seg = Math.max(1, Math.floor(32767 / (4 * 15 * aMax)));
  // Field chunks before the scaled sums (each dot adds two products of at most (2^w - 1) aMax 2^8
  // to a lane) are shifted down, short of i32 overflow.
  const fieldSegment = layout
    ? Math.max(1, Math.floor(2147483647 / (planes * 2 * (2 ** chain.bits - 1) * aMax * 256)))
    : 0;
  const chunks = Math.floor(K / per);
  const info = g.globals.get(chain.load.param)!;
  const aBase = g.buf(s.a);
  const cBase = g.buf(s.c);
  const dstBase = g.buf(s.dst);
  const result = dstBase === aBase ? g.alloc(M * N * 4) : dstBase;
  const xp = g.alloc(M * Math.max(chunks, 1) * planes * 16);
  const xsum = g.alloc(M * 4);
  const scratch = (off: number, at: Ref) => ({ off, at: I.add(f.get(g.scratch), at) });
  const out: Ref[] = [];
  const row0 = f.local(i32);
  const col0 = f.local(i32);
  out.push(f.set(row0, i32Expr(g, chain.load.offsets[0])), f.set(col0, i32Expr(g, chain.load.offsets[1])));
  const rows = () => f.get(info.dims[0]);
  const cols = () => f.get(info.dims[1]);

  // a's rows as planes of i16 (and, for signed nibbles, each row's sum over the vector chunks).
  const sumv = f.local(v128);
  const e = Array.from({ length: 4 }, () => f.local(v128));
  const aAt = (i: Val, c: Val, word: number) =>
    scratch(aBase + word * 16, I.shl(I.add(I.mul(i(), I.const(K)), I.mul(c(), I.const(per))), I.const(2)));
  const xpAt = (i: Val, c: Val, plane: number) =>
    scratch(
      xp + plane * 16,
      I.shl(I.add(I.mul(i(), I.const(chunks * planes)), I.mul(c(), I.const(planes))), I.const(4)),
    );
  const loadA = (i: Val, c: Val, word: number) => {
    const p = aAt(i, c, word);
    return m.v128.load(p.off, 4, p.at);
  };
  const storeXp = (i: Val, c: Val, plane: number, v: Ref) => {
    const p = xpAt(i, c, plane);
    return m.v128.store(p.off, 16, p.at, v);
  };
  const signedNibbles = nibble && w.signed;
  const signedFields = layout !== undefined && w.signed;
  /**
   * Field planes of chunk c of a's row i: the chunk's 32 activations (aBytes), each pass's gathered
   * by a shuffle, widened and lane-scaled by 2^(8 - o).
   */
  const fieldPlanes = (i: Val, c: Val, inPlace: boolean): Ref[] => {
    const stmts = aBytes(i, c, inPlace);
    layout!.passes.forEach((pass, p) => {
      const picked = m.i8x16.shuffle(f.get(e[0]), f.get(e[1]), [...pass.elems, ...pass.elems]);
      const wide = m.i16x8.extend_low_i8x16_s(picked);
      const sh = pass.shifts[0];
      const scaled = pass.shifts.every((x) => x === sh)
        ? sh === 0
          ? wide
          : m.i16x8.shl(wide, I.const(sh))
        : m.i16x8.mul(wide, m.v128.const(i16Bytes(pass.shifts.map((x) => 1 << x))));
      stmts.push(storeXp(i, c, p, scaled));
    });
    return stmts;
  };
  // a in place (Chain.aLoad): its tile's corner, and whether the whole tile lies inside the tensor.
  const aLoad = chain.aLoad;
  const aInfo = aLoad ? g.globals.get(aLoad.param)! : undefined;
  const aRow0 = f.local(i32);
  const aCol0 = f.local(i32);
  const aInside = f.local(i32);
  const aPtr = f.local(i32); // the byte address of a's row i in the tensor
  if (aLoad && aInfo) {
    out.push(
      f.set(aRow0, i32Expr(g, aLoad.offsets[0])),
      f.set(aCol0, i32Expr(g, aLoad.offsets[1])),
      f.set(
        aInside,
        I.and(
          I.and(
            I.ge_s(f.get(aRow0), I.const(0)),
            I.le_s(f.get(aRow0), I.sub(f.get(aInfo.dims[0]), I.const(M))),
          ),
          I.and(
            I.ge_s(f.get(aCol0), I.const(0)),
            I.le_s(f.get(aCol0), I.sub(f.get(aInfo.dims[1]), I.const(K))),
          ),
        ),
      ),
    );
  }
  /** a's global load into its scratch tile (the code that was skipped). */
  const loadATile = (): Ref[] => (aLoad ? emitLoadGlobal(g, aLoad) : []);
  /** Chunk c's 32 i8 elements of a's row i into e[0] and e[1] (in place: straight from the tensor). */
  const aBytes = (i: Val, c: Val, inPlace: boolean): Ref[] => {
    const stmts: Ref[] = [];
    if (inPlace) {
      const at = () => I.add(f.get(aPtr), I.shl(c(), I.const(5)));
      stmts.push(f.set(e[0], m.v128.load(0, 1, at())), f.set(e[1], m.v128.load(16, 1, at())));
      if (signedNibbles || signedFields) {
        const pairs = m.i16x8.add(
          m.i16x8.extadd_pairwise_i8x16_s(f.get(e[0])),
          m.i16x8.extadd_pairwise_i8x16_s(f.get(e[1])),
        );
        stmts.push(f.set(sumv, m.i32x4.add(f.get(sumv), m.i32x4.extadd_pairwise_i16x8_s(pairs))));
      }
      return stmts;
    }
    for (let q = 0; q < 4; q++) {
      const lo = loadA(i, c, 2 * q);
      const hi = loadA(i, c, 2 * q + 1);
      stmts.push(f.set(e[q], m.i16x8.narrow_i32x4_s(lo, hi)));
      if (signedNibbles || signedFields) {
        stmts.push(f.set(sumv, m.i32x4.add(f.get(sumv), m.i32x4.extadd_pairwise_i16x8_s(f.get(e[q])))));
      }
    }
    // Bytes 0-15 and 16-31.
    const b0 = m.i8x16.narrow_i16x8_s(f.get(e[0]), f.get(e[1]));
    const b1 = m.i8x16.narrow_i16x8_s(f.get(e[2]), f.get(e[3]));
    stmts.push(f.set(e[0], b0), f.set(e[1], b1));
    return stmts;
  };
  /** a's planes, read from its scratch tile or (inPlace) from the tensor. */
  const planesOfA = (inPlace: boolean): Ref[] =>
    f.repeat(M, (i) => [
      f.set(sumv, m.i32x4.splat(I.const(0))),
      ...(inPlace && aInfo
        ? [
            f.set(
              aPtr,
              I.add(
                f.get(aInfo.base),
                I.add(I.mul(I.add(f.get(aRow0), i()), f.get(aInfo.dims[1])), f.get(aCol0)),
              ),
            ),
          ]
        : []),
      ...f.repeat(chunks, (c) => {
        if (layout) return fieldPlanes(i, c, inPlace);
        if (!nibble) {
          return [0, 1].map((h) =>
            storeXp(i, c, h, m.i16x8.narrow_i32x4_s(loadA(i, c, 2 * h), loadA(i, c, 2 * h + 1))),
          );
        }
        // Bytes 0-15 and 16-31, then planes r = 0..3 (bytes 4j + r) by two shuffles.
        const stmts = aBytes(i, c, inPlace);
        if (relaxed) {
          const parity = (o: number) => Array.from({ length: 16 }, (_, j) => 2 * j + o);
          for (let p = 0; p < 2; p++) {
            stmts.push(storeXp(i, c, p, m.i8x16.shuffle(f.get(e[0]), f.get(e[1]), parity(p))));
          }
          return stmts;
        }
        const pick = (r0: number) =>
          [r0, r0 + 1].flatMap((r) => Array.from({ length: 8 }, (_, j) => 4 * j + r));
        stmts.push(
          f.set(e[2], m.i8x16.shuffle(f.get(e[0]), f.get(e[1]), pick(0))),
          f.set(e[3], m.i8x16.shuffle(f.get(e[0]), f.get(e[1]), pick(2))),
        );
        const shifts = [8, 4, 0, 8];
        for (let r = 0; r < 4; r++) {
          const src = f.get(e[2 + (r >> 1)]);
          const wide = r % 2 === 0 ? m.i16x8.extend_low_i8x16_s(src) : m.i16x8.extend_high_i8x16_s(src);
          stmts.push(storeXp(i, c, r, shifts[r] ? m.i16x8.shl(wide, I.const(shifts[r])) : wide));
        }
        return stmts;
      }),
      I.store(xsum, 4, I.add(f.get(g.scratch), I.shl(i(), I.const(2))), sumLanes(g, f.val(sumv))),
    ]);
  out.push(
    ...(aLoad
      ? [
          m.if(
            f.get(aInside),
            m.block(null, planesOfA(true)),
            m.block(null, [...loadATile(), ...planesOfA(false)]),
          ),
        ]
      : planesOfA(false)),
  );

  // Blocks of NB weight rows x MB rows of a share each weight and plane load (NB * MB <= 4
  // accumulators; one row of a: subbyteRowBlock's rows), reduced together by shuffles, 4 rows at a
  // time.
  const MB = Math.min(M, 4);
  const NB = MB === 1 ? rowBlockOf(chain.bits, relaxed) : Math.floor(4 / MB);
  const sums = g.alloc(MB * NB * 4); // the block's vector sums, [MB][NB]
  const n = f.local(i32);
  const row = f.local(i32);
  const elem = f.local(i32); // flat element index of the block's first row's first tile column
  const fast = f.local(i32);
  const addr = f.local(i32); // the block's first weight row's byte address
  const chunkAddr = f.local(i32); // the same at the current chunk
  const chunkAddr4 = f.local(i32); // ... 4 rows on
  const rowBytes = f.local(i32); // bytes from one weight row to the next (vector path)
  const rowBytes3 = f.local(i32);
  const v = Array.from({ length: NB }, () => f.local(v128));
  const fields = Array.from({ length: planes }, () => f.local(v128));
  // Fields: each row's further loads of the chunk (layout.loads beyond the first).
  const vx = Array.from({ length: NB }, () =>
    Array.from({ length: Math.max(0, (layout?.loads.length ?? 1) - 1) }, () => f.local(v128)),
  );
  const xpl = Array.from({ length: planes }, () => f.local(v128)); // a's planes of the current chunk
  const accs = Array.from({ length: MB * NB }, () => f.local(v128));
  const scaled = Array.from({ length: MB * NB }, () => f.local(v128));
  const SEGMENT = 256; // chunks before the scaled nibble sums are shifted down (no i32 overflow)
  const splat16 = (x: number) => m.i16x8.splat(I.const(x));
  const splat8 = (x: number) => m.i8x16.splat(I.const(x));
  const ones = f.local(v128);
  if (relaxed) out.push(f.set(ones, splat16(1)));
  /** The byte offset of weight element e: (e / 8) w + (e % 8) w / 8, without overflowing i32. */
  const byteOf = (e: Val): Ref =>
    nibble
      ? I.shr_u(e(), I.const(1))
      : layout
        ? I.add(
            I.mul(I.shr_u(e(), I.const(3)), I.const(chain.bits)),
            I.shr_u(I.mul(I.and(e(), I.const(7)), I.const(chain.bits)), I.const(3)),
          )
        : e();
  // Where the vector path runs, every row starts on a byte (or group), so cols * w / 8 is exact.
  out.push(f.set(rowBytes, byteOf(cols)), f.set(rowBytes3, I.mul(f.get(rowBytes), I.const(3))));
  // Two loads per chunk (5, 6, 7 bits): each half chunk (one load per row) its own basic block, so
  // V8 hoists 4 loads at a time, not 8, and nothing spills (halfStep).
  const halves = !relaxed && layout !== undefined && halfChunks(layout);
  const scaledSums = nibble || layout !== undefined;
  const segment = layout ? fieldSegment : SEGMENT;
  // When a row's scaled sums over all K, all 4 lanes together, cannot leave the i32 range (each
  // chunk adds 2 products of at most (2^w - 1) aMax 2^8 per plane to a lane), the lanes are
  // reduced first and the total shifted down once (exact: every product is a multiple of 2^8).
  const chunkLane = planes * 2 * (2 ** chain.bits - 1) * aMax * 256;
  const lateShift = !relaxed && scaledSums && 4 * chunks * chunkLane <= 2147483647;
  // K a whole number of vector chunks: a fast block has no scalar columns left to sum.
  const noTail = chunks > 0 && chunks * per === K;
  // c + x at scratch address `at` (x alone when c is a skipped `full 0`).
  const cZero = chain.zeroC !== undefined;
  const plusC = (at: Ref, x: Ref) => (cZero ? x : I.add(I.load(cBase, 4, at), x));
  const sumAt = (t: number, r: number) => I.add(f.get(g.scratch), I.const(sums + (t * NB + r) * 4));

  /** The fields (plane values) of weight vector `x`, as expressions (each used once) or locals. */
  const fieldsOf = (xs: readonly Val[], keep: boolean): { stmts: Ref[]; get: (r: number) => Ref } => {
    const x = xs[0];
    const make = (r: number): Ref => {
      if (layout) {
        // Views shared by two passes are computed twice here; V8 numbers the copies as one.
        const pass = layout.passes[r];
        const view = layout.views[pass.view];
        let y = xs[view.load]();
        if (view.swizzle) y = m.i8x16.swizzle(y, m.v128.const([...view.swizzle]));
        if (signedFields) y = m.v128.xor(y, m.v128.const([...layout.signs[pass.view]]));
        const sh = view.shift;
        if (sh) {
          const by = I.const(Math.abs(sh.by));
          if (sh.lanes === 16) y = sh.by > 0 ? m.i16x8.shl(y, by) : m.i16x8.shr_u(y, by);
          else y = sh.by > 0 ? m.i64x2.shl(y, by) : m.i64x2.shr_u(y, by);
        }
        return m.v128.and(y, m.v128.const(i16Bytes(pass.masks)));
      }
      if (relaxed) {
        const v = r === 0 ? x() : m.i16x8.shr_u(x(), I.const(4));
        return m.v128.and(v, splat8(0x0f));
      }
      if (!nibble) {
        const ext = w.signed
          ? [m.i16x8.extend_low_i8x16_s, m.i16x8.extend_high_i8x16_s]
          : [m.i16x8.extend_low_i8x16_u, m.i16x8.extend_high_i8x16_u];
        return ext[r](x());
      }
      return r === 3 ? m.i16x8.shr_u(x(), I.const(12)) : m.v128.and(x(), splat16(0xf << (4 * r)));
    };
    if (!keep) return { stmts: [], get: make };
    return {
      stmts: fields.map((q, r) => f.set(q, make(r))),
      get: (r) => f.get(fields[r]),
    };
  };

  /**
   * Whether weight rows row .. row + nb - 1 (the first's flat element index `elem`) take the vector
   * path: wholly inside the tensor and (below 8 bits) starting on a byte or group.
   */
  const vectorRows = (row: Val, elem: Val, nb: number): Ref => {
    let ok = I.and(
      I.and(
        I.and(I.ge_s(row(), I.const(0)), I.lt_s(I.add(row(), I.const(nb - 1)), rows())),
        I.ge_s(f.get(col0), I.const(0)),
      ),
      I.le_s(f.get(col0), I.sub(cols(), I.const(chunks * per))),
    );
    if (nibble || layout) {
      // Every row starts on a byte (fields: on a group, field 0 at bit 0): the first does, and
      // rows are whole groups apart.
      const unit = nibble ? 1 : 8 / gcd(chain.bits, 8) - 1;
      const odd = nb > 1 ? I.and(I.or(elem(), cols()), I.const(unit)) : I.and(elem(), I.const(unit));
      ok = I.and(ok, I.eqz(odd));
    }
    if (layout && layout.over > 0 && chunks > 0) {
      // The last chunk's load reads `over` bytes past it: they must lie inside the tensor (the
      // rows after the last hold at least `past` more elements).
      const last = I.add(I.add(elem(), I.mul(cols(), I.const(nb - 1))), I.const(chunks * per));
      const past = Math.ceil((8 * layout.over) / chain.bits);
      ok = I.and(ok, I.le_s(I.add(last, I.const(past)), I.mul(rows(), cols())));
    }
    return ok;
  };

  /**
   * Code for weight rows n .. n + nb - 1 (nb = NB, or 1 for the last N % NB rows). `known`: the
   * whole tile is known to take the vector path (and K is whole chunks), so the block is its
   * vector code alone, with no check and no per-row tail.
   */
  const block = (nb: number, known: boolean): Ref[] => {
    const out: Ref[] = [
      f.set(row, I.add(f.get(row0), f.get(n))),
      f.set(elem, I.add(I.mul(f.get(row), cols()), f.get(col0))),
    ];
    if (!known) out.push(f.set(fast, vectorRows(f.val(row), f.val(elem), nb)));
    const vector: Ref[] = [];
    // The block's first row's byte address; the others lie rowBytes apart.
    vector.push(f.set(addr, I.add(f.get(info.base), byteOf(f.val(elem)))));
    for (let i0 = 0; i0 < M; i0 += MB) {
      const ids = Array.from({ length: Math.min(MB, M - i0) }, (_, t) => i0 + t);
      const accOf = (t: number, r: number) => accs[t * NB + r];
      const scl = (t: number, r: number) => scaled[t * NB + r];
      const pairs = ids.flatMap((_, t) => Array.from({ length: nb }, (_, r) => [t, r] as const));
      const add = relaxed ? (p: Ref, q: Ref) => m.i16x8.add(p, q) : (p: Ref, q: Ref) => m.i32x4.add(p, q);
      /**
       * One chunk (one or two v128 of weights) of the block's weight rows added into target(t, r)
       * (`first`: set, not added, so no accumulator is zeroed first).
       */
      /** Sets the block's chunk addresses for chunk cc (rowAt reads them). */
      const chunkAddrs = (cc: number): Ref[] => [
        f.set(chunkAddr, I.add(f.get(addr), I.mul(f.get(cc), I.const(stride)))),
        ...(nb > 4 ? [f.set(chunkAddr4, I.add(f.get(chunkAddr), I.shl(f.get(rowBytes), I.const(2))))] : []),
      ];
      /**
       * Row r's chunk address, a base plus 0, 1, 2 or 3 row strides (one x86 lea each): 8 rows
       * hold 4 address registers, not 8 (V8 11.3 spilled row addresses with 8).
       */
      const rowAt = (r: number): Ref => {
        const base = f.get(r >= 4 ? chunkAddr4 : chunkAddr);
        const q = r % 4;
        if (q === 0) return base;
        if (q === 3) return I.add(base, f.get(rowBytes3));
        return I.add(base, I.shl(f.get(rowBytes), I.const(q - 1)));
      };
      const step = (cc: number, target: (t: number, r: number) => number, first = false): Ref[] => {
        const stmts: Ref[] = chunkAddrs(cc);
        const loadRow = (r: number): Ref[] => {
          const out: Ref[] = [];
          if (layout) {
            // The chunk's loads (two for 5-, 6- and 7-bit chunks; splats for 1 and 2 bits).
            layout.loads.forEach(({ at: off, size }, l) => {
              const x =
                size === 4
                  ? m.v128.load32_splat(off, 1, rowAt(r))
                  : size === 8
                    ? m.v128.load64_splat(off, 1, rowAt(r))
                    : m.v128.load(off, 1, rowAt(r));
              out.push(f.set(l === 0 ? v[r] : vx[r][l - 1], x));
            });
            return out;
          }
          let x = m.v128.load(0, 1, rowAt(r));
          if (nibble && w.signed) x = m.v128.xor(x, splat16(0x8888 - 0x10000));
          out.push(f.set(v[r], x));
          return out;
        };
        // Up to 4 rows: every row's loads first; more rows: each row's loads just before its
        // arithmetic, so the code asks for one row's weights in registers at a time (V8 may still
        // hoist loads; 8 rows of relaxed nibbles then spill 1-2 vectors, measured harmless).
        const interleave = nb > 4;
        if (!interleave) for (let r = 0; r < nb; r++) stmts.push(...loadRow(r));
        // One row of a: its planes for this chunk are loaded once for all nb weight rows.
        const shared = ids.length === 1;
        const loadPlane = (i: number, p: number) => {
          const at = xpAt(() => I.const(i), f.val(cc), p);
          return m.v128.load(at.off, 16, at.at);
        };
        const plane = (i: number, p: number) => (shared ? f.get(xpl[p]) : loadPlane(i, p));
        if (shared) {
          for (let p = 0; p < planes; p++) stmts.push(f.set(xpl[p], loadPlane(ids[0], p)));
        }
        for (let r = 0; r < nb; r++) {
          if (interleave) stmts.push(...loadRow(r));
          const loaded = [v[r], ...vx[r]].map((q) => f.val(q));
          const fl = fieldsOf(loaded, ids.length > 1);
          stmts.push(...fl.stmts);
          ids.forEach((i, t) => {
            let sum: Ref | undefined;
            for (let p = 0; p < planes; p++) {
              const d = relaxed
                ? relaxedDotI16(m, plane(i, p), fl.get(p))
                : m.i32x4.dot_i16x8_s(fl.get(p), plane(i, p));
              sum = sum === undefined ? d : add(sum, d);
            }
            stmts.push(f.set(target(t, r), first ? sum! : add(f.get(target(t, r)), sum!)));
          });
        }
        return stmts;
      };
      /**
       * Half h of chunk cc (halves): one load per weight row and its two passes. The second half
       * runs under a branch that is always taken (no address is -1): V8 hoists each basic block's
       * loads to its start, and a branch keeps the halves' loads apart (4 live, not 8: no spills).
       */
      const halfStep = (
        cc: number,
        target: (t: number, r: number) => number,
        first: boolean,
        h: number,
        spot: HalfSpot = { at: layout!.loads[h].at, swizzle: layout!.views[2 * h].swizzle!, chunk: 0 },
      ): Ref[] => {
        const L = layout!;
        const stmts: Ref[] = chunkAddrs(cc);
        for (let r = 0; r < nb; r++) stmts.push(f.set(v[r], m.v128.load(spot.at, 1, rowAt(r))));
        const shared = ids.length === 1;
        const loadPlane = (i: number, p: number) => {
          const q = xpAt(() => I.const(i), f.val(cc), planes * spot.chunk + 2 * h + p);
          return m.v128.load(q.off, 16, q.at);
        };
        if (shared) for (let p = 0; p < 2; p++) stmts.push(f.set(xpl[p], loadPlane(ids[0], p)));
        const plane = (i: number, p: number) => (shared ? f.get(xpl[p]) : loadPlane(i, p));
        const sh = L.views[1].shift!;
        const mask = () => m.v128.const(i16Bytes(L.passes[0].masks));
        for (let r = 0; r < nb; r++) {
          let y = m.i8x16.swizzle(f.get(v[r]), m.v128.const([...spot.swizzle]));
          if (signedFields) y = m.v128.xor(y, m.v128.const([...L.signs[0]]));
          const [setY, getY] = f.save(y, v128);
          const by = I.const(Math.abs(sh.by));
          const moved =
            sh.lanes === 16
              ? sh.by > 0
                ? m.i16x8.shl(getY(), by)
                : m.i16x8.shr_u(getY(), by)
              : sh.by > 0
                ? m.i64x2.shl(getY(), by)
                : m.i64x2.shr_u(getY(), by);
          stmts.push(setY);
          // Field 0 of each lane, and (after the shift) field 1; kept in locals for several rows of a.
          const keep = ids.length > 1;
          if (keep)
            stmts.push(
              f.set(fields[0], m.v128.and(getY(), mask())),
              f.set(fields[1], m.v128.and(moved, mask())),
            );
          const fieldOf = (p: number) =>
            keep ? f.get(fields[p]) : p === 0 ? m.v128.and(getY(), mask()) : m.v128.and(moved, mask());
          ids.forEach((i, t) => {
            const sum = m.i32x4.add(
              m.i32x4.dot_i16x8_s(fieldOf(0), plane(i, 0)),
              m.i32x4.dot_i16x8_s(fieldOf(1), plane(i, 1)),
            );
            stmts.push(f.set(target(t, r), first ? sum : m.i32x4.add(f.get(target(t, r)), sum)));
          });
        }
        return stmts;
      };
      /** Statements in a basic block of their own, behind a branch always taken (addr is never -1). */
      const behindTakenBranch = (stmts: Ref[]): Ref =>
        m.if(I.ne(f.get(addr), I.const(-1)), m.block(null, stmts));
      /** A whole chunk as two halves, the second behind its always-taken branch. */
      const halvesStep = (cc: number, target: (t: number, r: number) => number, first = false): Ref[] => [
        ...halfStep(cc, target, first, 0),
        behindTakenBranch(halfStep(cc, target, false, 1)),
      ];
      /**
       * A period of chunks cc .. cc + P - 1 (layout.period: 5 bits), its half chunks loaded where
       * more loads lie on 16-byte boundaries, each half but the first behind its always-taken
       * branch (halfStep).
       */
      const periodStep = (cc: number, target: (t: number, r: number) => number, first = false): Ref[] => {
        const [head, ...tail] = layout!.period!.loads.map(({ at, swizzle }, k) =>
          halfStep(cc, target, first && k === 0, k & 1, { at, swizzle, chunk: k >> 1 }),
        );
        return [...head, ...tail.map(behindTakenBranch)];
      };
      if (relaxed) {
        // i16 sums over `count` chunks, widened into the i32 accumulators by a dot with ones.
        const cc = f.local(i32);
        // `first`: the segment sets the i32 accumulators rather than adding to them (a dot of one
        // segment, as the LLM's g128 GEMV has, then needs no zeroing and no adds).
        const segment = (count: number, first: boolean): Ref[] => [
          ...pairs.map(([t, r]) => f.set(scl(t, r), m.i32x4.splat(I.const(0)))),
          ...f.repeat(
            count,
            () => step(cc, scl),
            () => f.bump(cc, 1),
          ),
          ...pairs.map(([t, r]) => {
            const wide = m.i32x4.dot_i16x8_s(f.get(scl(t, r)), f.get(ones));
            return f.set(accOf(t, r), first ? wide : m.i32x4.add(f.get(accOf(t, r)), wide));
          }),
        ];
        const whole = Math.floor(chunks / seg);
        vector.push(
          f.set(cc, I.const(0)),
          ...(whole === 1
            ? segment(seg, true)
            : [
                ...pairs.map(([t, r]) => f.set(accOf(t, r), m.i32x4.splat(I.const(0)))),
                ...f.repeat(whole, () => segment(seg, false)),
              ]),
          ...(chunks % seg > 0 ? segment(chunks % seg, whole === 0) : []),
        );
      }
      for (let c0 = 0; !relaxed && c0 < chunks; c0 += segment) {
        const count = Math.min(segment, chunks - c0);
        // Straight into the accumulators (8 bits, or scaled sums shifted down after the
        // reduction), or a segment of scaled sums, shifted down into them at its end.
        const direct = !scaledSums || lateShift;
        const target = direct ? accOf : scl;
        const cc = f.local(i32);
        const fresh = !direct || c0 === 0; // the target starts at 0 here
        const one = halves ? halvesStep : step;
        const rest = (n: number) =>
          f.repeat(
            n,
            () => one(cc, target),
            () => f.bump(cc, 1),
          );
        // The chunks stay a loop. Unrolled, V8 11.3 hoisted every load and spilled (4 chunks at
        // K = 128: 2x slower). 3 or more chunks peel the first, which sets the targets (u8: 1.15x
        // faster than zeroing them at M = 1, 2x at M = 4 and 8); 2 chunks (u2 at K = 128, peeled:
        // 1.7x slower), or scaled sums of several rows of a (u4 at M = 4 and 8: 1.03-1.1x; u3 at
        // M = 4: 1.1x), zero the targets and loop.
        // With one row of a (the GEMV, weights streamed from DRAM), a layout with a period (5
        // bits) runs whole periods, the first peeled, then the chunks left over; its halves are
        // basic blocks of their own, so nothing is hoisted across them. Several rows of a reuse
        // each weight row from cache, where plain chunks ran as fast or 1-3% faster (u5 and i5 at
        // M = 33).
        const period = halves && ids.length === 1 ? layout.period : undefined;
        const periods = period ? Math.floor(count / period.chunks) : 0;
        if (period && periods > 0) {
          const P = period.chunks;
          vector.push(
            f.set(cc, I.const(c0)),
            ...periodStep(cc, target, fresh),
            ...f.bump(cc, P),
            ...f.repeat(
              periods - 1,
              () => periodStep(cc, target),
              () => f.bump(cc, P),
            ),
            ...rest(count % P),
          );
        } else
          vector.push(
            f.set(cc, I.const(c0)),
            ...(count === 2 || (count > 1 && scaledSums && ids.length > 1)
              ? [
                  ...(fresh ? pairs.map(([t, r]) => f.set(target(t, r), m.i32x4.splat(I.const(0)))) : []),
                  ...rest(count),
                ]
              : [...one(cc, target, fresh), ...f.bump(cc, 1), ...rest(count - 1)]),
          );
        if (!direct) {
          vector.push(
            ...pairs.map(([t, r]) => {
              const down = m.i32x4.shr_s(f.get(scl(t, r)), I.const(8));
              return f.set(accOf(t, r), c0 === 0 ? down : m.i32x4.add(f.get(accOf(t, r)), down));
            }),
          );
        }
      }
      // Lane sums into `sums` (signed nibbles: less the bias, 8 sum(a)); with no K tail, straight
      // into dst (c + sum), so a fast block skips the per-row tail code entirely.
      const dstAt = (i: number, r: number) =>
        I.add(f.get(g.scratch), I.shl(I.add(I.const(i * N + r), f.get(n)), I.const(2)));
      ids.forEach((i, t) => {
        // The weights' bias times sum(a): 8 for nibbles, 2^(w - 1) for fields.
        const bias = () =>
          I.shl(
            I.load(xsum, 4, I.add(f.get(g.scratch), I.const(i * 4))),
            I.const(nibble ? 3 : chain.bits - 1),
          );
        // Whole quads of weight rows: their 4 vector sums reduced together by shuffles.
        for (let q0 = 0; q0 + 4 <= nb; q0 += 4) {
          const [a0, a1, a2, a3] = [0, 1, 2, 3].map((r) => f.val(accOf(t, q0 + r)));
          const t01 = m.i32x4.add(
            shuffle32(m, a0(), a1(), [0, 1, 4, 5]),
            shuffle32(m, a0(), a1(), [2, 3, 6, 7]),
          );
          const t23 = m.i32x4.add(
            shuffle32(m, a2(), a3(), [0, 1, 4, 5]),
            shuffle32(m, a2(), a3(), [2, 3, 6, 7]),
          );
          const [s01, get01] = f.save(t01, v128);
          const [s23, get23] = f.save(t23, v128);
          let tot = m.i32x4.add(
            shuffle32(m, get01(), get23(), [0, 2, 4, 6]),
            shuffle32(m, get01(), get23(), [1, 3, 5, 7]),
          );
          if (lateShift) tot = m.i32x4.shr_s(tot, I.const(8));
          if (signedNibbles || signedFields) tot = m.i32x4.sub(tot, m.i32x4.splat(bias()));
          if (!noTail) {
            vector.push(s01, s23, m.v128.store(0, 4, sumAt(t, q0), tot));
          } else if (acc.bits === 32) {
            const sum = cZero ? tot : m.i32x4.add(m.v128.load(cBase, 4, dstAt(i, q0)), tot);
            vector.push(s01, s23, m.v128.store(result, 4, dstAt(i, q0), sum));
          } else {
            const [st, get] = f.save(tot, v128);
            vector.push(s01, s23, st);
            for (let r = 0; r < 4; r++) {
              const sum = plusC(dstAt(i, q0 + r), m.i32x4.extract_lane(get(), r));
              vector.push(I.store(result, 4, dstAt(i, q0 + r), wrapInt(g.mod, acc, sum)));
            }
          }
        }
        // The rows past the last whole quad (a block of fewer than 4), each reduced alone.
        for (let r = nb - (nb % 4); r < nb; r++) {
          let tot = sumLanes(g, f.val(accOf(t, r)));
          if (lateShift) tot = I.shr_s(tot, I.const(8));
          if (signedNibbles || signedFields) tot = I.sub(tot, bias());
          if (!noTail) {
            vector.push(I.store(0, 4, sumAt(t, r), tot));
          } else {
            const sum = plusC(dstAt(i, r), tot);
            vector.push(I.store(result, 4, dstAt(i, r), wrapInt(g.mod, acc, sum)));
          }
        }
      });
      if (known) {
        out.push(...vector.splice(0));
        continue;
      }
      // Then per row: the scalar columns (all of them on a slow block, the tail on a fast one) and
      // dst[i, n + r] = c[i, n + r] + sum, wrapped to the accumulator's dtype.
      const tails: Ref[] = [];
      for (let r = 0; r < nb; r++) {
        const k = f.local(i32);
        const wv = f.local(i32);
        const rr = () => I.add(f.get(row), I.const(r));
        const col = () => I.add(f.get(col0), f.get(k));
        const inside = I.and(I.lt_u(rr(), rows()), I.lt_u(col(), cols()));
        const flat = I.add(I.add(f.get(elem), I.mul(cols(), I.const(r))), f.get(k));
        const loop = f.label('sub_k');
        const done = f.label('sub_k_end');
        const acc0 = ids.map(() => f.local(i32));
        tails.push(
          // With no K tail the tails run only on slow blocks: every column, from 0.
          ...ids.map((_, t) =>
            f.set(
              acc0[t],
              noTail || chunks === 0
                ? I.const(0)
                : m.select(f.get(fast), I.load(0, 4, sumAt(t, r)), I.const(0)),
            ),
          ),
          f.set(k, noTail ? I.const(0) : m.select(f.get(fast), I.const(chunks * per), I.const(0))),
          m.block(done, [
            m.loop(
              loop,
              m.block(null, [
                m.br(done, I.ge_s(f.get(k), I.const(K))),
                f.set(wv, m.if(inside, loadElement(g.mod, w, f.get(info.base), flat), I.const(0))),
                ...ids.map((i, t) =>
                  f.set(
                    acc0[t],
                    I.add(
                      f.get(acc0[t]),
                      I.mul(
                        f.get(wv),
                        I.load(
                          aBase,
                          4,
                          I.add(f.get(g.scratch), I.shl(I.add(I.const(i * K), f.get(k)), I.const(2))),
                        ),
                      ),
                    ),
                  ),
                ),
                f.set(k, I.add(f.get(k), I.const(1))),
                m.br(loop),
              ]),
            ),
          ]),
          ...ids.map((i, t) => {
            const p = () => dstAt(i, r);
            return I.store(result, 4, p(), wrapInt(g.mod, acc, plusC(p(), f.get(acc0[t]))));
          }),
        );
      }
      if (noTail) out.push(m.if(f.get(fast), m.block(null, vector.splice(0)), m.block(null, tails)));
      else out.push(...(chunks > 0 ? [m.if(f.get(fast), m.block(null, vector.splice(0)))] : []), ...tails);
    }
    return out;
  };
  // Blocks that sum columns element by element read a's scratch tile: an in-place a is loaded now.
  const aTileForTails = (): Ref[] => (aLoad ? [m.if(f.get(aInside), m.block(null, loadATile()))] : []);
  // Blocks of NB rows, then (NB = 8) one of 4, then single rows: each size reduces its whole quads
  // together.
  const sizes = NB > 4 ? [NB, 4, 1] : [NB, 1];
  const blocks = (known: boolean): Ref[] => {
    const out: Ref[] = [f.set(n, I.const(0))];
    let left = N;
    for (const size of sizes) {
      out.push(
        ...f.repeat(
          Math.floor(left / size),
          () => block(size, known),
          () => f.bump(n, size),
        ),
      );
      left %= size;
    }
    return out;
  };
  if (noTail) {
    // One check for the whole tile: when every row takes the vector path (all but edge tiles),
    // the blocks skip their own checks and tails.
    const elem0 = () => I.add(I.mul(f.get(row0), cols()), f.get(col0));
    out.push(
      m.if(
        vectorRows(f.val(row0), elem0, N),
        m.block(null, blocks(true)),
        m.block(null, [...aTileForTails(), ...blocks(false)]),
      ),
    );
  } else {
    out.push(...aTileForTails(), ...blocks(false));
  }
  if (relaxed) markRelaxedUsed(g);
  if (result !== dstBase) {
    out.push(
      m.memory.copy(
        I.add(f.get(g.scratch), I.const(dstBase)),
        I.add(f.get(g.scratch), I.const(result)),
        I.const(M * N * 4),
      ),
    );
  }
  return out;
}

/** Where a half chunk's weights are loaded: offset from the chunk cc, swizzle, chunk within the period. */
interface HalfSpot {
  readonly at: number;
  readonly swizzle: readonly number[];
  readonly chunk: number;
}

/**
 * Whether a two-load layout can run half a chunk per loop pass: views 2h and 2h + 1 are load h
 * swizzled, then shifted alike, and every pass shares one mask and one sign constant.
 */
function halfChunks(layout: FieldLayout): boolean {
  const { loads, views, passes, signs } = layout;
  if (loads.length !== 2 || views.length !== 4 || loads.some((l) => l.size !== 16)) return false;
  const same = (a: readonly number[], b: readonly number[]) => a.every((x, i) => x === b[i]);
  const shift = views[1].shift;
  return (
    shift !== undefined &&
    [0, 1].every((h) => {
      const [a, b] = [views[2 * h], views[2 * h + 1]];
      return (
        a.load === h &&
        b.load === h &&
        a.swizzle !== undefined &&
        b.swizzle !== undefined &&
        same(a.swizzle, b.swizzle) &&
        a.shift === undefined &&
        b.shift?.lanes === shift.lanes &&
        b.shift.by === shift.by
      );
    }) &&
    passes.every((p, i) => p.view === i && same(p.masks, passes[0].masks)) &&
    signs.every((s) => same(s, signs[0]))
  );
}

/** i8x16.shuffle picking 32-bit lanes (0-3 from a, 4-7 from b). */
function shuffle32(m: binaryen.Module, a: Ref, b: Ref, lanes: readonly number[]): Ref {
  return m.i8x16.shuffle(
    a,
    b,
    lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]),
  );
}

/** The sum of an i32x4's lanes. */
function sumLanes(g: Gen, x: Val): Ref {
  const I = g.m.i32;
  let s: Ref = g.m.i32x4.extract_lane(x(), 0);
  for (let lane = 1; lane < 4; lane++) s = I.add(s, g.m.i32x4.extract_lane(x(), lane));
  return s;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
