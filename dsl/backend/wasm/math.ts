// The float ops wasm has no instruction for, as f64 helper functions: exp, expm1, log, log2, sin,
// cos, tanh, erf, pow and fmod. Inputs are f32 register values promoted to f64; results are accurate
// to a few f64 ulp (fmod exactly), so rounding them once to f32 or a narrower format gives the
// correctly rounded value except in the rare cases where the exact result lies within that error of
// a rounding boundary (docs/wasm-backend.md). Polynomials are truncated Taylor series on reduced
// ranges, with the truncation error below 2^-56 relative.
import binaryen from 'binaryen';
import type { Fn, Module, Ref } from './fn.js';

const { i32, i64, f64 } = binaryen;

const LN2 = Math.LN2;
const INV_LN2 = 1 / Math.LN2;
// ln 2 split so that k * LN2_HI is exact for |k| < 2^20 (fdlibm's split).
const LN2_HI = 0.6931471803691238;
const LN2_LO = 1.9082149292705877e-10;
// pi/2 in 33 + 53 bits for the medium-range reduction (fdlibm's pio2_1, pio2_1t).
const PIO2_1 = 1.5707963267341256;
const PIO2_1T = 6.077100506506192e-11;
const PIO2_HI = Math.PI / 2;
const PIO2_LO = 6.123233995736766e-17;
/** The first 24-bit chunks of the binary expansion of 2/pi: 2/pi = sum c_i 2^(-24 (i + 1)). */
// biome-ignore format: a table
const TWO_OVER_PI_CHUNKS = [
  0xa2f983, 0x6e4e44, 0x1529fc, 0x2757d1, 0xf534dd, 0xc0db62, 0x95993c, 0x439041, 0xfe5163, 0xabdebb,
];

function factorial(n: number): number {
  let p = 1;
  for (let i = 2; i <= n; i++) p *= i;
  return p;
}

/** Horner evaluation of sum c[i] x^i, x read from a thunk. */
function horner(f: Fn, x: () => Ref, c: readonly number[]): Ref {
  const m = f.m;
  let acc = m.f64.const(c[c.length - 1]);
  for (let i = c.length - 2; i >= 0; i--) acc = m.f64.add(m.f64.mul(acc, x()), m.f64.const(c[i]));
  return acc;
}

/** 2^k for an i32 k in [-1022, 1023], from its bits. */
function pow2(f: Fn, k: Ref): Ref {
  const m = f.m;
  return m.f64.reinterpret(m.i64.shl(m.i64.extend_s(m.i32.add(k, m.i32.const(1023))), m.i64.const(52n)));
}

/** The biased exponent field of a (normal) f64. */
function exponentField(f: Fn, x: Ref): Ref {
  const m = f.m;
  return m.i32.and(m.i32.wrap(m.i64.shr_u(m.i64.reinterpret(x), m.i64.const(52n))), m.i32.const(0x7ff));
}

function copysign(f: Fn, mag: Ref, sign: Ref): Ref {
  return f.m.f64.copysign(mag, sign);
}

export function exp64(g: Module): string {
  return g.helper('exp64', [f64], f64, (f) => {
    const m = f.m;
    const x = () => f.get(0);
    const k = f.local(f64);
    const r = f.local(f64);
    const ki = f.local(i32);
    const k1 = f.local(i32);
    const c = Array.from({ length: 14 }, (_, n) => 1 / factorial(n));
    return [
      m.if(m.f64.ne(x(), x()), m.return(x())),
      m.if(m.f64.gt(x(), m.f64.const(710)), m.return(m.f64.const(Number.POSITIVE_INFINITY))),
      m.if(m.f64.lt(x(), m.f64.const(-746)), m.return(m.f64.const(0))),
      f.set(k, m.f64.nearest(m.f64.mul(x(), m.f64.const(INV_LN2)))),
      f.set(
        r,
        m.f64.sub(
          m.f64.sub(x(), m.f64.mul(f.get(k), m.f64.const(LN2_HI))),
          m.f64.mul(f.get(k), m.f64.const(LN2_LO)),
        ),
      ),
      f.set(ki, m.i32.trunc_s_sat.f64(f.get(k))),
      f.set(k1, m.i32.shr_s(f.get(ki), m.i32.const(1))),
      // e^x = p(r) 2^k1 2^(k - k1): both factors normal however far k goes.
      m.return(
        m.f64.mul(
          m.f64.mul(
            horner(f, () => f.get(r), c),
            pow2(f, f.get(k1)),
          ),
          pow2(f, m.i32.sub(f.get(ki), f.get(k1))),
        ),
      ),
    ];
  });
}

