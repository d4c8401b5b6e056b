// Runs quantizedMatmul on a device and compares it with the float64 reference (docs/llm.md,
// "Accuracy"): the float path within (K + S + 8) * 2^-24 * sum|x| |w| per output (the f32 rounding
// bound of dequantize, multiply and any-order summation, S = number of K splits); the int8 path
// within that plus the activation rounding bound sum over blocks of (scale_b * 0.5001) * sum|w|.
import { expect } from 'vitest';
import { f32, Tensor } from '../../dsl/index.js';
import {
  type LlmDevice,
  type MatmulOptions,
  planQuantizedMatmul,
  quantizedMatmul,
} from '../../llm/matmul.js';
import type { QuantizedMatrix } from '../../llm/quantized-matrix.js';
import { dequantizeF64, referenceMatmul } from './kernels-fixtures.js';

export interface CheckResult {
  /** Largest error as a fraction of its allowed bound (must be <= 1). */
  readonly worst: number;
  readonly splits: number;
}

export async function checkMatmul(
  device: LlmDevice,
  x: Tensor,
  qm: QuantizedMatrix,
  opts: MatmulOptions = {},
  label = '',
): Promise<CheckResult> {
  const [m, k] = x.shape as [number, number];
  const n = qm.n;
  const plan = planQuantizedMatmul(m, n, k, qm.format, device.backend, opts);
  // Poison the output so lanes the kernel fails to write show up.
  const out = (device as unknown as { upload(t: Tensor): never }).upload(
    Tensor.zeros(f32, [m, n]).fill(Number.NaN),
  );
  await quantizedMatmul(device, x, qm, { ...opts, out });
  const y = (await (device as unknown as { read(t: unknown): Promise<Tensor> }).read(out)).toArray();
  (out as { destroy(): void }).destroy();
  const w = dequantizeF64(qm);
  const ref = referenceMatmul(x, w, n);
  const u = 2 ** -24;
  const floatBound = (k + plan.splits + 8) * u;
  let actBound: Float64Array | undefined;
  if (plan.path === 'int8') actBound = activationBound(x, w.w, n, plan.qb);
  let worst = 0;
  for (let i = 0; i < m * n; i++) {
    const bound = floatBound * ref.mag[i]! + (actBound?.[i] ?? 0) + 1e-30;
    const err = Math.abs(y[i]! - ref.y[i]!);
    const ratio = Number.isNaN(err) ? Number.POSITIVE_INFINITY : err / bound;
    if (ratio > worst) worst = ratio;
    if (!(ratio <= 1)) {
      expect.fail(
        `${label} y[${Math.floor(i / n)}, ${i % n}] = ${y[i]}, reference ${ref.y[i]}: error ${err.toExponential(2)} > bound ${bound.toExponential(2)}`,
      );
    }
  }
  return { worst, splits: plan.splits };
}

/** Per output, sum over activation blocks b of (max|x_b| / 127) * 0.5001 * sum_{k in b} |w[n, k]|. */
function activationBound(x: Tensor, w: Float64Array, n: number, qb: number): Float64Array {
  const [m, k] = x.shape as [number, number];
  const xs = x.toArray();
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let b0 = 0; b0 < k; b0 += qb) {
      let amax = 0;
      for (let c = b0; c < Math.min(k, b0 + qb); c++) amax = Math.max(amax, Math.abs(xs[i * k + c]!));
      const half = (amax / 127) * 0.5001;
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let c = b0; c < Math.min(k, b0 + qb); c++) s += Math.abs(w[j * k + c]!);
        out[i * n + j]! += half * s;
      }
    }
  }
  return out;
}
