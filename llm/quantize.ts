/**
 * The quantizer: f32 weights [n, k] -> QuantizedMatrix, one range per group (docs/llm-formats.md).
 *
 * - signed ints: the group's value of largest magnitude m maps to the most negative code qmin = -2^(B-1)
 *   (scale m / qmin, negative when m > 0), as llama.cpp's Q4_0 does: a full 2^B codes for one side and
 *   2^B - 1 for the other, which also makes i1 ({-1, 0}) useful.
 * - unsigned ints, offset 'zero': the range [min(lo, 0), max(hi, 0)] over 2^B - 1 steps, zero point
 *   round(-lo / scale) (0 must be in range for an integer zero point in [0, 2^B - 1]).
 * - unsigned ints, offset 'min': the range [lo, hi], min stored in the scale dtype.
 * - floats: absmax maps to the format's largest finite value.
 *
 * Scales are rounded *away from zero* to the scale dtype, so the group's extreme values always land inside
 * the code range: every element is then within half a step of its code (signed ints: a full step on the
 * side opposite m, where the range ends one code early). The 'clip' method also tries ranges shrunk by
 * factors in [minClip, 1] (for signed ints with both sign conventions) and keeps, per group, the candidate
 * with the least squared error; the unshrunk range is the first candidate, so it is never worse than RTN.
 */
import { decode, encode, type FloatDType, type IntDType, roundToDType } from '../dsl/dtype.js';
import { packBits } from '../dsl/packing.js';
import { Tensor } from '../dsl/tensor.js';
import { dequantize, type QuantError, quantizationError } from './dequantize.js';
import {
  formatName,
  groupCount,
  offsetKind,
  type QuantFormat,
  type QuantizedMatrix,
  scaleDType,
  validateFormat,
} from './quantized-matrix.js';

export interface QuantizeOptions {
  /** 'rtn' (default): round to nearest on the group's full range. 'clip': search shrunk ranges too. */
  readonly method?: 'rtn' | 'clip';
  /** Shrink factors tried by 'clip', evenly spaced from 1 down to minClip (default 20). */
  readonly clipSteps?: number;
  /** Smallest shrink factor tried by 'clip', in (0, 1] (default 0.5). */
  readonly minClip?: number;
}

export interface QuantizeResult {
  readonly matrix: QuantizedMatrix;
  /** dequantize(matrix) against the input weights. */
  readonly error: QuantError;
}

/** One group's parameters: w = (q - zero) * scale + min. */
interface GroupParams {
  scale: number;
  zero: number;
  min: number;
}

/** `|v|` rounded up to the next value of `dt` (so a range divided by it never exceeds the code range). */
function roundScaleAway(v: number, dt: FloatDType, where: () => string): number {
  const a = Math.abs(v);
  let r = roundToDType(dt, a);
  if (r < a) r = decode(dt, encode(dt, r) + 1);
  if (!(r <= dt.maxFinite)) {
    throw new RangeError(
      `quantize: ${where()} needs a scale of ${a.toExponential(3)}, beyond ${dt.name}'s largest ` +
        `value ${dt.maxFinite}; use scale 'f32'${dt.name === 'f32' ? ' (or smaller weights)' : ''}`,
    );
  }
  return v < 0 ? -r : r;
}

/**
 * Round to nearest (ties to the even pattern, as roundToDType does) onto a <= 8-bit float format by binary
 * search over its finite magnitudes: several times faster than the general float encoder.
 */
class SmallFloatGrid {
  /** Magnitude of each non-negative pattern up to the largest finite one; increasing with the pattern. */
  private readonly mags: Float64Array;
  private readonly signBit: number;

  constructor(dt: FloatDType) {
    const top = encode(dt, dt.maxFinite);
    this.mags = new Float64Array(top + 1);
    for (let j = 0; j <= top; j++) this.mags[j] = decode(dt, j);
    this.signBit = 2 ** (dt.bits - 1);
  }

  /** Index of the nearest magnitude to |v| (|v| at most the largest finite value). */
  private nearest(a: number): number {
    const mags = this.mags;
    let lo = 0;
    let hi = mags.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (mags[mid] <= a) lo = mid;
      else hi = mid - 1;
    }
    if (lo < mags.length - 1) {
      const below = a - mags[lo];
      const above = mags[lo + 1] - a;
      if (above < below || (above === below && (lo & 1) === 1)) lo++;
    }
    return lo;
  }

  value(v: number): number {
    const m = this.mags[this.nearest(Math.abs(v))];
    return v < 0 ? -m : m;
  }

  pattern(v: number): number {
    const j = this.nearest(Math.abs(v));
    return v < 0 ? j + this.signBit : j;
  }
}

/** Everything the per-group loop needs about the format, computed once. */
interface Plan {
  readonly format: QuantFormat;
  readonly scaleDt: FloatDType;
  readonly kind: 'signed' | 'zero' | 'min' | 'float';
  readonly qmin: number;
  readonly qmax: number;
  readonly grid?: SmallFloatGrid;
}

