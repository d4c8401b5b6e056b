// dot: dst = a @ b + c. Two paths, both equal to the interpreter bit for bit:
//
// - Integer operands of at most 8 bits (signed or unsigned) into an integer accumulator: the
//   interpreter rounds every product and sum to the accumulator's width k, which is arithmetic modulo
//   2^k, so the exact i32 sum wrapped once at the end is the same value in any order. a's rows and
//   b's columns are packed as i16 (zero-padded to a multiple of 8 along K) and multiplied with
//   i32x4.dot_i16x8_s, four columns of b sharing each load of a.
// - Everything else: products and sums in the accumulator's dtype, k increasing for every element;
//   f32 and integer accumulators keep 4 columns per v128, up to 2 rows x 4 chunks of columns in
//   registers at once (each a's element splat once per row and k, each b chunk loaded once per k).
import binaryen from 'binaryen';
import type { Dot } from '../../ir/program.js';
import type { Gen } from './context.js';
import { inPlaceLoad } from './dot-inplace.js';
import { emitSubbyteDot } from './dot-subbyte.js';
import type { Ref } from './fn.js';
import { reg } from './formats.js';
import { emitLoadGlobal, inPlaceTile } from './memory.js';
import { binary, vecBinary } from './ops.js';
import { eachColumnBlock, packIntDot, storeColumnSums } from './packed-int-dot.js';
import { emitRelaxedIntDot } from './relaxed.js';

const { i32, v128 } = binaryen;

/** Converts tile `src` into a fresh buffer of dtype `to`; the conversion's code. */
export type Convert = (s: Dot, operand: 'a' | 'b') => { base: number; code: Ref[] };

/** Whether dot s takes the integer dot-product path. */
export function isIntDot(s: Dot): boolean {
  const small = (d: Dot['a']['type']['dtype']) => d.kind === 'int' && d.bits <= 8;
  return small(s.a.type.dtype) && small(s.b.type.dtype) && s.c.type.dtype.kind === 'int';
}

export function emitDot(g: Gen, s: Dot, convert: Convert): Ref[] {
  // dot-subbyte.ts: 4-/8-bit weights read in place from their global load (the load was skipped).
  const subbyte = emitSubbyteDot(g, s);
  if (subbyte) return subbyte;
  if (!isIntDot(s)) return emitDotLanes(g, s, convert);
  // relaxed.ts: with relaxedSimd, operands provably in i8 x 0..127 use the relaxed i8 dot.
  return emitRelaxedIntDot(g, s) ?? emitIntDot(g, s);
}

function emitIntDot(g: Gen, s: Dot): Ref[] {
  const { f, m } = g;
  const I = m.i32;
  const p = packIntDot(g, s, 2);
  const { packedA, packedB, paddedK: K8, at } = p;
  // Products: per row, blocks of up to 4 columns, 8 k at a time.
  const block = (i: () => Ref, j0: () => Ref, cols: number): Ref[] => {
    const accs = Array.from({ length: cols }, () => f.local(v128));
    const x = f.local(v128);
    const kc = f.local(i32);
    const stmts: Ref[] = [...accs.map((q) => f.set(q, m.i32x4.splat(I.const(0))))];
    stmts.push(
      ...f.repeat(
        K8 / 8,
        () => [
          f.set(x, m.v128.load(packedA, 2, at(I.add(I.mul(i(), I.const(K8)), f.get(kc)), 1))),
          ...accs.map((q, jj) =>
            f.set(
              q,
              m.i32x4.add(
                f.get(q),
                m.i32x4.dot_i16x8_s(
                  f.get(x),
                  m.v128.load(
                    packedB,
                    2,
                    at(I.add(I.mul(I.add(j0(), I.const(jj)), I.const(K8)), f.get(kc)), 1),
                  ),
                ),
              ),
            ),
          ),
        ],
        () => f.bump(kc, 8),
      ),
    );
    stmts.unshift(f.set(kc, I.const(0)));
    stmts.push(...storeColumnSums(g, p, accs, i, j0));
    return stmts;
  };
  return [...p.code, ...eachColumnBlock(g, s, p, block)];
}

