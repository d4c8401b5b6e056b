/**
 * Independent reference model of the float formats of docs/dtypes.md, used only by tests.
 *
 * Decoding is the textbook formula (sign / exponent / mantissa fields, subnormal branch, the rule's
 * meaning of the top exponent field). Encoding is a nearest-value search: a binary search over the
 * positive finite patterns (whose values increase with the pattern), ties to the pattern with an even
 * lowest bit, then the format's overflow rule. Nothing here imports the implementation.
 */

export type RefRule = 'ieee' | 'fn' | 'finite';

export interface FloatSpec {
  readonly name: string;
  readonly E: number;
  readonly M: number;
  readonly rule: RefRule;
}

/** Rule of the small float `fNeEmM` per the spec table. */
export function smallFloatRule(E: number, M: number): RefRule {
  if (E === 4 && M === 3) return 'fn';
  if (E === 5 && M === 2) return 'ieee';
  return 'finite';
}

/** The 28 small floats: E >= 1, M >= 0, 2 <= 1 + E + M <= 8. */
export const SMALL_FLOAT_SPECS: readonly FloatSpec[] = (() => {
  const out: FloatSpec[] = [];
  for (let n = 2; n <= 8; n++) {
    for (let E = 1; E <= n - 1; E++) {
      const M = n - 1 - E;
      out.push({ name: `f${n}e${E}m${M}`, E, M, rule: smallFloatRule(E, M) });
    }
  }
  return out;
})();

export const F16_SPEC: FloatSpec = { name: 'f16', E: 5, M: 10, rule: 'ieee' };
export const BF16_SPEC: FloatSpec = { name: 'bf16', E: 8, M: 7, rule: 'ieee' };
export const F32_SPEC: FloatSpec = { name: 'f32', E: 8, M: 23, rule: 'ieee' };

export const ALL_FLOAT_SPECS: readonly FloatSpec[] = [...SMALL_FLOAT_SPECS, F16_SPEC, BF16_SPEC, F32_SPEC];

const pow2 = (k: number): number => 2 ** k;

export class FloatRef {
  readonly name: string;
  readonly E: number;
  readonly M: number;
  readonly rule: RefRule;
  readonly bits: number;
  readonly bias: number;
  /** Value of the sign bit in a pattern (2^(bits-1)). */
  readonly signBit: number;
  /** Largest positive finite pattern; patterns 0..maxPos are the non-negative finite values, increasing. */
  readonly maxPos: number;
  readonly max: number;
  /** Smallest positive value (pattern 1). */
  readonly minPos: number;
  /** Spacing of the values in the binade of max. */
  readonly ulpMax: number;
  /** max + ulpMax / 2: from here on IEEE rounding overflows to infinity. */
  readonly overflowThreshold: number;
  /** Pattern encode(NaN) must produce. */
  readonly nanPattern: number;
  /** +Inf pattern (ieee only; -1 otherwise). */
  readonly infPattern: number;
  private readonly table: Float64Array | undefined;

  constructor(spec: FloatSpec) {
    const { name, E, M, rule } = spec;
    this.name = name;
    this.E = E;
    this.M = M;
    this.rule = rule;
    this.bits = 1 + E + M;
    this.bias = pow2(E - 1) - 1;
    this.signBit = pow2(this.bits - 1);
    const topExp = pow2(E) - 1;
    if (rule === 'ieee') {
      this.maxPos = topExp * pow2(M) - 1;
      this.infPattern = topExp * pow2(M);
      this.nanPattern = topExp * pow2(M) + pow2(M - 1);
    } else if (rule === 'fn') {
      this.maxPos = this.signBit - 2;
      this.infPattern = -1;
      this.nanPattern = this.signBit - 1;
    } else {
      this.maxPos = this.signBit - 1;
      this.infPattern = -1;
      this.nanPattern = 0;
    }
    if (this.bits <= 16) {
      this.table = new Float64Array(this.maxPos + 1);
      for (let i = 0; i <= this.maxPos; i++) this.table[i] = this.decode(i);
    }
    this.max = this.decode(this.maxPos);
    this.minPos = this.decode(1);
    const maxExpField = Math.floor(this.maxPos / pow2(M)) % pow2(E);
    this.ulpMax = pow2(maxExpField - this.bias - M);
    this.overflowThreshold = this.max + this.ulpMax / 2;
  }

