// Global tensors, shared tiles and views.
//
// A global tensor is its packed little-endian bit string at a byte address (docs/dtypes.md,
// Packing): element f of a k-bit dtype occupies bits [f k, (f + 1) k). Loads read the byte(s) or
// word holding it (3-, 5-, 6- and 7-bit elements may straddle two bytes); out-of-range and masked
// lanes read `other`. Stores of 8, 16 and 32 bits are plain; narrower ones update their bits in the
// containing aligned 32-bit word with an atomic compare-and-swap loop, since the block next door
// (another thread) may be writing other bits of the same word. That needs tensor addresses to be
// multiples of 4. Flat indices are i32: a tensor has fewer than 2^31 elements.
//
// Rows (the tile's last dim) that lie entirely inside the tensor with no mask move with v128 loads
// and stores for 32-bit dtypes (and 8-/16-bit integers and bf16 on loads).
import binaryen from 'binaryen';
import { type DType, isFloat } from '../../dtype.js';
import { normalize } from '../../interp/elementwise.js';
import type { LoadGlobal, LoadShared, StoreGlobal, StoreShared, View } from '../../ir/program.js';
import { numel, stridesOf } from '../../ir/shapes.js';
import type { Gen, GlobalInfo } from './context.js';
import type { Module, Ref, Val } from './fn.js';
import { decode, encode, literal, reg } from './formats.js';
import { nest, type Operand } from './nest.js';
import { i32Expr } from './scalar.js';

const { i32, none } = binaryen;

/** `(base, f) -> pattern`: the k-bit pattern of element f of the array at byte address base. */
function loadBitsHelper(g: Module, k: number): string {
  return g.helper(`load_bits${k}`, [i32, i32], i32, (f) => {
    const m = f.m;
    const I = m.i32;
    const base = () => f.get(0);
    const el = () => f.get(1);
    const mask = I.const(k === 32 ? -1 : 2 ** k - 1);
    if (k === 32) return [m.return(I.load(0, 4, I.add(base(), I.shl(el(), I.const(2)))))];
    if (k === 16) return [m.return(I.load16_u(0, 2, I.add(base(), I.shl(el(), I.const(1)))))];
    if (k === 8) return [m.return(I.load8_u(0, 1, I.add(base(), el())))];
    if (8 % k === 0) {
      const per = 8 / k;
      const byte = I.load8_u(0, 1, I.add(base(), I.shr_u(el(), I.const(Math.log2(per)))));
      const shift = I.mul(I.and(el(), I.const(per - 1)), I.const(k));
      return [m.return(I.and(I.shr_u(byte, shift), mask))];
    }
    // 8 elements are exactly k bytes: element f starts in byte (f / 8) k + ((f % 8) k) / 8.
    const q = f.local(i32);
    const addr = f.local(i32);
    const sh = f.local(i32);
    return [
      f.set(q, I.mul(I.and(el(), I.const(7)), I.const(k))),
      f.set(
        addr,
        I.add(I.add(base(), I.mul(I.shr_u(el(), I.const(3)), I.const(k))), I.shr_u(f.get(q), I.const(3))),
      ),
      f.set(sh, I.and(f.get(q), I.const(7))),
      m.return(
        I.and(
          I.shr_u(
            I.or(
              I.load8_u(0, 1, f.get(addr)),
              // The next byte only when the element reaches it (never read past the data).
              I.shl(
                I.load8_u(
                  0,
                  1,
                  m.select(
                    I.gt_u(I.add(f.get(sh), I.const(k)), I.const(8)),
                    I.add(f.get(addr), I.const(1)),
                    f.get(addr),
                  ),
                ),
                I.const(8),
              ),
            ),
            f.get(sh),
          ),
          mask,
        ),
      ),
    ];
  });
}