/** Copies n 4-byte elements between scratch buffers. */
function copyWords(g: Gen, to: number, from: number, n: number): Ref {
  const I = g.m.i32;
  const f = g.f;
  return g.m.memory.copy(
    I.add(f.get(g.scratch), I.const(to)),
    I.add(f.get(g.scratch), I.const(from)),
    I.const(n * 4),
  );
}

/** Rows and 4-column chunks held in registers at once. */
const ROWS = 2;
const CHUNKS = 4;

function emitDotLanes(g: Gen, s: Dot, convert: Convert): Ref[] {
  const { f, m } = g;
  const acc = s.c.type.dtype;
  const out: Ref[] = [];
  let a = g.buf(s.a);
  if (s.a.type.dtype !== acc) {
    const ca = convert(s, 'a');
    a = ca.base;
    out.push(...ca.code);
  }
  // dot-inplace.ts: b read where its global load would have read it, when the tile is inside.
  const load = inPlaceLoad(g, s);
  if (load) {
    const t = inPlaceTile(g, load);
    const ptr = f.local(i32);
    const rowBytes = f.local(i32);
    const inPlace: BSource = { base: () => f.get(ptr), offset: 0, rowBytes: () => f.get(rowBytes) };
    out.push(
      ...t.code,
      m.if(
        t.inside,
        m.block(null, [f.set(ptr, t.address), f.set(rowBytes, t.rowBytes), ...dotLanes(g, s, a, inPlace)]),
        m.block(null, [...emitLoadGlobal(g, load), ...dotLanes(g, s, a, scratchB(g, s))]),
      ),
    );
    return out;
  }
  let bSrc = scratchB(g, s);
  if (s.b.type.dtype !== acc) {
    const cb = convert(s, 'b');
    bSrc = scratchB(g, s, cb.base);
    out.push(...cb.code);
  }
  out.push(...dotLanes(g, s, a, bSrc));
  return out;
}

/**
 * Where the dot reads b's row k, chunk q: `base() + offset + 16 q` plus k times `rowBytes()` (a
 * scratch buffer, or the tile in place in its tensor, whose rows lie a stride apart).
 */
interface BSource {
  readonly base: () => Ref;
  readonly offset: number;
  readonly rowBytes: () => Ref;
  /** b's scratch buffer (element-wise reads of the scalar columns); undefined in place. */
  readonly buf?: number;
}

function scratchB(g: Gen, s: Dot, buf = g.buf(s.b)): BSource {
  const N = s.b.type.shape[1];
  return { base: () => g.f.get(g.scratch), offset: buf, rowBytes: () => g.m.i32.const(N * 4), buf };
}