  /** The spec's formula for the value of bit pattern p (0 <= p < 2^bits). */
  decode(p: number): number {
    const { E, M, rule, bias } = this;
    const s = Math.floor(p / pow2(E + M)) % 2;
    const e = Math.floor(p / pow2(M)) % pow2(E);
    const m = p % pow2(M);
    const sign = s === 1 ? -1 : 1;
    const topExp = pow2(E) - 1;
    if (rule === 'ieee' && e === topExp) return m === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
    if (rule === 'fn' && e === topExp && m === pow2(M) - 1) return Number.NaN;
    if (e === 0) return sign * pow2(1 - bias) * (m / pow2(M));
    return sign * pow2(e - bias) * (1 + m / pow2(M));
  }

  /** Value of the non-negative finite pattern i (0 <= i <= maxPos). */
  valueAt(i: number): number {
    return this.table !== undefined ? this.table[i] : this.decode(i);
  }

  /** Brute-force encode: nearest finite value, ties to even pattern, then the overflow rule. */
  encode(x: number): number {
    if (Number.isNaN(x)) return this.nanPattern;
    const sign = x < 0 || Object.is(x, -0) ? this.signBit : 0;
    const a = Math.abs(x);
    if (this.rule === 'ieee' && a >= this.overflowThreshold) return sign + this.infPattern;
    // Saturating formats clamp anything above max; for ieee, (max, threshold) rounds down to max.
    if (a >= this.max) return sign + this.maxPos;
    // Largest lo with valueAt(lo) <= a; valueAt(0) = 0 <= a < max = valueAt(maxPos).
    let lo = 0;
    let hi = this.maxPos;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.valueAt(mid) <= a) lo = mid;
      else hi = mid;
    }
    const vl = this.valueAt(lo);
    if (a === vl) return sign + lo;
    const vh = this.valueAt(hi);
    const midpoint = (vl + vh) / 2; // exact in float64 for every format here
    if (a < midpoint) return sign + lo;
    if (a > midpoint) return sign + hi;
    return sign + (lo % 2 === 0 ? lo : hi);
  }

  round(x: number): number {
    return this.decode(this.encode(x));
  }
}

const refCache = new Map<string, FloatRef>();

export function floatRef(spec: FloatSpec): FloatRef {
  let r = refCache.get(spec.name);
  if (r === undefined) {
    r = new FloatRef(spec);
    refCache.set(spec.name, r);
  }
  return r;
}

// ---- float64 neighbours ----

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/** Next float64 above a (a >= 0, finite). */
export function nextUp(a: number): number {
  if (a === 0) return Number.MIN_VALUE;
  f64[0] = a;
  u64[0] += 1n;
  return f64[0];
}

/** Next float64 below a (a > 0, finite). */
export function nextDown(a: number): number {
  f64[0] = a;
  u64[0] -= 1n;
  return f64[0];
}

// ---- integers ----

/** Integer encode rule: NaN/±Inf -> 0; else truncate toward zero and keep the low `bits` bits. */
export function refIntEncode(bits: number, x: number): number {
  if (!Number.isFinite(x)) return 0;
  const mod = 1n << BigInt(bits);
  const t = BigInt(Math.trunc(x));
  return Number(((t % mod) + mod) % mod);
}

/** Two's complement (signed) or plain (unsigned) value of a `bits`-bit pattern. */
export function refIntDecode(bits: number, signed: boolean, p: number): number {
  if (signed && p >= 2 ** (bits - 1)) return p - 2 ** bits;
  return p;
}

export function hex(p: number): string {
  return `0x${p.toString(16)}`;
}

/** A float64 -> readable string that distinguishes -0. */
export function show(x: number): string {
  return Object.is(x, -0) ? '-0' : String(x);
}
