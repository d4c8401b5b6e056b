// Random quantized matrices built directly from random codes (every code of the weight dtype except
// NaN/Inf patterns), with random f16/f32 scales, zero points and mins, and the float64 reference
// matmul of their dequantized weights.
import { type DType, type f16, type f32, Tensor } from '../../dsl/index.js';
import type { QuantFormat, QuantizedMatrix } from '../../llm/quantized-matrix.js';
import { groupCount, offsetKind, scaleDType } from '../../llm/quantized-matrix.js';
import { randomInt, rng } from '../helpers/random.js';

/** The finite codes of a weight dtype (as stored bit patterns) and their values. */
function finiteCodes(dtype: DType): { codes: number[]; values: number[] } {
  const codes: number[] = [];
  const values: number[] = [];
  for (let c = 0; c < 2 ** dtype.bits; c++) {
    const v = Tensor.fromBytes(dtype, [1], new Uint8Array([c])).get(0);
    if (Number.isFinite(v)) {
      codes.push(c);
      values.push(v);
    }
  }
  return { codes, values };
}

/** Tensor of `dtype` from raw bit patterns, one per element. */
function fromCodes(dtype: DType, shape: readonly number[], codes: readonly number[]): Tensor {
  const bits = dtype.bits;
  const bytes = new Uint8Array(Math.ceil((codes.length * bits) / 8));
  codes.forEach((code, i) => {
    for (let b = 0; b < bits; b++) {
      if ((code >> b) & 1) {
        const j = i * bits + b;
        bytes[j >> 3]! |= 1 << (j & 7);
      }
    }
  });
  return Tensor.fromBytes(dtype, shape, bytes);
}

/** A random n x k matrix in `format`: uniform random codes, scales in ±[0.5, 1.5) / 2^bits-ish. */
export function randomQuantizedMatrix(
  format: QuantFormat,
  n: number,
  k: number,
  seed: number,
): QuantizedMatrix {
  const r = rng(seed);
  const groups = groupCount(format, k);
  const { codes } = finiteCodes(format.weight);
  const weights = fromCodes(
    format.weight,
    [n, k],
    Array.from({ length: n * k }, () => codes[randomInt(r, 0, codes.length - 1)]!),
  );
  const sd = scaleDType(format.scale);
  const scaleValues = Array.from({ length: n * groups }, () => (r() < 0.5 ? -1 : 1) * (0.5 + r()) * 0.05);
  const scales = Tensor.fromArray(sd, [n, groups], scaleValues);
  const offset = offsetKind(format);
  const maxCode = 2 ** format.weight.bits - 1;
  return {
    format,
    n,
    k,
    weights,
    scales,
    ...(offset === 'zero'
      ? {
          zeros: Tensor.fromArray(
            format.weight,
            [n, groups],
            Array.from({ length: n * groups }, () => randomInt(r, 0, maxCode)),
          ),
        }
      : {}),
    ...(offset === 'min'
      ? {
          mins: Tensor.fromArray(
            sd,
            [n, groups],
            Array.from({ length: n * groups }, () => r() - 0.5),
          ),
        }
      : {}),
  };
}

/**
 * The dequantized weights in float64, row-major [n, k], and the magnitude of the terms each one is
 * computed from (|(q - z) s|, or |q s| + |min|): the scale of its f32 rounding error.
 */
export function dequantizeF64(qm: QuantizedMatrix): { w: Float64Array; abs: Float64Array } {
  const { n, k, format } = qm;
  const out = new Float64Array(n * k);
  const abs = new Float64Array(n * k);
  const q = qm.weights.toArray();
  const s = qm.scales.toArray();
  const z = qm.zeros?.toArray();
  const mn = qm.mins?.toArray();
  const groups = groupCount(format, k);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) {
      const g = r * groups + Math.floor(c / format.group);
      const v = q[r * k + c]!;
      out[r * k + c] = z ? (v - z[g]!) * s[g]! : mn ? v * s[g]! + mn[g]! : v * s[g]!;
      abs[r * k + c] = mn ? Math.abs(v * s[g]!) + Math.abs(mn[g]!) : Math.abs(out[r * k + c]!);
    }
  }
  return { w: out, abs };
}

/** Random activations [m, k] in (-1, 1), exactly representable in `act` (f32 or f16). */
export function randomActivations(act: typeof f32 | typeof f16, m: number, k: number, seed: number): Tensor {
  const r = rng(seed);
  return Tensor.fromArray(
    act,
    [m, k],
    Array.from({ length: m * k }, () => r() * 2 - 1),
  );
}

/**
 * y = x · Wᵀ in float64, and per output the sum of |x| * abs (the scale of the f32 rounding error).
 */
export function referenceMatmul(
  x: Tensor,
  { w, abs }: { w: Float64Array; abs: Float64Array },
  n: number,
): { y: Float64Array; mag: Float64Array } {
  const [m, k] = x.shape as [number, number];
  const xs = x.toArray();
  const y = new Float64Array(m * n);
  const mag = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      let a = 0;
      for (let c = 0; c < k; c++) {
        acc += xs[i * k + c]! * w[j * k + c]!;
        a += Math.abs(xs[i * k + c]!) * abs[j * k + c]!;
      }
      y[i * n + j] = acc;
      mag[i * n + j] = a;
    }
  }
  return { y, mag };
}