function dotLanes(g: Gen, s: Dot, a: number, bSrc: BSource): Ref[] {
  const { f, m } = g;
  const I = m.i32;
  const [M, K] = s.a.type.shape;
  const N = s.b.type.shape[1];
  const acc = s.c.type.dtype;
  const r = reg(acc);
  const out: Ref[] = [];
  const b = bSrc.buf ?? -1;
  const vadd = vecBinary(g.mod, 'add', acc);
  const vmul = vecBinary(g.mod, 'mul', acc);
  const c = g.buf(s.c);
  const dstBase = g.buf(s.dst);
  const aliased = dstBase === a || dstBase === b;
  const d = aliased ? g.alloc(M * N * 4) : dstBase;
  const at = (elem: Ref) => I.add(f.get(g.scratch), I.shl(elem, I.const(2)));
  const load = (base: number, elem: Ref) => (r === 'f32' ? m.f32.load : I.load)(base, 4, at(elem));
  const vector = vadd !== undefined && vmul !== undefined && N >= 4;
  const chunks = vector ? Math.floor(N / 4) : 0;
  const tail = N - chunks * 4;
  if (tail > 0 && bSrc.buf === undefined)
    throw new Error('internal: an in-place dot operand with scalar columns');
  /** Rows i0 .. i0 + rows - 1, chunks q0 .. q0 + count - 1, all k. */
  const tileBlock = (i0: () => Ref, rows: number, q0: number, count: number): Ref[] => {
    const accs = Array.from({ length: rows }, () => Array.from({ length: count }, () => f.local(v128)));
    const x = f.local(v128);
    const y = Array.from({ length: count }, () => f.local(v128));
    const elem = (row: number, q: number) =>
      I.add(I.mul(I.add(i0(), I.const(row)), I.const(N)), I.const((q0 + q) * 4));
    // Byte pointers to a[i0, k] and b[k, 4 q0], bumped per k; rows and chunks are constant offsets.
    const pa = f.local(i32);
    const pb = f.local(i32);
    return [
      ...accs.flatMap((rowAccs, row) =>
        rowAccs.map((q, qi) => f.set(q, m.v128.load(c, 4, at(elem(row, qi))))),
      ),
      f.set(pa, at(I.mul(i0(), I.const(K)))),
      f.set(pb, I.add(bSrc.base(), I.const(q0 * 16))),
      ...f.repeat(
        K,
        () => [
          ...y.map((yl, qi) => f.set(yl, m.v128.load(bSrc.offset + qi * 16, 4, f.get(pb)))),
          ...accs.flatMap((rowAccs, row) => [
            f.set(x, m.v128.load32_splat(a + row * K * 4, 4, f.get(pa))),
            ...rowAccs.map((q, qi) =>
              f.set(
                q,
                vadd!(f.val(q), () => vmul!(f.val(x), f.val(y[qi]))),
              ),
            ),
          ]),
        ],
        () => [...f.bump(pa, 4), f.set(pb, I.add(f.get(pb), bSrc.rowBytes()))],
      ),
      ...accs.flatMap((rowAccs, row) =>
        rowAccs.map((q, qi) => m.v128.store(d, 4, at(elem(row, qi)), f.get(q))),
      ),
    ];
  };
  const rowsBlock = (i0: () => Ref, rows: number): Ref[] => {
    const stmts: Ref[] = [];
    for (let q0 = 0; q0 < chunks; q0 += CHUNKS)
      stmts.push(...tileBlock(i0, rows, q0, Math.min(CHUNKS, chunks - q0)));
    // Scalar columns.
    for (let row = 0; row < rows; row++) {
      const i = () => I.add(i0(), I.const(row));
      stmts.push(
        ...f.repeat(tail, (jt) => {
          const j = () => I.add(jt(), I.const(chunks * 4));
          const sacc = f.local(binaryen[r]);
          const x = f.local(binaryen[r]);
          const y = f.local(binaryen[r]);
          return [
            f.set(sacc, load(c, I.add(I.mul(i(), I.const(N)), j()))),
            ...f.repeat(K, (k) => [
              f.set(x, load(a, I.add(I.mul(i(), I.const(K)), k()))),
              f.set(y, load(b, I.add(I.mul(k(), I.const(N)), j()))),
              f.set(x, binary(g.mod, 'mul', acc, f.val(x), f.val(y))),
              f.set(sacc, binary(g.mod, 'add', acc, f.val(sacc), f.val(x))),
            ]),
            (r === 'f32' ? m.f32.store : I.store)(d, 4, at(I.add(I.mul(i(), I.const(N)), j())), f.get(sacc)),
          ];
        }),
      );
    }
    return stmts;
  };
  out.push(...f.repeat(Math.floor(M / ROWS), (ib) => rowsBlock(() => I.mul(ib(), I.const(ROWS)), ROWS)));
  if (M % ROWS > 0) out.push(...rowsBlock(() => I.const(M - (M % ROWS)), M % ROWS));
  if (aliased) out.push(copyWords(g, dstBase, d, M * N));
  return out;
}
