/**
 * Bit-level encode/decode for the float formats of docs/dtypes.md: `sign | exponent (E) | mantissa (M)`,
 * bias `2^(E-1) - 1`, subnormals in every format, and one overflow/NaN rule per format.
 */

/** What the all-ones exponent field means, and what overflow, ±Inf and NaN encode to. */
export type FloatRule = 'ieee' | 'fn' | 'finite';

// Exact powers of two 2^k, k in [-1074, 1023]: doubling/halving is exact, Math.pow is not guaranteed to be.
const POW2_MIN = -1074;
const POW2 = new Float64Array(1023 - POW2_MIN + 1);
POW2[-POW2_MIN] = 1;
for (let k = 1; k <= 1023; k++) POW2[k - POW2_MIN] = POW2[k - 1 - POW2_MIN] * 2;
for (let k = -1; k >= POW2_MIN; k--) POW2[k - POW2_MIN] = POW2[k + 1 - POW2_MIN] / 2;

function pow2(k: number): number {
  return POW2[k - POW2_MIN];
}

// Shared scratch: the float64 exponent is read from its bits (exact, no log2 correction needed), and f32
// goes through a Float32Array view of the same bytes. Single-threaded use only, no allocation per call.
const scratch = new ArrayBuffer(8);
const F64 = new Float64Array(scratch);
const F32 = new Float32Array(scratch, 0, 1);
const U32 = new Uint32Array(scratch);
/** Index in U32 of the float64's high word (sign, exponent, top of mantissa). */
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

const F32_QUIET_NAN = 0x7fc00000;

/** Largest pattern width that decodes through a lookup table (2^16 float64 entries = 512 KiB). */
const MAX_TABLE_BITS = 16;

export class FloatFormat {
  readonly bits: number;
  readonly bias: number;
  readonly maxFinite: number;
  /** Smallest positive value, `2^(1 - bias - M)`; for M = 0 that is the smallest normal. */
  readonly minSubnormal: number;

  /** Exponent of the smallest normal, which subnormals share. */
  private readonly emin: number;
  /** `2^M`: one exponent step in the (sign-less) pattern. */
  private readonly expStep: number;
  private readonly signBit: number;
  private readonly mask: number;
  /** Magnitude pattern an overflow or ±Inf encodes to: Inf for ieee, max finite otherwise. */
  private readonly limitMag: number;
  /** `2^(top exponent + 1)`: every |x| at or above it lies beyond every pattern, so it overflows. */
  private readonly overflowAt: number;
  /** Half the smallest positive value: |x| at or below it rounds to zero (the tie goes to pattern 0). */
  private readonly halfMin: number;
  private readonly nanPattern: number;
  private readonly isF32: boolean;
  private table: Float64Array | undefined;

  constructor(
    readonly exponentBits: number,
    readonly mantissaBits: number,
    readonly rule: FloatRule,
  ) {
    const E = exponentBits;
    const M = mantissaBits;
    // E <= 8 keeps every exponent and 2^(emin - M) well inside float64's normal range.
    if (!Number.isInteger(E) || !Number.isInteger(M) || E < 1 || E > 8 || M < 0 || 1 + E + M > 32) {
      throw new Error(`unsupported float format e${E}m${M}`);
    }
    if (rule !== 'finite' && M < 1) throw new Error(`rule '${rule}' needs a mantissa bit for NaN`);
    this.bits = 1 + E + M;
    this.bias = 2 ** (E - 1) - 1;
    this.emin = 1 - this.bias;
    this.expStep = 2 ** M;
    this.signBit = 2 ** (E + M);
    this.mask = 2 ** this.bits - 1;
    const allMag = 2 ** (E + M) - 1; // largest magnitude pattern
    const infMag = (2 ** E - 1) * this.expStep;
    // ieee: the pattern below Inf; fn: the pattern below the single NaN s.1..1.1..1; finite: all ones.
    const maxFiniteMag = rule === 'ieee' ? infMag - 1 : rule === 'fn' ? allMag - 1 : allMag;
    this.limitMag = rule === 'ieee' ? infMag : maxFiniteMag;
    this.overflowAt = pow2(2 ** E - 1 - this.bias + 1);
    this.minSubnormal = pow2(this.emin - M);
    this.halfMin = this.minSubnormal / 2;
    // ieee: canonical quiet NaN (exponent all ones, top mantissa bit); fn: 0x7f; finite: no NaN, so +0.
    this.nanPattern = rule === 'ieee' ? infMag + 2 ** (M - 1) : rule === 'fn' ? allMag : 0;
    this.isF32 = this.bits === 32 && E === 8 && rule === 'ieee';
    this.maxFinite = this.valueOf(maxFiniteMag);
  }