/** e^y - 1 without cancellation near 0. */
function expm1_64(g: Module): string {
  const exp = exp64(g);
  return g.helper('expm1_64', [f64], f64, (f) => {
    const m = f.m;
    const y = () => f.get(0);
    const c = Array.from({ length: 15 }, (_, n) => 1 / factorial(n + 1));
    return [
      m.if(m.f64.lt(m.f64.abs(y()), m.f64.const(0.35)), m.return(m.f64.mul(y(), horner(f, y, c)))),
      m.return(m.f64.sub(m.call(exp, [y()], f64), m.f64.const(1))),
    ];
  });
}

export function exp2_64(g: Module): string {
  const exp = exp64(g);
  return g.helper('exp2_64', [f64], f64, (f) => {
    const m = f.m;
    const x = () => f.get(0);
    const k = f.local(f64);
    const ki = f.local(i32);
    const k1 = f.local(i32);
    return [
      m.if(m.f64.ne(x(), x()), m.return(x())),
      m.if(m.f64.gt(x(), m.f64.const(1030)), m.return(m.f64.const(Number.POSITIVE_INFINITY))),
      m.if(m.f64.lt(x(), m.f64.const(-1080)), m.return(m.f64.const(0))),
      // 2^x = 2^k e^((x - k) ln 2), x - k exact.
      f.set(k, m.f64.nearest(x())),
      f.set(ki, m.i32.trunc_s_sat.f64(f.get(k))),
      f.set(k1, m.i32.shr_s(f.get(ki), m.i32.const(1))),
      m.return(
        m.f64.mul(
          m.f64.mul(
            m.call(exp, [m.f64.mul(m.f64.sub(x(), f.get(k)), m.f64.const(LN2))], f64),
            pow2(f, f.get(k1)),
          ),
          pow2(f, m.i32.sub(f.get(ki), f.get(k1))),
        ),
      ),
    ];
  });
}

/**
 * log(x) as e ln 2 + log(m), or log2(x) as e + log(m) / ln 2, with x = m 2^e, m in [sqrt(1/2),
 * sqrt(2)); log(m) = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172.
 */
function logBase(g: Module, two: boolean): string {
  return g.helper(two ? 'log2_64' : 'log64', [f64], f64, (f) => {
    const m = f.m;
    const x = () => f.get(0);
    const e = f.local(i32);
    const mm = f.local(f64);
    const s = f.local(f64);
    const z = f.local(f64);
    const R = f.local(f64);
    const bits = f.local(i64);
    const c = Array.from({ length: 12 }, (_, n) => 1 / (2 * n + 1));
    const ed = () => m.f64.convert_s.i32(f.get(e));
    return [
      m.if(
        m.i32.eqz(m.f64.gt(x(), m.f64.const(0))),
        m.return(
          m.select(
            m.f64.eq(x(), m.f64.const(0)),
            m.f64.const(Number.NEGATIVE_INFINITY),
            m.f64.const(Number.NaN),
          ),
        ),
      ),
      m.if(m.f64.eq(x(), m.f64.const(Number.POSITIVE_INFINITY)), m.return(x())),
      f.set(e, m.i32.const(0)),
      m.if(
        m.f64.lt(x(), m.f64.const(2 ** -1022)),
        m.block(null, [f.set(0, m.f64.mul(x(), m.f64.const(2 ** 54))), f.set(e, m.i32.const(-54))]),
      ),
      f.set(bits, m.i64.reinterpret(x())),
      f.set(e, m.i32.add(f.get(e), m.i32.sub(exponentField(f, x()), m.i32.const(1023)))),
      f.set(
        mm,
        m.f64.reinterpret(
          m.i64.or(m.i64.and(f.get(bits), m.i64.const(0xfffffffffffffn)), m.i64.const(0x3ff0000000000000n)),
        ),
      ),
      m.if(
        m.f64.gt(f.get(mm), m.f64.const(Math.SQRT2)),
        m.block(null, [
          f.set(mm, m.f64.mul(f.get(mm), m.f64.const(0.5))),
          f.set(e, m.i32.add(f.get(e), m.i32.const(1))),
        ]),
      ),
      f.set(s, m.f64.div(m.f64.sub(f.get(mm), m.f64.const(1)), m.f64.add(f.get(mm), m.f64.const(1)))),
      f.set(z, m.f64.mul(f.get(s), f.get(s))),
      f.set(
        R,
        m.f64.mul(
          m.f64.mul(m.f64.const(2), f.get(s)),
          horner(f, () => f.get(z), c),
        ),
      ),
      m.return(
        two
          ? m.f64.add(ed(), m.f64.mul(f.get(R), m.f64.const(INV_LN2)))
          : m.f64.add(
              m.f64.mul(ed(), m.f64.const(LN2_HI)),
              m.f64.add(m.f64.mul(ed(), m.f64.const(LN2_LO)), f.get(R)),
            ),
      ),
    ];
  });
}