function planFor(format: QuantFormat): Plan {
  const w = format.weight;
  const scaleDt = scaleDType(format.scale);
  if (w.kind === 'float') {
    const grid = new SmallFloatGrid(w);
    return { format, scaleDt, kind: 'float', qmin: -w.maxFinite, qmax: w.maxFinite, grid };
  }
  const iw = w as IntDType;
  if (iw.signed) return { format, scaleDt, kind: 'signed', qmin: iw.min, qmax: iw.max };
  return { format, scaleDt, kind: offsetKind(format) === 'min' ? 'min' : 'zero', qmin: 0, qmax: iw.max };
}

/** The code of x under params (a value for floats, an integer otherwise). */
function codeOf(plan: Plan, x: number, p: GroupParams): number {
  if (p.scale === 0) return plan.kind === 'zero' ? p.zero : 0;
  if (plan.kind === 'float') {
    return plan.grid!.value(Math.min(plan.qmax, Math.max(plan.qmin, x / p.scale)));
  }
  const q = Math.round((x - p.min) / p.scale) + p.zero;
  return Math.max(plan.qmin, Math.min(plan.qmax, q));
}

/** Squared error of the group [start, end) under params; integer formats take a branch-light loop. */
function sse(plan: Plan, xs: ArrayLike<number>, start: number, end: number, p: GroupParams): number {
  let e = 0;
  if (plan.kind === 'float' || p.scale === 0) {
    for (let i = start; i < end; i++) {
      const d = xs[i] - ((codeOf(plan, xs[i], p) - p.zero) * p.scale + p.min);
      e += d * d;
    }
    return e;
  }
  const { qmin, qmax } = plan;
  const { scale, zero, min } = p;
  for (let i = start; i < end; i++) {
    let q = Math.round((xs[i] - min) / scale) + zero;
    q = Math.max(qmin, Math.min(qmax, q));
    const d = xs[i] - ((q - zero) * scale + min);
    e += d * d;
  }
  return e;
}

/** Writes the group's bit patterns to codes[start - base, end - base). */
function encodeGroup(
  plan: Plan,
  xs: ArrayLike<number>,
  start: number,
  end: number,
  p: GroupParams,
  codes: Uint32Array,
  base: number,
): void {
  const w = plan.format.weight;
  if (p.scale === 0) {
    codes.fill(encode(w, codeOf(plan, 0, p)), start - base, end - base);
    return;
  }
  if (plan.kind === 'float') {
    const { qmin, qmax, grid } = plan;
    for (let i = start; i < end; i++)
      codes[i - base] = grid!.pattern(Math.min(qmax, Math.max(qmin, xs[i] / p.scale)));
    return;
  }
  const { qmin, qmax } = plan;
  const { scale, zero, min } = p;
  const mask = 2 ** w.bits - 1;
  for (let i = start; i < end; i++) {
    let q = Math.round((xs[i] - min) / scale) + zero;
    q = Math.max(qmin, Math.min(qmax, q));
    codes[i - base] = q & mask; // two's complement pattern for signed codes
  }
}

/** Parameters for the group's range shrunk by `alpha`; `flip` maps m to qmax instead (signed ints). */
function candidate(
  plan: Plan,
  lo: number,
  hi: number,
  m: number,
  alpha: number,
  flip: boolean,
  where: () => string,
): GroupParams | undefined {
  const sd = plan.scaleDt;
  switch (plan.kind) {
    case 'signed': {
      if (m === 0) return { scale: 0, zero: 0, min: 0 };
      const target = flip ? plan.qmax : plan.qmin;
      if (target === 0) return undefined;
      return { scale: roundScaleAway((alpha * m) / target, sd, where), zero: 0, min: 0 };
    }
    case 'float': {
      const a = Math.max(Math.abs(lo), Math.abs(hi));
      if (a === 0) return { scale: 0, zero: 0, min: 0 };
      return { scale: roundScaleAway((alpha * a) / plan.qmax, sd, where), zero: 0, min: 0 };
    }
    case 'zero': {
      const l = alpha * Math.min(lo, 0);
      const h = alpha * Math.max(hi, 0);
      if (h === l) return { scale: 0, zero: 0, min: 0 };
      const scale = roundScaleAway((h - l) / plan.qmax, sd, where);
      return { scale, zero: Math.min(plan.qmax, Math.max(0, Math.round(-l / scale))), min: 0 };
    }
    case 'min': {
      const c = (lo + hi) / 2;
      const l = c - alpha * (c - lo);
      const h = c + alpha * (hi - c);
      const min = roundToDType(sd, l);
      if (!Number.isFinite(min)) {
        throw new RangeError(`quantize: ${where()} has a min ${l} beyond ${sd.name}; use scale 'f32'`);
      }
      if (h <= min) return { scale: 0, zero: 0, min };
      return { scale: roundScaleAway((h - min) / plan.qmax, sd, where), zero: 0, min };
    }
  }
}

