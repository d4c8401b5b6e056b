// `dot` with each thread computing all the result elements it holds together (register blocking).
//
// a [M, K] and b [K, N] are staged once, as in the per-element path. Where the result's layout puts
// element (i, j) of slot s in thread t at i = I(t) + di(s), j = J(t) + dj(s) (the slot part of the
// flat index never carries into the row: checked at compile time over every thread and slot), the
// slots are unrolled into one K loop: per k, each distinct row of a and column of b the thread needs
// is read from the scratch array once and shared by the slots that use it, and the accumulators are
// plain variables (constant indices; SwiftShader keeps dynamically indexed private arrays in memory).
//
// Exact: every element still takes c + a[i, 0] b[0, j] + a[i, 1] b[1, j] + ... in increasing k, with
// the same product, sum, cast and rounding expressions as the per-element path.
import type { Dot } from '../../ir/program.js';
import type { Gen } from './context.js';
import { binaryExpr, castExpr } from './expr.js';
import { at, type TileInfo } from './tiles.js';

/** Most result slots unrolled into one K loop (beyond that the shader grows past its use). */
const MAX_SLOTS = 64;

/** Per slot: its row and column offsets from the thread's first element; undefined if not affine. */
function slotOffsets(g: Gen, dst: TileInfo, N: number): { di: number; dj: number }[] | undefined {
  if (dst.replicated || dst.placement.kind !== 'layout' || dst.slots > MAX_SLOTS) return undefined;
  const h = g.holderOf(dst);
  const offsets: { di: number; dj: number }[] = [];
  const base0 = h.flat(0, 0);
  for (let s = 0; s < dst.slots; s++) {
    const f = h.flat(0, s);
    if (f < 0 || base0 < 0) return undefined;
    const ls = f - base0;
    offsets.push({ di: Math.floor(ls / N), dj: ls % N });
  }
  for (let t = 0; t < g.threads; t++) {
    const base = h.flat(t, 0);
    if (base < 0) return undefined;
    const bj = base % N;
    for (let s = 0; s < dst.slots; s++) {
      const { di, dj } = offsets[s];
      if (bj + dj >= N || h.flat(t, s) !== base + di * N + dj) return undefined;
    }
  }
  return offsets;
}

/** Emits `s` register-blocked when the result's layout allows it; false to fall back. */
export function emitBlockedDot(g: Gen, s: Dot, cv: (slot: string) => string): boolean {
  const a = g.tile(s.a);
  const b = g.tile(s.b);
  const dst = g.tile(s.dst);
  const [, K] = a.shape;
  const N = b.shape[1];
  const offsets = slotOffsets(g, dst, N);
  if (!offsets || offsets.length < 2) return false;
  const from = a.dtype;
  const acc = s.c.type.dtype;
  const base = g.layoutCode(dst).threadPart;
  const rows = [...new Set(offsets.map((o) => o.di))];
  const cols = [...new Set(offsets.map((o) => o.dj))];
  // Read the accumulators before staging: c may share the scratch-converted path of `operand`.
  const init = offsets.map((_, k) => cv(`${k}u`));
  const [ra, rb] = g.stage([a, b]);
  g.w.block('', () => {
    g.w.line(`let bi = ${base === '0u' || N === 1 ? base : `${base} / ${N}u`}; // the thread's first row`);
    g.w.line(`let bj = ${base === '0u' || N === 1 ? '0u' : `${base} % ${N}u`}; // and column`);
    for (const [k, v] of init.entries()) g.w.line(`var acc${k} = ${v};`);
    g.w.block(`for (var kk = 0u; kk < ${K}u; kk++)`, () => {
      for (const [r, di] of rows.entries()) {
        const flat = `(bi + ${di}u) * ${K}u + kk`;
        g.w.line(`let a${r} = ${castExpr(g.helpers, from, acc, ra.read(flat))};`);
      }
      for (const [c, dj] of cols.entries()) {
        const flat = `kk * ${N}u + bj + ${dj}u`;
        g.w.line(`let b${c} = ${castExpr(g.helpers, from, acc, rb.read(flat))};`);
      }
      for (const [k, o] of offsets.entries()) {
        const prod = binaryExpr(g.helpers, 'mul', acc, `a${rows.indexOf(o.di)}`, `b${cols.indexOf(o.dj)}`);
        g.w.line(`acc${k} = ${binaryExpr(g.helpers, 'add', acc, `acc${k}`, prod)};`);
      }
    });
    for (const k of offsets.keys()) g.w.line(`${at(dst, `${k}u`)} = acc${k};`);
  });
  g.unstage();
  return true;
}