export function log64(g: Module): string {
  return logBase(g, false);
}

export function log2_64(g: Module): string {
  return logBase(g, true);
}

/** One 24-bit chunk of 2/pi by index (0 .. 9). */
function chunk(f: Fn, i: () => Ref): Ref {
  const m = f.m;
  let sel = m.f64.const(TWO_OVER_PI_CHUNKS[TWO_OVER_PI_CHUNKS.length - 1]);
  for (let j = TWO_OVER_PI_CHUNKS.length - 2; j >= 0; j--) {
    sel = m.select(m.i32.eq(i(), m.i32.const(j)), m.f64.const(TWO_OVER_PI_CHUNKS[j]), sel);
  }
  return sel;
}

/**
 * sin (cos = 0) or cos (cos = 1) of an f64 holding an f32 value. x = n pi/2 + r, |r| <= pi/4:
 * below 2^19 by x - n pio2_1 - n pio2_1t (Cody-Waite); above, x = M 2^E with a 24-bit M is
 * multiplied by 2/pi chunk by chunk (each product exact) keeping only the terms that are not
 * multiples of 4, summed in double-double (Payne-Hanek).
 */
function trig64(g: Module, cos: boolean): string {
  return g.helper(cos ? 'cos64' : 'sin64', [f64], f64, (f) => {
    const m = f.m;
    const F = m.f64;
    const x = () => f.get(0);
    const a = f.local(f64);
    const r = f.local(f64);
    const n = f.local(i32);
    const kd = f.local(f64);
    // Large path locals.
    const bits = f.local(i64);
    const E = f.local(i32);
    const Md = f.local(f64);
    const i0 = f.local(i32);
    const h = f.local(f64);
    const l = f.local(f64);
    const t = f.local(f64);
    const s = f.local(f64);
    const bb = f.local(f64);
    const q = f.local(f64);
    const z = f.local(f64);
    /** Term j (0..4) of the product, reduced modulo 4. */
    const term = (j: number): Ref => {
      const idx = () => m.i32.add(f.get(i0), m.i32.const(j));
      const shift = m.i32.sub(f.get(E), m.i32.mul(m.i32.const(24), m.i32.add(idx(), m.i32.const(1))));
      return F.mul(F.mul(f.get(Md), chunk(f, idx)), pow2(f, shift));
    };
    const mod4 = (v: Ref, into: number): Ref[] => [
      f.set(into, v),
      f.set(into, F.sub(f.get(into), F.mul(F.const(4), F.floor(F.mul(f.get(into), F.const(0.25)))))),
    ];
    /** (h, e) = twoSum(h, t); l += e. */
    const twoSum = (): Ref[] => [
      f.set(s, F.add(f.get(h), f.get(t))),
      f.set(bb, F.sub(f.get(s), f.get(h))),
      f.set(
        l,
        F.add(f.get(l), F.add(F.sub(f.get(h), F.sub(f.get(s), f.get(bb))), F.sub(f.get(t), f.get(bb)))),
      ),
      f.set(h, f.get(s)),
    ];
    const large: Ref[] = [
      f.set(bits, m.i64.reinterpret(f.get(a))),
      f.set(E, m.i32.sub(exponentField(f, f.get(a)), m.i32.const(1023 + 23))),
      // The 24-bit integer significand of the (f32) value.
      f.set(
        Md,
        F.convert_s.i32(
          m.i32.wrap(
            m.i64.shr_u(
              m.i64.or(m.i64.and(f.get(bits), m.i64.const(0xfffffffffffffn)), m.i64.const(0x10000000000000n)),
              m.i64.const(29n),
            ),
          ),
        ),
      ),
      // The first chunk whose term is not a multiple of 4: E - 24 (i + 1) < 2.
      f.set(
        i0,
        m.select(
          m.i32.gt_s(f.get(E), m.i32.const(2)),
          m.i32.div_s(m.i32.sub(f.get(E), m.i32.const(2)), m.i32.const(24)),
          m.i32.const(0),
        ),
      ),
      ...mod4(term(0), h),
      f.set(l, F.const(0)),
      ...mod4(term(1), t),
      ...twoSum(),
      f.set(t, term(2)),
      ...twoSum(),
      f.set(t, term(3)),
      ...twoSum(),
      f.set(t, term(4)),
      ...twoSum(),
      f.set(q, F.floor(f.get(h))),
      f.set(h, F.sub(f.get(h), f.get(q))),
      // Renormalize h + l, then take the fraction in [-1/2, 1/2].
      f.set(s, F.add(f.get(h), f.get(l))),
      f.set(l, F.sub(f.get(l), F.sub(f.get(s), f.get(h)))),
      f.set(h, f.get(s)),
      f.set(t, F.floor(f.get(h))),
      f.set(h, F.sub(f.get(h), f.get(t))),
      f.set(q, F.add(f.get(q), f.get(t))),
      m.if(
        F.gt(f.get(h), F.const(0.5)),
        m.block(null, [f.set(h, F.sub(f.get(h), F.const(1))), f.set(q, F.add(f.get(q), F.const(1)))]),
      ),
      f.set(
        r,
        F.add(
          F.mul(f.get(h), F.const(PIO2_HI)),
          F.add(F.mul(f.get(h), F.const(PIO2_LO)), F.mul(f.get(l), F.const(PIO2_HI))),
        ),
      ),
      f.set(
        n,
        m.i32.trunc_s_sat.f64(F.sub(f.get(q), F.mul(F.const(4), F.floor(F.mul(f.get(q), F.const(0.25)))))),
      ),
      m.if(
        F.lt(x(), F.const(0)),
        m.block(null, [f.set(r, F.neg(f.get(r))), f.set(n, m.i32.sub(m.i32.const(0), f.get(n)))]),
      ),
    ];
    const medium: Ref[] = [
      f.set(kd, F.nearest(F.mul(x(), F.const(2 / Math.PI)))),
      f.set(r, F.sub(F.sub(x(), F.mul(f.get(kd), F.const(PIO2_1))), F.mul(f.get(kd), F.const(PIO2_1T)))),
      f.set(n, m.i32.trunc_s_sat.f64(f.get(kd))),
    ];
    const sinC = Array.from({ length: 8 }, (_, k) => (k % 2 === 0 ? -1 : 1) / factorial(2 * k + 3));
    const cosC = Array.from({ length: 10 }, (_, k) => (k % 2 === 0 ? 1 : -1) / factorial(2 * k));
    const sinR = () =>
      F.add(
        f.get(r),
        F.mul(
          F.mul(f.get(r), f.get(z)),
          horner(f, () => f.get(z), sinC),
        ),
      );
    const cosR = () => horner(f, () => f.get(z), cosC);
    const quadrant = () => m.i32.and(m.i32.add(f.get(n), m.i32.const(cos ? 1 : 0)), m.i32.const(3));
    return [
      f.set(a, F.abs(x())),
      m.if(m.i32.eqz(F.lt(f.get(a), F.const(Number.POSITIVE_INFINITY))), m.return(F.sub(x(), x()))),
      // Tiny x: sin x = x (keeping -0), cos x = 1, both to well below an f64 ulp.
      m.if(F.lt(f.get(a), F.const(2 ** -27)), m.return(cos ? F.const(1) : x())),
      m.if(F.lt(f.get(a), F.const(2 ** 19)), m.block(null, medium), m.block(null, large)),
      f.set(z, F.mul(f.get(r), f.get(r))),
      // sin(x) by quadrant: sin r, cos r, -sin r, -cos r (cos x = sin(x + pi/2)).
      m.return(
        m.select(
          m.i32.and(quadrant(), m.i32.const(1)),
          m.select(m.i32.and(quadrant(), m.i32.const(2)), F.neg(cosR()), cosR()),
          m.select(m.i32.and(quadrant(), m.i32.const(2)), F.neg(sinR()), sinR()),
        ),
      ),
    ];
  });
}