function checkWeights(weights: ArrayLike<number>, n: number, k: number): void {
  for (const [name, v] of [
    ['n', n],
    ['k', k],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new RangeError(`quantize: ${name} must be a positive integer, got ${v}`);
    }
  }
  if (weights === null || typeof weights !== 'object' || typeof weights.length !== 'number') {
    throw new TypeError('quantize: weights must be an array-like of numbers (e.g. a Float32Array)');
  }
  if (weights.length !== n * k) {
    throw new RangeError(
      `quantize: weights has ${weights.length} values but n * k = ${n} * ${k} = ${n * k}; ` +
        'pass the [n, k] matrix row-major',
    );
  }
}

function checkOptions(options: QuantizeOptions): { clip: boolean; steps: number; minClip: number } {
  const method = options.method ?? 'rtn';
  if (method !== 'rtn' && method !== 'clip') {
    throw new RangeError(`quantize: method must be 'rtn' or 'clip', got ${String(method)}`);
  }
  const steps = options.clipSteps ?? 20;
  if (!Number.isInteger(steps) || steps < 1 || steps > 1000) {
    throw new RangeError(`quantize: clipSteps must be an integer in [1, 1000], got ${steps}`);
  }
  const minClip = options.minClip ?? 0.5;
  if (!(minClip > 0 && minClip <= 1)) {
    throw new RangeError(`quantize: minClip must be in (0, 1], got ${minClip}`);
  }
  return { clip: method === 'clip', steps, minClip };
}

/** Quantizes f32 weights [n, k] (row-major, k contiguous) to `format`. */
export function quantize(
  weights: ArrayLike<number>,
  n: number,
  k: number,
  format: QuantFormat,
  options: QuantizeOptions = {},
): QuantizeResult {
  validateFormat(format, 'quantize: format');
  checkWeights(weights, n, k);
  const opts = checkOptions(options);
  const plan = planFor(format);
  const name = formatName(format);
  const group = format.group;
  const groups = groupCount(format, k);
  const w = format.weight;

  const codes = new Uint32Array(k);
  const wData = Tensor.zeros(w, [n, k]);
  const scaleCodes = new Uint32Array(n * groups);
  const offsetCodes = plan.kind === 'zero' || plan.kind === 'min' ? new Uint32Array(n * groups) : undefined;

  for (let r = 0; r < n; r++) {
    for (let g = 0; g < groups; g++) {
      const start = r * k + g * group;
      const end = r * k + Math.min(k, (g + 1) * group);
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      let m = 0;
      for (let i = start; i < end; i++) {
        const x = weights[i];
        if (!Number.isFinite(x)) {
          throw new RangeError(
            `quantize: weights[${r}, ${i - r * k}] is ${x}; quantized weights must be finite`,
          );
        }
        if (x < lo) lo = x;
        if (x > hi) hi = x;
        if (Math.abs(x) > Math.abs(m)) m = x;
      }
      const where = () => `${name} row ${r} group ${g}`;
      let best = candidate(plan, lo, hi, m, 1, false, where)!;
      if (opts.clip && best.scale !== 0) {
        let bestErr = sse(plan, weights, start, end, best);
        for (const flip of plan.kind === 'signed' ? [false, true] : [false]) {
          for (let s = 0; s <= opts.steps; s++) {
            const alpha = 1 - ((1 - opts.minClip) * s) / opts.steps;
            if (s === 0 && !flip) continue; // the RTN candidate, already evaluated
            const c = candidate(plan, lo, hi, m, alpha, flip, where);
            if (!c) continue;
            const e = sse(plan, weights, start, end, c);
            if (e < bestErr) {
              bestErr = e;
              best = c;
            }
          }
        }
      }
      encodeGroup(plan, weights, start, end, best, codes, r * k);
      const gi = r * groups + g;
      scaleCodes[gi] = encode(plan.scaleDt, best.scale);
      if (plan.kind === 'zero') offsetCodes![gi] = best.zero;
      else if (plan.kind === 'min') offsetCodes![gi] = encode(plan.scaleDt, best.min);
    }
    packBits(codes, w.bits, wData.data, r * k);
  }

  const scales = Tensor.zeros(plan.scaleDt, [n, groups]);
  packBits(scaleCodes, plan.scaleDt.bits, scales.data);
  let matrix: QuantizedMatrix = { format, n, k, weights: wData, scales };
  if (offsetCodes) {
    const dt = plan.kind === 'zero' ? w : plan.scaleDt;
    const t = Tensor.zeros(dt, [n, groups]);
    packBits(offsetCodes, dt.bits, t.data);
    matrix = plan.kind === 'zero' ? { ...matrix, zeros: t } : { ...matrix, mins: t };
  }
  return { matrix, error: quantizationError(weights, dequantize(matrix)) };
}
