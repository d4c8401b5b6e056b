// QuantizedMatrix -> f32, and the error measures the quantizer reports.
import { decode } from '../dsl/dtype.js';
import { unpackBits } from '../dsl/packing.js';
import { groupCount, offsetKind, type QuantizedMatrix, validateQuantizedMatrix } from './quantized-matrix.js';

/** Error of an approximation against a reference, both row-major of the same length. */
export interface QuantError {
  /** Largest |reference - approx|. */
  readonly maxAbs: number;
  /** Root mean square of reference - approx. */
  readonly rms: number;
  /** ||reference - approx||_2 / ||reference||_2 (0 when both are all zeros, Infinity when only the reference is). */
  readonly relative: number;
}

export function quantizationError(reference: ArrayLike<number>, approx: ArrayLike<number>): QuantError {
  if (reference.length !== approx.length) {
    throw new RangeError(
      `quantizationError: reference has ${reference.length} values but approx has ${approx.length}`,
    );
  }
  let maxAbs = 0;
  let sse = 0;
  let norm = 0;
  for (let i = 0; i < reference.length; i++) {
    const d = reference[i] - approx[i];
    const a = Math.abs(d);
    if (a > maxAbs || Number.isNaN(a)) maxAbs = a;
    sse += d * d;
    norm += reference[i] * reference[i];
  }
  const n = Math.max(reference.length, 1);
  return {
    maxAbs,
    rms: Math.sqrt(sse / n),
    relative: norm > 0 ? Math.sqrt(sse / norm) : sse > 0 ? Number.POSITIVE_INFINITY : 0,
  };
}

/** Decoded value of every pattern of a <= 8-bit dtype: one table lookup per element. */
function valueTable(m: QuantizedMatrix): Float64Array {
  const w = m.format.weight;
  const table = new Float64Array(2 ** w.bits);
  for (let p = 0; p < table.length; p++) table[p] = decode(w, p);
  return table;
}

/**
 * The f32 weights [n, k] (row-major) a QuantizedMatrix stands for, per the formulas of
 * quantized-matrix.ts: each element computed in float64 and rounded once to f32.
 */
export function dequantize(m: QuantizedMatrix): Float32Array {
  validateQuantizedMatrix(m, 'dequantize');
  const { n, k } = m;
  const group = m.format.group;
  const groups = groupCount(m.format, k);
  const table = valueTable(m);
  const bits = m.format.weight.bits;
  const scales = m.scales.toFloat32Array();
  const offset = offsetKind(m.format);
  const zeros = offset === 'zero' ? m.zeros!.toFloat32Array() : undefined;
  const mins = offset === 'min' ? m.mins!.toFloat32Array() : undefined;
  const out = new Float32Array(n * k);
  const codes = new Uint32Array(k); // one row at a time: no n * k code array
  for (let r = 0; r < n; r++) {
    unpackBits(m.weights.data, bits, k, r * k, codes);
    for (let g = 0; g < groups; g++) {
      const gi = r * groups + g;
      const s = scales[gi];
      const z = zeros ? zeros[gi] : 0;
      const add = mins ? mins[gi] : 0;
      const start = g * group;
      const end = Math.min(k, start + group);
      const o = r * k;
      // The min is added only where there is one, so q * s keeps its sign for q = 0 (-0 for s < 0).
      if (mins) for (let c = start; c < end; c++) out[o + c] = table[codes[c]] * s + add;
      else for (let c = start; c < end; c++) out[o + c] = (table[codes[c]] - z) * s;
    }
  }
  return out;
}