/** `(addr, clear, bits)`: atomically replaces the `clear` bits of the word at addr with `bits`. */
function rmwHelper(g: Module): string {
  return g.helper('rmw_bits', [i32, i32, i32], none, (f) => {
    const m = f.m;
    const I = m.i32;
    const old = f.local(i32);
    const loop = f.label('cas');
    return [
      m.loop(
        loop,
        m.block(null, [
          f.set(old, I.atomic.load(0, f.get(0))),
          m.br(
            loop,
            I.ne(
              I.atomic.rmw.cmpxchg(
                0,
                f.get(0),
                f.get(old),
                I.or(I.and(f.get(old), I.xor(f.get(1), I.const(-1))), f.get(2)),
              ),
              f.get(old),
            ),
          ),
        ]),
      ),
    ];
  });
}

/** `(base, f, pattern)`: writes the k-bit pattern of element f, leaving every other bit alone. */
function storeBitsHelper(g: Module, k: number): string {
  return g.helper(`store_bits${k}`, [i32, i32, i32], none, (f) => {
    const m = f.m;
    const I = m.i32;
    const base = () => f.get(0);
    const el = () => f.get(1);
    const p = () => f.get(2);
    if (k === 32) return [I.store(0, 4, I.add(base(), I.shl(el(), I.const(2))), p())];
    if (k === 16) return [I.store16(0, 2, I.add(base(), I.shl(el(), I.const(1))), p())];
    if (k === 8) return [I.store8(0, 1, I.add(base(), el()), p())];
    const rmw = rmwHelper(g);
    const mask = 2 ** k - 1;
    const word = f.local(i32);
    const lo = f.local(i32);
    const update = (addr: Ref, clear: Ref, bits: Ref) => m.call(rmw, [addr, clear, bits], none);
    if (32 % k === 0) {
      const per = 32 / k;
      return [
        f.set(word, I.add(base(), I.shl(I.shr_u(el(), I.const(Math.log2(per))), I.const(2)))),
        f.set(lo, I.mul(I.and(el(), I.const(per - 1)), I.const(k))),
        update(f.get(word), I.shl(I.const(mask), f.get(lo)), I.shl(p(), f.get(lo))),
      ];
    }
    // 32 elements are exactly k words; an element may straddle two of them.
    const q = f.local(i32);
    return [
      f.set(q, I.mul(I.and(el(), I.const(31)), I.const(k))),
      f.set(
        word,
        I.add(
          I.add(base(), I.mul(I.shr_u(el(), I.const(5)), I.const(4 * k))),
          I.shl(I.shr_u(f.get(q), I.const(5)), I.const(2)),
        ),
      ),
      f.set(lo, I.and(f.get(q), I.const(31))),
      update(f.get(word), I.shl(I.const(mask), f.get(lo)), I.shl(p(), f.get(lo))),
      m.if(
        I.gt_u(I.add(f.get(lo), I.const(k)), I.const(32)),
        update(
          I.add(f.get(word), I.const(4)),
          I.shr_u(I.const(mask), I.sub(I.const(32), f.get(lo))),
          I.shr_u(p(), I.sub(I.const(32), f.get(lo))),
        ),
      ),
    ];
  });
}

/** The register value of element `el` of a `d` array at byte address `base`. */
export function loadElement(g: Module, d: DType, base: Ref, el: Ref): Ref {
  const p = g.call(loadBitsHelper(g, d.bits), [base, el], i32);
  return decode(g, d, p);
}

/** Stores register value `x` of dtype `d` as element `el` of the array at byte address `base`. */
export function storeElement(g: Module, d: DType, base: Ref, el: Ref, x: Ref): Ref {
  return g.call(storeBitsHelper(g, d.bits), [base, el, encode(g, d, x)], none);
}

interface Walk {
  /** Whether the current row lies inside the tensor on every dim but the last. */
  valid: Val;
  /** Flat tensor index of the row's element 0 on the last dim (offset not yet added). */
  rowBase: Val;
  /** Flat tile index of the row's first element. */
  row: Val;
}

/**
 * Walks the rows of a tile at `offsets` in tensor `info`: `inner` emits one row (the tile's last
 * dim). A rank-0 tile is one row of one element.
 */
