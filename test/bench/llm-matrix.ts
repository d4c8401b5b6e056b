// The LLM benches' weights (shared by llm.ts in Node and browser-llm-page.ts in Chromium, so both
// measure the same matrices): random quantized matrices from random bytes, and the error of an
// output against the float64 product with the dequantized weights.
import { f16, Tensor } from '../../dsl/index.js';
import { firstRows, type QuantFormat, type QuantizedMatrix } from '../../llm/quantized-matrix.js';
import { dequantizeF64 } from '../llm/kernels-fixtures.js';
import { randomBytes, randomF32, relErr } from './common.js';

/**
 * Calls per timed run of the GEMV variants against peers (tilevm, onnxruntime; in Node and in
 * Chromium), each on the next matrix, reported per call, after GEMV_WARM untimed calls: the steady
 * state of back-to-back calls, like the matmuls of a decode step (llama.cpp's figure is a decode
 * step, after one untimed step). A call after other work ran slower: the u4 int8 GEMV took 0.93 ms
 * after 64 MB of unrelated reads and 0.83-0.87 ms after a 20 ms idle gap, against 0.73-0.80 ms back
 * to back (docs/benchmarks.md, 'Method').
 */
export const GEMV_SEQUENCE = 4;
export const GEMV_WARM = 2;

/** A random n x k matrix in `format` built from random bytes (zero points 8 for u4, as MatMulNBits). */
export function randomMatrix(format: QuantFormat, n: number, k: number, seed: number): QuantizedMatrix {
  const w = format.weight;
  const groups = Math.ceil(k / format.group);
  const bytes = randomBytes(Math.ceil((n * k * w.bits) / 8), seed);
  // 8-bit floats: clear the second-highest bit of each code so no NaN/Inf patterns occur (the
  // smaller formats have none).
  if (w.kind === 'float' && w.bits === 8) for (let i = 0; i < bytes.length; i++) bytes[i]! &= 0xbf;
  const scales = Tensor.fromArray(
    f16,
    [n, groups],
    randomF32(n * groups, seed + 1).map((v) => 0.002 + 0.004 * (v + 0.5)),
  );
  const unsigned = w.kind === 'int' && !w.signed;
  const zeros = unsigned
    ? Tensor.fromBytes(
        w,
        [n, groups],
        new Uint8Array(Math.ceil((n * groups * w.bits) / 8)).fill(w.bits === 4 ? 0x88 : 0x55),
      )
    : undefined;
  return {
    format,
    n,
    k,
    weights: Tensor.fromBytes(w, [n, k], bytes),
    scales,
    ...(zeros ? { zeros } : {}),
  };
}

/** Max |y - ref| / max |ref| over the first 64 outputs, ref in float64. */
export function errorVsF64(qm: QuantizedMatrix, x: Float32Array, y: Float32Array): number {
  const rows = 64;
  const { w } = dequantizeF64(firstRows(qm, rows));
  const ref = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < qm.k; c++) s += w[r * qm.k + c]! * x[c]!;
    ref[r] = s;
  }
  return relErr(y.subarray(0, rows), ref);
}
