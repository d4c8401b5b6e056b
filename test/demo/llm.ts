// The LLM part of `npm run demo`: a random 4096x4096 f32 matrix quantized to u4, i3, u2, f4e2m1,
// f6e3m2, f8e4m3 and i8 (group 32, f16 scales, round to nearest), then per format and device: the
// weight error, the GEMV output's error against the float64 product with the f32 weights, and the
// GEMV time (median of several calls after a compiling first call). WebGPU in Node runs on
// SwiftShader (about 1 GFLOP/s and seconds per shader compile), so it gets the first 256 rows only
// and stops, saying so, once it has spent its time budget.

import * as dt from '../../dsl/dtype.js';
import { type DType, f32, Tensor } from '../../dsl/index.js';
import { type LlmDevice, type LlmTensor, quantizedMatmul } from '../../llm/matmul.js';
import { quantize } from '../../llm/quantize.js';
import { firstRows, type QuantizedMatrix } from '../../llm/quantized-matrix.js';

export interface DemoDevice {
  /** 'wasm-simd', 'webgpu', ... */
  readonly name: string;
  readonly device: LlmDevice;
}

const N = 4096;
const K = 4096;
const GROUP = 32;
const FORMATS: DType[] = [dt.u4, dt.i3, dt.u2, dt.f4e2m1, dt.f6e3m2, dt.f8e4m3, dt.i8];
/** WebGPU: rows of the matrix it multiplies, and the seconds it may spend before the rest is skipped. */
const WEBGPU_ROWS = 256;
const WEBGPU_BUDGET_S = 20;

/** Deterministic approximately normal values (sum of four uniforms), so every run prints the same. */
function randomNormal(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const u = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (u() + u() + u() + u() - 2) * 0.866;
  return out;
}

/** ||y - ref|| / ||ref|| over the first y.length outputs. */
function relError(y: Float32Array, ref: Float64Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < y.length; i++) {
    num += (y[i]! - ref[i]!) ** 2;
    den += ref[i]! ** 2;
  }
  return Math.sqrt(num / den);
}

async function timeGemv(
  device: LlmDevice,
  x: Tensor,
  qm: QuantizedMatrix,
): Promise<{ y: Float32Array; ms: number; firstMs: number }> {
  const up = device as unknown as { upload(t: Tensor): LlmTensor; read(t: LlmTensor): Promise<Tensor> };
  const dx = up.upload(x);
  const out = (device as unknown as { tensor(d: DType, s: number[]): LlmTensor }).tensor(f32, [1, qm.n]);
  // flush(): a WebGPU launch returns once submitted; time until the work is done.
  const run = async () => {
    await quantizedMatmul(device, dx, qm, { out });
    await device.flush();
  };
  const t0 = performance.now();
  await run();
  const firstMs = performance.now() - t0;
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    const t = performance.now();
    await run();
    times.push(performance.now() - t);
  }
  const y = (await up.read(out)).toFloat32Array();
  dx.destroy();
  out.destroy();
  times.sort((a, b) => a - b);
  return { y, ms: times[3]!, firstMs };
}

export async function demoLlm(devices: readonly DemoDevice[]): Promise<void> {
  console.log(
    `\nLLM: a random ${N}x${K} f32 matrix quantized per format (group ${GROUP}, f16 scales, round to nearest);` +
      ` y = W x, error = ||y - y_f32|| / ||y_f32|| against float64 with the f32 weights\n`,
  );
  const w = randomNormal(N * K, 7);
  const xs = randomNormal(K, 8);
  const x = Tensor.fromArray(f32, [1, K], xs);
  const ref = new Float64Array(N);
  for (let r = 0; r < N; r++) {
    let s = 0;
    for (let c = 0; c < K; c++) s += w[r * K + c]! * xs[c]!;
    ref[r] = s;
  }
  console.log(
    'format    weight error   device       rows   GEMV error   GEMV ms (median of 7; first call incl. compile)',
  );
  let gpuSpent = 0;
  let gpuSkipped = false;
  for (const weight of FORMATS) {
    const q = quantize(w, N, K, {
      weight: weight as QuantizedMatrix['format']['weight'],
      group: GROUP,
      scale: 'f16',
    });
    const head = `${weight.name.padEnd(8)}  ${q.error.relative.toExponential(2).padStart(12)}`;
    let first = true;
    for (const { name, device } of devices) {
      const prefix = first ? head : ' '.repeat(head.length);
      first = false;
      const gpu = device.backend === 'webgpu';
      if (gpu && gpuSkipped) continue;
      if (gpu && gpuSpent > WEBGPU_BUDGET_S * 1000) {
        console.log(
          `${prefix}   ${name.padEnd(11)}  skipped from here on: SwiftShader spent ${(gpuSpent / 1000).toFixed(0)} s`,
        );
        gpuSkipped = true;
        continue;
      }
      const rows = gpu ? WEBGPU_ROWS : N;
      const t0 = performance.now();
      try {
        const r = await timeGemv(device, x, rows === N ? q.matrix : firstRows(q.matrix, rows));
        const err = relError(r.y, ref);
        console.log(
          `${prefix}   ${name.padEnd(11)}  ${String(rows).padStart(4)}   ${err.toExponential(2).padStart(10)}   ${r.ms.toFixed(2).padStart(8)} (${r.firstMs.toFixed(0)})`,
        );
      } catch (e) {
        console.log(`${prefix}   ${name.padEnd(11)}  failed: ${(e as Error).message.split('\n')[0]}`);
      }
      if (gpu) gpuSpent += performance.now() - t0;
    }
  }
}