function walkRows(
  g: Gen,
  info: GlobalInfo,
  offsets: readonly number[],
  tileShape: readonly number[],
  inner: (w: Walk) => Ref[],
): Ref[] {
  const { f, m } = g;
  const I = m.i32;
  const R = info.p.shape.length;
  const t = tileShape.length;
  const lead = R - t;
  const out: Ref[] = [];
  // Leading dims stay at their offsets.
  let valid: Ref = I.const(1);
  let base: Ref = I.const(0);
  for (let d = 0; d < lead; d++) {
    valid = I.and(valid, I.lt_u(f.get(offsets[d]), f.get(info.dims[d])));
    base = I.add(base, I.mul(f.get(offsets[d]), f.get(info.strides[d])));
  }
  const [setValid, valid0] = f.save(valid, i32);
  const [setBase, base0] = f.save(base, i32);
  const row = f.local(i32);
  out.push(setValid, setBase, f.set(row, I.const(0)));
  const rowLen = t === 0 ? 1 : tileShape[t - 1];
  const level = (td: number, v: Val, b: Val): Ref[] => {
    if (td >= t - 1) {
      return [...inner({ valid: v, rowBase: b, row: f.val(row) }), ...f.bump(row, rowLen)];
    }
    const d = lead + td;
    const idx = f.local(i32);
    const v2 = f.local(i32);
    const b2 = f.local(i32);
    return f.repeat(tileShape[td], (i) => [
      f.set(idx, I.add(f.get(offsets[d]), i())),
      f.set(v2, I.and(v(), I.lt_u(f.get(idx), f.get(info.dims[d])))),
      f.set(b2, I.add(b(), I.mul(f.get(idx), f.get(info.strides[d])))),
      ...level(td + 1, f.val(v2), f.val(b2)),
    ]);
  };
  out.push(...level(0, valid0, base0));
  return out;
}

/** Offsets into locals. */
function offsetLocals(g: Gen, offsets: LoadGlobal['offsets'], out: Ref[]): number[] {
  return offsets.map((o) => {
    const i = g.f.local(i32);
    out.push(g.f.set(i, i32Expr(g, o)));
    return i;
  });
}

/** Whether the row [off, off + n) of the last dim is inside the tensor (no overflow for n <= 2^30). */
function rowInside(g: Gen, w: Walk, off: Val, dim: Val, n: number): Ref {
  const I = g.m.i32;
  return I.and(I.and(w.valid(), I.ge_s(off(), I.const(0))), I.le_s(off(), I.sub(dim(), I.const(n))));
}

function isBf16(d: DType): boolean {
  return d.kind === 'float' && d.exponentBits === 8 && d.mantissaBits === 7;
}

/** Whether `vectorLoad` handles dtype d. */
function canVectorLoad(d: DType): boolean {
  return d.bits === 32 || (d.kind === 'int' && (d.bits === 8 || d.bits === 16)) || isBf16(d);
}

/**
 * 4 elements of dtype d at address `addr` + `offset` (a load's constant offset) as v128 register
 * lanes (for `canVectorLoad` dtypes).
 */
function vectorLoad(g: Gen, d: DType, addr: () => Ref, offset = 0): Ref {
  const m = g.m;
  if (d.bits === 32) return m.v128.load(offset, 4, addr());
  if (d.kind === 'int' && d.bits === 16)
    return (d.signed ? m.v128.load16x4_s : m.v128.load16x4_u)(offset, 2, addr());
  if (d.kind === 'int' && d.bits === 8) {
    const bytes = m.v128.load32_zero(offset, 1, addr());
    return d.signed
      ? m.i32x4.extend_low_i16x8_s(m.i16x8.extend_low_i8x16_s(bytes))
      : m.i32x4.extend_low_i16x8_u(m.i16x8.extend_low_i8x16_u(bytes));
  }
  return m.i32x4.shl(m.v128.load16x4_u(offset, 2, addr()), m.i32.const(16)); // bf16
}