export function sin64(g: Module): string {
  return trig64(g, false);
}

export function cos64(g: Module): string {
  return trig64(g, true);
}

export function tanh64(g: Module): string {
  const expm1 = expm1_64(g);
  return g.helper('tanh64', [f64], f64, (f) => {
    const m = f.m;
    const F = m.f64;
    const a = f.local(f64);
    const t = f.local(f64);
    return [
      f.set(a, F.abs(f.get(0))),
      m.if(F.gt(f.get(a), F.const(20)), m.return(copysign(f, F.const(1), f.get(0)))),
      // tanh a = (e^2a - 1) / (e^2a + 1), with expm1 for accuracy near 0.
      f.set(t, m.call(expm1, [F.mul(F.const(2), f.get(a))], f64)),
      m.return(copysign(f, F.div(f.get(t), F.add(f.get(t), F.const(2))), f.get(0))),
    ];
  });
}

/**
 * erf by the series the interpreter uses (positive terms, no cancellation):
 * erf(x) = 2/sqrt(pi) e^(-x^2) sum_n x (2x^2)^n / (1 3 ... (2n+1)); 1 beyond |x| = 4, where
 * 1 - erf(x) < 2^-26 rounds away in every format.
 */
export function erf64(g: Module): string {
  const exp = exp64(g);
  return g.helper('erf64', [f64], f64, (f) => {
    const m = f.m;
    const F = m.f64;
    const a = f.local(f64);
    const t2 = f.local(f64);
    const term = f.local(f64);
    const sum = f.local(f64);
    const n = f.local(f64);
    const loop = f.label('erf');
    return [
      m.if(F.ne(f.get(0), f.get(0)), m.return(f.get(0))),
      m.if(F.eq(f.get(0), F.const(0)), m.return(f.get(0))),
      f.set(a, F.abs(f.get(0))),
      m.if(F.ge(f.get(a), F.const(4)), m.return(copysign(f, F.const(1), f.get(0)))),
      f.set(t2, F.mul(F.mul(F.const(2), f.get(a)), f.get(a))),
      f.set(term, f.get(a)),
      f.set(sum, f.get(a)),
      f.set(n, F.const(1)),
      m.loop(
        loop,
        m.block(null, [
          f.set(term, F.mul(f.get(term), F.div(f.get(t2), F.add(F.mul(F.const(2), f.get(n)), F.const(1))))),
          f.set(sum, F.add(f.get(sum), f.get(term))),
          f.set(n, F.add(f.get(n), F.const(1))),
          m.br(
            loop,
            m.i32.and(F.ge(f.get(term), F.mul(f.get(sum), F.const(1e-17))), F.lt(f.get(n), F.const(500))),
          ),
        ]),
      ),
      m.return(
        copysign(
          f,
          F.min(
            F.mul(
              F.mul(F.const(2 / Math.sqrt(Math.PI)), m.call(exp, [F.neg(F.mul(f.get(a), f.get(a)))], f64)),
              f.get(sum),
            ),
            F.const(1),
          ),
          f.get(0),
        ),
      ),
    ];
  });
}

