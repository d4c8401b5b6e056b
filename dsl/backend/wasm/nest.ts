// Loop nests over tiles in scratch memory. A tile op names its operands as buffers with an element
// stride per loop dim (0 for a broadcast dim); dims that every operand walks contiguously are
// merged, and the innermost loop runs on v128 (4 lanes) when every operand's inner stride is 0
// (splat) or 1 (load/store 16 bytes), with a scalar tail. A nest that merges into one dim over whole
// tiles is rounded up to a multiple of 4 lanes instead: tile buffers are padded to 16 bytes, so the
// extra lanes compute garbage no one reads (the scratch area ends with slack for over-reads). Vector
// loops of 8 chunks or more run 4 chunks per pass at constant load and store offsets (fewer pointer
// bumps and branches), then the chunks left.
import binaryen from 'binaryen';
import { stridesOf } from '../../ir/shapes.js';
import type { Fn, Ref, Reg } from './fn.js';

const { i32 } = binaryen;

/** v128 chunks per pass of a long vector loop (copies and elementwise ops of whole tiles). */
const UNROLL = 4;

export interface Operand {
  /** Byte offset of the buffer in the scratch area. */
  readonly base: number;
  /** Element stride (4-byte elements) per nest dim. */
  readonly strides: readonly number[];
  /** A dynamic element offset added to the start (an i32 expression, evaluated once). */
  readonly start?: Ref;
}

/** What a nest body sees: the current element (or 4 lanes) of every operand. */
export interface Access {
  readonly width: 1 | 4;
  /** Reads operand i at the current position (width 4: v128 load, or a splat for stride 0). */
  load(i: number, r: Reg): Ref;
  store(i: number, r: Reg, value: Ref): Ref;
  /** The byte address of operand i's current element, without its base (a local read). */
  ptr(i: number): Ref;
  /** The constant byte offset to give loads of operand i (its base). */
  base(i: number): number;
}

export interface NestOptions {
  /** The body can run 4 lanes at a time. */
  readonly vector: boolean;
  /** Every written operand is a whole tile: a one-dim nest may round up to 4 lanes. */
  readonly pad: boolean;
}

/** Drops size-1 dims and merges dims every operand walks contiguously. */
export function collapse(
  shape: readonly number[],
  ops: readonly Operand[],
): { shape: number[]; strides: number[][] } {
  const dims: { size: number; strides: number[] }[] = [];
  shape.forEach((size, d) => {
    if (size === 1) return;
    const strides = ops.map((o) => o.strides[d]);
    const last = dims[dims.length - 1];
    if (last && strides.every((s, i) => last.strides[i] === s * size)) {
      last.size *= size;
      last.strides = strides;
    } else {
      dims.push({ size, strides });
    }
  });
  return { shape: dims.map((x) => x.size), strides: ops.map((_, i) => dims.map((x) => x.strides[i])) };
}

/**
 * The loop nest over `shape` running `body` at every element of the operands. `scratch` is the
 * local holding the scratch area's address.
 */
export function nest(
  f: Fn,
  scratch: number,
  shape: readonly number[],
  ops: readonly Operand[],
  body: (at: Access) => Ref[],
  options: NestOptions,
): Ref[] {
  const m = f.m;
  const { shape: dims, strides } = collapse(shape, ops);
  const out: Ref[] = [];
  // One pointer local per operand and level, starting at scratch (+ the dynamic start).
  const top = ops.map((o) => {
    const p = f.local(i32);
    const start = o.start ? m.i32.add(f.get(scratch), m.i32.shl(o.start, m.i32.const(2))) : f.get(scratch);
    out.push(f.set(p, start));
    return p;
  });
  // `chunk`: v128 chunks past the pointers (unrolled copies of the vector loop), as load offsets.
  const access = (ptrs: readonly number[], width: 1 | 4, inner: readonly number[], chunk = 0): Access => {
    const skip = (i: number) => (width === 4 ? 16 * chunk * inner[i] : 0);
    return {
      width,
      ptr: (i) => (skip(i) === 0 ? f.get(ptrs[i]) : m.i32.add(f.get(ptrs[i]), m.i32.const(skip(i)))),
      base: (i) => ops[i].base,
      load: (i, r) => {
        const base = ops[i].base;
        if (width === 1)
          return r === 'f32' ? m.f32.load(base, 4, f.get(ptrs[i])) : m.i32.load(base, 4, f.get(ptrs[i]));
        return inner[i] === 0
          ? m.v128.load32_splat(base, 4, f.get(ptrs[i]))
          : m.v128.load(base + skip(i), 4, f.get(ptrs[i]));
      },
      store: (i, r, value) => {
        const base = ops[i].base;
        if (width === 4) return m.v128.store(base + skip(i), 4, f.get(ptrs[i]), value);
        return r === 'f32'
          ? m.f32.store(base, 4, f.get(ptrs[i]), value)
          : m.i32.store(base, 4, f.get(ptrs[i]), value);
      },
    };
  };
  const level = (d: number, ptrs: readonly number[]): Ref[] => {
    if (d === dims.length) return body(access(ptrs, 1, []));
    const n = dims[d];
    const st = strides.map((s) => s[d]);
    const innermost = d === dims.length - 1;
    const bumps = (k: number) => () => ptrs.flatMap((p, i) => f.bump(p, st[i] * 4 * k));
    if (innermost && options.vector && n >= 4 && st.every((s) => s === 0 || s === 1)) {
      const whole = dims.length === 1 && options.pad;
      const chunks = whole ? Math.ceil(n / 4) : Math.floor(n / 4);
      const tail = whole ? 0 : n % 4;
      // UNROLL chunks per pass with constant offsets, the rest straight-line (counts are constants).
      const passes = chunks >= 2 * UNROLL ? Math.floor(chunks / UNROLL) : 0;
      const unrolled = (count: number) =>
        Array.from({ length: count }, (_, u) => body(access(ptrs, 4, st, u))).flat();
      return [
        ...f.repeat(passes, () => unrolled(UNROLL), bumps(4 * UNROLL)),
        ...f.repeat(chunks - passes * UNROLL, () => body(access(ptrs, 4, st)), bumps(4)),
        ...f.repeat(tail, () => body(access(ptrs, 1, st)), bumps(1)),
      ];
    }
    if (innermost) return f.repeat(n, () => body(access(ptrs, 1, st)), bumps(1));
    // An outer dim: the level below walks from a copy of these pointers.
    const inner = ptrs.map(() => f.local(i32));
    return f.repeat(
      n,
      () => [...inner.map((q, i) => f.set(q, f.get(ptrs[i]))), ...level(d + 1, inner)],
      bumps(1),
    );
  };
  out.push(...level(0, top));
  return out;
}

/** Strides of a tile of `shape` read broadcast to `target` (right-aligned; size-1 dims stretch). */
export function broadcastStrides(shape: readonly number[], target: readonly number[]): number[] {
  const own = stridesOf(shape);
  const off = target.length - shape.length;
  return target.map((_, d) => {
    const sd = d - off;
    return sd < 0 || shape[sd] === 1 ? 0 : own[sd];
  });
}