/** Whether a tile at `offsets` lies inside its tensor on every dim, and its origin's flat index. */
function tilePlace(
  g: Gen,
  info: GlobalInfo,
  offsets: readonly number[],
  shape: readonly number[],
): { inside: Ref; origin: Ref } {
  const { f, m } = g;
  const I = m.i32;
  const lead = info.p.shape.length - shape.length;
  let inside: Ref = I.const(1);
  let origin: Ref = I.const(0);
  offsets.forEach((o, dim) => {
    origin = I.add(origin, I.mul(f.get(o), f.get(info.strides[dim])));
    inside = I.and(
      inside,
      dim < lead
        ? I.lt_u(f.get(o), f.get(info.dims[dim]))
        : I.and(
            I.ge_s(f.get(o), I.const(0)),
            I.le_s(f.get(o), I.sub(f.get(info.dims[dim]), I.const(shape[dim - lead]))),
          ),
    );
  });
  return { inside, origin };
}

/**
 * An unmasked global load read in place (dot-inplace.ts): `code` evaluates the offsets, `inside`
 * tests that the whole tile lies inside the tensor, `address` is the tile origin's byte address
 * (meaningful when inside: the flat index is then below 2^31) and `rowBytes` the byte stride of the
 * tile's second-to-last dim.
 */
export function inPlaceTile(
  g: Gen,
  s: LoadGlobal,
): { code: Ref[]; inside: Ref; address: Ref; rowBytes: Ref } {
  const { f, m } = g;
  const I = m.i32;
  const info = g.globals.get(s.param)!;
  const shape = s.dst.type.shape;
  const bytes = s.dst.type.dtype.bits / 8;
  const code: Ref[] = [];
  const offsets = offsetLocals(g, s.offsets, code);
  const { inside, origin } = tilePlace(g, info, offsets, shape);
  const R = info.p.shape.length;
  return {
    code,
    inside,
    address: I.add(f.get(info.base), I.mul(origin, I.const(bytes))),
    rowBytes: I.mul(f.get(info.strides[R - 2]), I.const(bytes)),
  };
}

/**
 * The load of an unmasked tile when it lies inside its tensor on every dim: `inside` (the test, read
 * from the offset locals) and the copy, whose rows are walked with byte pointers and whose chunks
 * are unrolled with constant load and store offsets, with no per-row range checks. Undefined when
 * rows are too short for v128 or the dtype has no v128 load.
 */
function wholeTileLoad(
  g: Gen,
  info: GlobalInfo,
  offsets: readonly number[],
  shape: readonly number[],
  d: DType,
  dst: number,
): { inside: Ref; code: Ref[] } | undefined {
  const { f, m } = g;
  const I = m.i32;
  const t = shape.length;
  const n = t === 0 ? 1 : shape[t - 1];
  if (n < 4 || !canVectorLoad(d)) return undefined;
  const R = info.p.shape.length;
  const lead = R - t;
  const bytes = d.bits / 8;
  const { inside, origin } = tilePlace(g, info, offsets, shape);
  const src = f.local(i32);
  const to = f.local(i32);
  const code: Ref[] = [
    // Inside, the origin's flat index is below 2^31, so the i32 arithmetic does not wrap.
    f.set(src, I.add(f.get(info.base), I.mul(origin, I.const(bytes)))),
    f.set(to, f.get(g.scratch)),
  ];
  const r = reg(d);
  const chunks = Math.floor(n / 4);
  const row = (s: number, q: number): Ref[] => [
    ...Array.from({ length: chunks }, (_, j) =>
      m.v128.store(dst + 16 * j, 4, f.get(q), vectorLoad(g, d, f.val(s), 4 * bytes * j)),
    ),
    ...Array.from({ length: n % 4 }, (_, e) =>
      (r === 'f32' ? m.f32.store : I.store)(
        dst + 4 * (4 * chunks + e),
        4,
        f.get(q),
        loadElement(g.mod, d, f.get(s), I.const(4 * chunks + e)),
      ),
    ),
  ];
  // Tile dims above the row: loops, each level walking from copies of the pointers.
  const level = (td: number, s: number, q: number): Ref[] => {
    if (td >= t - 1) return row(s, q);
    const s2 = f.local(i32);
    const q2 = f.local(i32);
    const below = shape.slice(td + 1).reduce((a, b) => a * b, 1);
    return f.repeat(
      shape[td],
      () => [f.set(s2, f.get(s)), f.set(q2, f.get(q)), ...level(td + 1, s2, q2)],
      () => [
        f.set(s, I.add(f.get(s), I.mul(f.get(info.strides[lead + td]), I.const(bytes)))),
        ...f.bump(q, 4 * below),
      ],
    );
  };
  code.push(...level(0, src, to));
  return { inside, code };
}