  /** The bit pattern (unsigned, `[0, 2^bits)`) nearest to `x`, ties to even pattern, per the format's rule. */
  encode(x: number): number {
    if (this.isF32) {
      if (Number.isNaN(x)) return F32_QUIET_NAN; // a store may keep a NaN's sign/payload; the spec wants canonical
      F32[0] = x;
      return U32[0];
    }
    if (Number.isNaN(x)) return this.nanPattern;
    let sign = 0;
    if (x < 0 || (x === 0 && 1 / x < 0)) {
      sign = this.signBit;
      x = -x;
    }
    if (x >= this.overflowAt) return sign + this.limitMag; // includes Inf
    if (x <= this.halfMin) return sign;
    F64[0] = x; // x > halfMin >= 2^-150 (E <= 8), so x is a normal float64
    let e = ((U32[HI] >>> 20) & 0x7ff) - 1023;
    if (e < this.emin) e = this.emin; // subnormal: fixed quantum 2^(emin - M)
    const y = x * pow2(this.mantissaBits - e); // exact: scaling by a power of two
    const q = Math.floor(y);
    // Patterns are monotonic in magnitude, so rounding q up carries into the exponent field by itself
    // (subnormal -> normal, mantissa overflow -> next binade, max -> Inf).
    let mag = (e - this.emin) * this.expStep + q;
    const frac = y - q;
    if (frac > 0.5 || (frac === 0.5 && (mag & 1) === 1)) mag++;
    return sign + Math.min(mag, this.limitMag);
  }

  /** The value of the low `bits` bits of `pattern` (-0 kept, NaN for NaN patterns). */
  decode(pattern: number): number {
    if (this.isF32) {
      U32[0] = pattern; // ToUint32: keeps the low 32 bits
      return F32[0];
    }
    if (this.bits <= MAX_TABLE_BITS) {
      const t = this.table ?? this.buildTable();
      return t[pattern & this.mask];
    }
    return this.valueOf((pattern >>> 0) % 2 ** this.bits);
  }

  /** `decode(encode(x))`. */
  round(x: number): number {
    if (this.isF32) return Math.fround(x);
    return this.decode(this.encode(x));
  }

  private buildTable(): Float64Array {
    const n = 2 ** this.bits;
    const t = new Float64Array(n);
    for (let p = 0; p < n; p++) t[p] = this.valueOf(p);
    this.table = t;
    return t;
  }

  /** The spec's formula for one pattern in `[0, 2^bits)`. */
  private valueOf(p: number): number {
    const M = this.mantissaBits;
    const expOnes = 2 ** this.exponentBits - 1;
    const negative = p >= this.signBit;
    const mag = negative ? p - this.signBit : p;
    const ef = Math.floor(mag / this.expStep);
    const m = mag - ef * this.expStep;
    let v: number;
    if (this.rule === 'ieee' && ef === expOnes) v = m === 0 ? Number.POSITIVE_INFINITY : Number.NaN;
    else if (this.rule === 'fn' && mag === 2 ** (this.exponentBits + M) - 1) v = Number.NaN;
    else if (ef === 0) v = pow2(this.emin - M) * m;
    else v = pow2(ef - this.bias) * (1 + m / this.expStep);
    return negative ? -v : v;
  }
}