/** Math.pow's special cases (ECMAScript Number::exponentiate), then exp(b log |a|). */
export function pow64(g: Module): string {
  const exp = exp64(g);
  const log = log64(g);
  return g.helper('pow64', [f64, f64], f64, (f) => {
    const m = f.m;
    const F = m.f64;
    const a = () => f.get(0);
    const b = () => f.get(1);
    const ab = f.local(f64);
    const bInt = f.local(i32);
    const bOdd = f.local(i32);
    const r = f.local(f64);
    const n = f.local(i32);
    const base = f.local(f64);
    const INF = () => F.const(Number.POSITIVE_INFINITY);
    const NAN = () => F.const(Number.NaN);
    return [
      m.if(F.ne(b(), b()), m.return(NAN())),
      m.if(F.eq(b(), F.const(0)), m.return(F.const(1))),
      m.if(F.ne(a(), a()), m.return(NAN())),
      f.set(ab, F.abs(a())),
      m.if(
        F.eq(F.abs(b()), INF()),
        m.return(
          m.select(
            F.eq(f.get(ab), F.const(1)),
            NAN(),
            m.select(m.i32.eq(F.gt(f.get(ab), F.const(1)), F.gt(b(), F.const(0))), INF(), F.const(0)),
          ),
        ),
      ),
      f.set(bInt, F.eq(F.trunc(b()), b())),
      f.set(
        bOdd,
        m.i32.and(
          m.i32.and(f.get(bInt), F.lt(F.abs(b()), F.const(2 ** 53))),
          F.ne(F.mul(F.trunc(F.mul(b(), F.const(0.5))), F.const(2)), b()),
        ),
      ),
      m.if(
        F.eq(f.get(ab), INF()),
        m.return(
          m.select(
            F.gt(b(), F.const(0)),
            m.select(m.i32.and(f.get(bOdd), F.lt(a(), F.const(0))), F.neg(INF()), INF()),
            m.select(m.i32.and(f.get(bOdd), F.lt(a(), F.const(0))), F.const(-0), F.const(0)),
          ),
        ),
      ),
      m.if(
        F.eq(a(), F.const(0)),
        m.return(
          m.select(
            F.gt(b(), F.const(0)),
            m.select(f.get(bOdd), a(), F.const(0)),
            m.select(f.get(bOdd), copysign(f, INF(), a()), INF()),
          ),
        ),
      ),
      m.if(m.i32.and(F.lt(a(), F.const(0)), m.i32.eqz(f.get(bInt))), m.return(NAN())),
      // Small integer exponents by repeated squaring: exact whenever the result fits in 53 bits
      // (every partial power then does too), so exact results, ties of narrow formats included,
      // round as the interpreter's. x^0.5 is sqrt (both exact for perfect squares).
      m.if(F.eq(b(), F.const(0.5)), m.return(F.sqrt(f.get(ab)))),
      m.if(
        m.i32.and(f.get(bInt), F.le(F.abs(b()), F.const(64))),
        m.block(null, [
          f.set(n, m.i32.trunc_s_sat.f64(F.abs(b()))),
          f.set(base, a()),
          f.set(r, F.const(1)),
          f.while(
            () => m.i32.ne(f.get(n), m.i32.const(0)),
            [
              m.if(m.i32.and(f.get(n), m.i32.const(1)), f.set(r, F.mul(f.get(r), f.get(base)))),
              f.set(base, F.mul(f.get(base), f.get(base))),
              f.set(n, m.i32.shr_u(f.get(n), m.i32.const(1))),
            ],
          ),
          m.return(m.select(F.lt(b(), F.const(0)), F.div(F.const(1), f.get(r)), f.get(r))),
        ]),
      ),
      f.set(r, m.call(exp, [F.mul(b(), m.call(log, [f.get(ab)], f64))], f64)),
      m.return(m.select(m.i32.and(f.get(bOdd), F.lt(a(), F.const(0))), F.neg(f.get(r)), f.get(r))),
    ];
  });
}