export function emitLoadGlobal(g: Gen, s: LoadGlobal): Ref[] {
  const { f, m } = g;
  const I = m.i32;
  const info = g.globals.get(s.param)!;
  const d = s.dst.type.dtype;
  const shape = s.dst.type.shape;
  const R = info.p.shape.length;
  const dst = g.buf(s.dst);
  const mask = s.mask ? g.buf(s.mask) : undefined;
  const other = normalize(d, s.other ?? 0);
  const out: Ref[] = [];
  const offsets = offsetLocals(g, s.offsets, out);
  const n = shape.length === 0 ? 1 : shape[shape.length - 1];
  const r = reg(d);
  const storeReg = (el: Ref, value: Ref) =>
    (r === 'f32' ? m.f32.store : I.store)(dst, 4, I.add(f.get(g.scratch), I.shl(el, I.const(2))), value);
  const whole = mask === undefined ? wholeTileLoad(g, info, offsets, shape, d, dst) : undefined;
  const rows = walkRows(g, info, offsets, shape, (w) => {
    const off = shape.length === 0 ? () => I.const(0) : f.val(offsets[R - 1]);
    const dim = shape.length === 0 ? () => I.const(1) : f.val(info.dims[R - 1]);
    const lanes = f.repeat(n, (j) => {
      const i = () => I.add(off(), j());
      let ok = I.and(w.valid(), I.lt_u(i(), dim()));
      if (mask !== undefined) {
        ok = I.and(ok, I.load(mask, 4, I.add(f.get(g.scratch), I.shl(I.add(w.row(), j()), I.const(2)))));
      }
      const value = m.if(
        ok,
        loadElement(g.mod, d, f.get(info.base), I.add(w.rowBase(), i())),
        literal(g.mod, d, other),
      );
      return [storeReg(I.add(w.row(), j()), value)];
    });
    if (mask === undefined && d.bits < 8 && (n * d.bits) % 32 === 0) {
      // A whole row inside the tensor that starts on a word: read word by word, each element
      // shifted out at a constant position (no per-element address, bounds or byte loads).
      const packed = unpackedRow(g, d, n, info.base, () => I.add(w.rowBase(), off()), dst, w.row);
      const owns = ownsWords(g, w, off, dim, n, d.bits);
      return [m.if(owns, m.block(null, packed), m.block(null, lanes))];
    }
    const vec = mask === undefined && n >= 4 && canVectorLoad(d);
    if (!vec) return lanes;
    // A whole row inside the tensor: 4 elements per v128.
    const src = f.local(i32);
    const to = f.local(i32);
    const bytes = d.bits / 8;
    const fast = [
      f.set(src, I.add(f.get(info.base), I.mul(I.add(w.rowBase(), off()), I.const(bytes)))),
      f.set(to, I.add(f.get(g.scratch), I.shl(w.row(), I.const(2)))),
      ...f.repeat(
        Math.floor(n / 4),
        () => [m.v128.store(dst, 4, f.get(to), vectorLoad(g, d, f.val(src)))],
        () => [...f.bump(src, 4 * bytes), ...f.bump(to, 16)],
      ),
      ...f.repeat(
        n % 4,
        () => [
          (r === 'f32' ? m.f32.store : I.store)(
            dst,
            4,
            f.get(to),
            loadElement(g.mod, d, f.get(src), I.const(0)),
          ),
        ],
        () => [...f.bump(src, bytes), ...f.bump(to, 4)],
      ),
    ];
    return [m.if(rowInside(g, w, off, dim, n), m.block(null, fast), m.block(null, lanes))];
  });
  // A whole tile inside its tensor skips the per-row checks (most tiles of a tiled kernel).
  if (whole) out.push(m.if(whole.inside, m.block(null, whole.code), m.block(null, rows)));
  else out.push(...rows);
  return out;
}

