// The frame shared by the two packed integer dots: dot.ts packs operands as i16 lanes for
// i32x4.dot_i16x8_s, relaxed.ts as i8 lanes for i16x8.relaxed_dot_i8x16_i7x16_s. Both pack a's rows
// and b's columns K-contiguous, zero-padded to whole v128 chunks, walk each row in blocks of up to
// 4 columns, add each block's i32 lane sums to c and wrap them to the accumulator's width. Only the
// inner product loop (the `block` callback) differs between them.
import binaryen from 'binaryen';
import type { IntDType } from '../../dtype.js';
import type { Dot } from '../../ir/program.js';
import type { Gen } from './context.js';
import type { Ref, Val } from './fn.js';
import { wrapInt } from './formats.js';

const { i32 } = binaryen;

/** Bytes per packed operand element: 2 (i16 lanes) or 1 (i8 lanes). */
export type PackedLaneBytes = 1 | 2;

/** Columns of b per block: each packed chunk of a's row is loaded once for all of them. */
export const PACKED_DOT_COLS = 4;

/** Scratch offsets and shape of a packed integer dot, and the code that packed its operands. */
export interface PackedIntDot {
  readonly M: number;
  readonly N: number;
  /** K rounded up to whole v128 chunks of packed lanes. */
  readonly paddedK: number;
  readonly acc: IntDType;
  readonly c: number;
  /** a's rows, M x paddedK lanes. */
  readonly packedA: number;
  /** b's columns (b transposed), N x paddedK lanes. */
  readonly packedB: number;
  /** M x N i32: dst may share a buffer with c, a or b, so sums land here first. */
  readonly result: number;
  /** The scratch address of element `elem` in elements of 2^shift bytes. */
  readonly at: (elem: Ref, shift: number) => Ref;
  /** Zeroes the padding and fills packedA and packedB. */
  readonly code: Ref[];
}

/** Allocates the buffers of integer dot s and packs its operands into lanes of `laneBytes`. */
export function packIntDot(g: Gen, s: Dot, laneBytes: PackedLaneBytes): PackedIntDot {
  const { f, m } = g;
  const I = m.i32;
  const [M, K] = s.a.type.shape;
  const N = s.b.type.shape[1];
  const acc = s.c.type.dtype;
  if (acc.kind !== 'int') throw new Error('internal: integer dot into a non-integer accumulator');
  const lanes = 16 / laneBytes;
  const laneShift = laneBytes === 2 ? 1 : 0;
  const chunkShift = laneBytes === 2 ? 3 : 4; // log2(lanes)
  const paddedK = Math.ceil(K / lanes) * lanes;
  const a = g.buf(s.a);
  const b = g.buf(s.b);
  const c = g.buf(s.c);
  const packedA = g.alloc(M * paddedK * laneBytes);
  const packedB = g.alloc(N * paddedK * laneBytes);
  const result = g.alloc(M * N * 4);
  const at = (elem: Ref, shift: number) => I.add(f.get(g.scratch), I.shl(elem, I.const(shift)));
  const storeLane = (offset: number, ptr: Ref, value: Ref) =>
    laneBytes === 2 ? I.store16(offset, 2, ptr, value) : I.store8(offset, 1, ptr, value);
  const code: Ref[] = [];
  if (paddedK !== K) {
    for (const [base, rows] of [
      [packedA, M],
      [packedB, N],
    ] as const) {
      code.push(
        m.memory.fill(
          I.add(f.get(g.scratch), I.const(base)),
          I.const(0),
          I.const(rows * paddedK * laneBytes),
        ),
      );
    }
  }
  // a rows: each chunk's i32 elements narrow to one vector of lanes (values fit, so saturation never acts).
  code.push(
    ...f.repeat(M, (i) => {
      const row = f.local(i32);
      const src = (kc: Val, q: number) =>
        m.v128.load(a + q * 16, 4, at(I.add(f.get(row), I.shl(kc(), I.const(chunkShift))), 2));
      const narrowChunk = (kc: Val) =>
        laneBytes === 2
          ? m.i16x8.narrow_i32x4_s(src(kc, 0), src(kc, 1))
          : m.i8x16.narrow_i16x8_s(
              m.i16x8.narrow_i32x4_s(src(kc, 0), src(kc, 1)),
              m.i16x8.narrow_i32x4_s(src(kc, 2), src(kc, 3)),
            );
      return [
        f.set(row, I.mul(i(), I.const(K))),
        ...f.repeat(Math.floor(K / lanes), (kc) => [
          m.v128.store(
            packedA,
            laneBytes,
            at(I.add(I.mul(i(), I.const(paddedK)), I.shl(kc(), I.const(chunkShift))), laneShift),
            narrowChunk(kc),
          ),
        ]),
        ...f.repeat(K % lanes, (t) => {
          const k = () => I.add(t(), I.const(K - (K % lanes)));
          return [
            storeLane(
              packedA,
              at(I.add(I.mul(i(), I.const(paddedK)), k()), laneShift),
              I.load(a, 4, at(I.add(f.get(row), k()), 2)),
            ),
          ];
        }),
      ];
    }),
  );
  // b columns, transposed.
  code.push(
    ...f.repeat(K, (k) =>
      f.repeat(N, (j) => [
        storeLane(
          packedB,
          at(I.add(I.mul(j(), I.const(paddedK)), k()), laneShift),
          I.load(b, 4, at(I.add(I.mul(k(), I.const(N)), j()), 2)),
        ),
      ]),
    ),
  );
  return { M, N, paddedK, acc, c, packedA, packedB, result, at, code };
}

/** Adds the lane sums of each i32x4 accumulator (column j0 + index) to c and stores them wrapped. */
export function storeColumnSums(g: Gen, p: PackedIntDot, accs: readonly number[], i: Val, j0: Val): Ref[] {
  const { f, m } = g;
  const I = m.i32;
  return accs.map((q, jj) => {
    const e = () => I.add(I.mul(i(), I.const(p.N)), I.add(j0(), I.const(jj)));
    let sum: Ref = I.load(p.c, 4, p.at(e(), 2));
    for (let lane = 0; lane < 4; lane++) sum = I.add(sum, m.i32x4.extract_lane(f.get(q), lane));
    return I.store(p.result, 4, p.at(e(), 2), wrapInt(g.mod, p.acc, sum));
  });
}

/**
 * Every row in blocks of PACKED_DOT_COLS columns (and one block of the rest), then the result copied
 * into dst. `block(i, j0, cols)` computes columns j0 .. j0 + cols - 1 of row i into p.result.
 */
export function eachColumnBlock(
  g: Gen,
  s: Dot,
  p: PackedIntDot,
  block: (i: Val, j0: Val, cols: number) => Ref[],
): Ref[] {
  const { f, m } = g;
  const I = m.i32;
  const { M, N } = p;
  const COLS = PACKED_DOT_COLS;
  const rows = f.repeat(M, (i) => [
    ...f.repeat(Math.floor(N / COLS), (jb) => block(i, () => I.shl(jb(), I.const(2)), COLS)),
    ...(N % COLS > 0 ? block(i, () => I.const(N - (N % COLS)), N % COLS) : []),
  ]);
  const dst = g.buf(s.dst);
  const copy = m.memory.copy(
    I.add(f.get(g.scratch), I.const(dst)),
    I.add(f.get(g.scratch), I.const(p.result)),
    I.const(M * N * 4),
  );
  return [...rows, copy];
}