/**
 * The exact remainder a - b trunc(a / b) with a's sign (JavaScript %), by subtracting the largest
 * b 2^k not above |a|: each subtraction is exact (Sterbenz) and at least halves |a|.
 */
export function fmod64(g: Module): string {
  return g.helper('fmod64', [f64, f64], f64, (f) => {
    const m = f.m;
    const F = m.f64;
    const ax = f.local(f64);
    const ay = f.local(f64);
    const t = f.local(f64);
    return [
      m.if(
        m.i32.or(m.i32.or(F.ne(f.get(0), f.get(0)), F.ne(f.get(1), f.get(1))), F.eq(f.get(1), F.const(0))),
        m.return(F.const(Number.NaN)),
      ),
      f.set(ax, F.abs(f.get(0))),
      f.set(ay, F.abs(f.get(1))),
      m.if(F.eq(f.get(ax), F.const(Number.POSITIVE_INFINITY)), m.return(F.const(Number.NaN))),
      m.if(F.lt(f.get(ax), f.get(ay)), m.return(f.get(0))), // includes |b| = Inf
      f.while(
        () => F.ge(f.get(ax), f.get(ay)),
        [
          f.set(
            t,
            F.mul(f.get(ay), pow2(f, m.i32.sub(exponentField(f, f.get(ax)), exponentField(f, f.get(ay))))),
          ),
          m.if(F.gt(f.get(t), f.get(ax)), f.set(t, F.mul(f.get(t), F.const(0.5)))),
          f.set(ax, F.sub(f.get(ax), f.get(t))),
        ],
      ),
      m.return(copysign(f, f.get(ax), f.get(0))),
    ];
  });
}