export function emitStoreGlobal(g: Gen, s: StoreGlobal): Ref[] {
  const { f, m } = g;
  const I = m.i32;
  const info = g.globals.get(s.param)!;
  const d = s.src.type.dtype;
  const shape = s.src.type.shape;
  const R = info.p.shape.length;
  const src = g.buf(s.src);
  const mask = s.mask ? g.buf(s.mask) : undefined;
  const out: Ref[] = [];
  const offsets = offsetLocals(g, s.offsets, out);
  const n = shape.length === 0 ? 1 : shape[shape.length - 1];
  const r = reg(d);
  const readReg = (el: Ref) =>
    (r === 'f32' ? m.f32.load : I.load)(src, 4, I.add(f.get(g.scratch), I.shl(el, I.const(2))));
  out.push(
    ...walkRows(g, info, offsets, shape, (w) => {
      const off = shape.length === 0 ? () => I.const(0) : f.val(offsets[R - 1]);
      const dim = shape.length === 0 ? () => I.const(1) : f.val(info.dims[R - 1]);
      const lanes = f.repeat(n, (j) => {
        const i = () => I.add(off(), j());
        let ok = I.and(w.valid(), I.lt_u(i(), dim()));
        if (mask !== undefined) {
          ok = I.and(ok, I.load(mask, 4, I.add(f.get(g.scratch), I.shl(I.add(w.row(), j()), I.const(2)))));
        }
        return [
          m.if(
            ok,
            storeElement(g.mod, d, f.get(info.base), I.add(w.rowBase(), i()), readReg(I.add(w.row(), j()))),
          ),
        ];
      });
      if (mask === undefined && d.bits < 8 && (n * d.bits) % 32 === 0) {
        // A whole row inside the tensor that starts on a word: its words hold its elements only, so
        // they are packed in registers and stored plainly (no compare-and-swap per element).
        const packed = packedRow(g, d, n, info.base, () => I.add(w.rowBase(), off()), src, w.row);
        const owns = ownsWords(g, w, off, dim, n, d.bits);
        return [m.if(owns, m.block(null, packed), m.block(null, lanes))];
      }
      if (mask !== undefined || n < 4 || d.bits !== 32) return lanes;
      // A whole row inside the tensor: 4 elements per v128 (f32 NaN made canonical, as encode does).
      const to = f.local(i32);
      const from = f.local(i32);
      const v = f.local(binaryen.v128);
      const canonical = isFloat(d)
        ? m.v128.bitselect(m.i32x4.splat(I.const(0x7fc00000)), f.get(v), m.f32x4.ne(f.get(v), f.get(v)))
        : f.get(v);
      const fast = [
        f.set(to, I.add(f.get(info.base), I.shl(I.add(w.rowBase(), off()), I.const(2)))),
        f.set(from, I.add(f.get(g.scratch), I.shl(w.row(), I.const(2)))),
        ...f.repeat(
          Math.floor(n / 4),
          () => [f.set(v, m.v128.load(src, 4, f.get(from))), m.v128.store(0, 4, f.get(to), canonical)],
          () => [...f.bump(to, 16), ...f.bump(from, 16)],
        ),
        ...f.repeat(
          n % 4,
          () => [
            storeElement(
              g.mod,
              d,
              f.get(to),
              I.const(0),
              (r === 'f32' ? m.f32.load : I.load)(src, 4, f.get(from)),
            ),
          ],
          () => [...f.bump(to, 4), ...f.bump(from, 4)],
        ),
      ];
      return [m.if(rowInside(g, w, off, dim, n), m.block(null, fast), m.block(null, lanes))];
    }),
  );
  return out;
}

/**
 * Loads `n` elements of a sub-byte dtype from the tensor's elements at `start`, which begins a 32-bit
 * word, into scratch registers from `row`: per unit of whole words (packedRow's), the words are read
 * once and each element's bits taken at its constant position (from two words where it straddles).
 */
function unpackedRow(g: Gen, d: DType, n: number, base: number, start: Val, dst: number, row: Val): Ref[] {
  const { f, m } = g;
  const I = m.i32;
  const k = d.bits;
  const { unit, words } = wordUnit(d, n);
  const from = f.local(i32);
  const to = f.local(i32);
  const w = Array.from({ length: words }, () => f.local(i32));
  const write = (j: number, value: Ref) =>
    (reg(d) === 'f32' ? m.f32.store : I.store)(dst + 4 * j, 4, f.get(to), value);
  const pattern = (j: number): Ref => {
    const bit = j * k;
    const wi = bit >> 5;
    const lo = bit & 31;
    const first = lo === 0 ? f.get(w[wi]) : I.shr_u(f.get(w[wi]), I.const(lo));
    const bits = lo + k > 32 ? I.or(first, I.shl(f.get(w[wi + 1]), I.const(32 - lo))) : first;
    return lo + k === 32 ? bits : I.and(bits, I.const(2 ** k - 1));
  };
  return [
    f.set(from, I.add(f.get(base), startByte(g, start, k))),
    f.set(to, I.add(f.get(g.scratch), I.shl(row(), I.const(2)))),
    ...f.repeat(
      n / unit,
      () => [
        ...w.map((local, wi) => f.set(local, I.load(4 * wi, 4, f.get(from)))),
        ...Array.from({ length: unit }, (_, j) => write(j, decode(g.mod, d, pattern(j)))),
      ],
      () => [...f.bump(from, 4 * words), ...f.bump(to, 4 * unit)],
    ),
  ];
}

/**
 * The fewest elements of a sub-byte dtype that fill whole 32-bit words (32 / gcd(bits, 32)) and
 * their words; `n` (a row) must be a whole number of them.
 */
function wordUnit(d: DType, n: number): { unit: number; words: number } {
  const unit = 32 / (d.bits & -d.bits);
  if (n % unit !== 0) throw new Error(`internal: a row of ${n} ${d.name} elements is not whole words`);
  return { unit, words: (unit * d.bits) / 32 };
}

/**
 * Whether a row of `n` elements from `off` lies inside the tensor and starts on a 32-bit word, so it
 * owns every bit of its words (rows of whole words only: n * bits a multiple of 32).
 */
function ownsWords(g: Gen, w: Walk, off: Val, dim: Val, n: number, bits: number): Ref {
  const I = g.m.i32;
  const start = I.add(w.rowBase(), off());
  const aligned = I.eqz(I.and(I.mul(I.and(start, I.const(31)), I.const(bits)), I.const(31)));
  return I.and(rowInside(g, w, off, dim, n), aligned);
}

/** The byte offset of element `start` of a `k`-bit array, `start` on a word: (start * k) / 8. */
function startByte(g: Gen, start: Val, k: number): Ref {
  const I = g.m.i32;
  // Without forming start * k, which may pass 2^31 for large tensors.
  return I.add(
    I.mul(I.shr_u(start(), I.const(5)), I.const(4 * k)),
    I.shr_u(I.mul(I.and(start(), I.const(31)), I.const(k)), I.const(3)),
  );
}

/**
 * Stores `n` register values (scratch elements from `row`) of a sub-byte dtype as the packed bits of
 * the tensor's elements from `start`, which begins a 32-bit word: units of the fewest elements that
 * fill whole words (32 / bits for 1, 2, 4 bits: one word; 16 for 6 bits: 3 words; 32 for 3, 5, 7
 * bits: `bits` words, some elements straddling two), each word assembled in a register and written
 * with one i32.store.
 */
function packedRow(g: Gen, d: DType, n: number, base: number, start: Val, src: number, row: Val): Ref[] {
  const { f, m } = g;
  const I = m.i32;
  const k = d.bits;
  const { unit, words } = wordUnit(d, n);
  const to = f.local(i32);
  const from = f.local(i32);
  const patterns = Array.from({ length: unit }, () => f.local(i32));
  // `src` is the tile's byte offset in scratch, a constant offset of the load.
  const read = (j: number) => (reg(d) === 'f32' ? m.f32.load : I.load)(src + 4 * j, 4, f.get(from));
  const word = (wi: number): Ref => {
    let v: Ref | undefined;
    for (let j = 0; j < unit; j++) {
      const lo = j * k - 32 * wi;
      if (lo >= 32 || lo + k <= 0) continue;
      const part =
        lo >= 0 ? I.shl(f.get(patterns[j]), I.const(lo)) : I.shr_u(f.get(patterns[j]), I.const(-lo));
      v = v === undefined ? part : I.or(v, part);
    }
    return v as Ref;
  };
  return [
    f.set(to, I.add(f.get(base), startByte(g, start, k))),
    f.set(from, I.add(f.get(g.scratch), I.shl(row(), I.const(2)))),
    ...f.repeat(
      n / unit,
      () => [
        ...patterns.map((p, j) => f.set(p, encode(g.mod, d, read(j)))),
        ...Array.from({ length: words }, (_, wi) => I.store(4 * wi, 4, f.get(to), word(wi))),
      ],
      () => [...f.bump(to, 4 * words), ...f.bump(from, 4 * unit)],
    ),
  ];
}

/** Element offset of a region of a shared tile: sum of offsets times the shared tile's strides. */
function regionStart(g: Gen, sharedShape: readonly number[], offsets: LoadShared['offsets']): Ref {
  const I = g.m.i32;
  const strides = stridesOf(sharedShape);
  let start: Ref = I.const(0);
  offsets.forEach((o, d) => {
    start = I.add(start, I.mul(i32Expr(g, o), I.const(strides[d])));
  });
  return start;
}

function copyRegion(g: Gen, regShape: readonly number[], to: Operand, from: Operand, pad: boolean): Ref[] {
  return nest(g.f, g.scratch, regShape, [to, from], (at) => [at.store(0, 'i32', at.load(1, 'i32'))], {
    vector: true,
    pad,
  });
}

export function emitLoadShared(g: Gen, s: LoadShared): Ref[] {
  const shape = s.dst.type.shape;
  const shared = s.src.type.shape;
  return copyRegion(
    g,
    shape,
    { base: g.buf(s.dst), strides: stridesOf(shape) },
    { base: g.buf(s.src), strides: stridesOf(shared), start: regionStart(g, shared, s.offsets) },
    true,
  );
}

export function emitStoreShared(g: Gen, s: StoreShared): Ref[] {
  const shape = s.src.type.shape;
  const shared = s.dst.type.shape;
  return copyRegion(
    g,
    shape,
    { base: g.buf(s.dst), strides: stridesOf(shared), start: regionStart(g, shared, s.offsets) },
    { base: g.buf(s.src), strides: stridesOf(shape) },
    false,
  );
}

/**
 * view: the tile's elements packed as its dtype's bit string into a scratch buffer, then read back
 * as the other dtype (rows keep their bit counts, so the whole tile's bit string is the same).
 */
export function emitView(g: Gen, s: View): Ref[] {
  const { f, m } = g;
  const I = m.i32;
  const from = s.src.type.dtype;
  const to = s.dst.type.dtype;
  const nIn = numel(s.src.type.shape);
  const nOut = numel(s.dst.type.shape);
  const src = g.buf(s.src);
  const bytes = Math.ceil((nIn * from.bits) / 8);
  const packed = g.alloc(bytes + 8);
  const out = g.buf(s.dst) === src ? g.alloc(nOut * 4) : g.buf(s.dst);
  const addr = () => I.add(f.get(g.scratch), I.const(packed));
  const el = (base: number, i: Val) => I.add(f.get(g.scratch), I.add(I.const(base), I.shl(i(), I.const(2))));
  const stmts: Ref[] = [
    ...f.repeat(nIn, (i) => [
      storeElement(g.mod, from, addr(), i(), (reg(from) === 'f32' ? m.f32.load : I.load)(0, 4, el(src, i))),
    ]),
    ...f.repeat(nOut, (i) => [
      (reg(to) === 'f32' ? m.f32.store : I.store)(0, 4, el(out, i), loadElement(g.mod, to, addr(), i())),
    ]),
  ];
  if (out !== g.buf(s.dst)) stmts.push(...copyTile(g, g.buf(s.dst), out, nOut));
  return stmts;
}

/** Copies n elements between scratch buffers. */
export function copyTile(g: Gen, to: number, from: number, n: number): Ref[] {
  return copyRegion(g, [n], { base: to, strides: [1] }, { base: from, strides: [1] }, true);
}
