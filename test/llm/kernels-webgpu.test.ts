// quantizedMatmul on WebGPU. SwiftShader in Node compiles each kernel variant in 2-4 s and runs at
// about 1 GFLOP/s, so this samples the matrix: ten formats chosen to cover signed, unsigned (zero
// points and mins), float weights, every group kind, every M class (1, 3, 8, 33), both activation
// dtypes and, at M = 1 (weights loaded as runs, dsl/backend/wgsl/runs.ts), widths whose fields
// straddle words, plus the int8 path and split-K; K = 203 and N = 70 leave edge tiles. The full
// matrix runs on WASM (kernels-wasm-*.test.ts) through the same kernels.
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as dt from '../../dsl/dtype.js';
import { type DType, f16, f32 } from '../../dsl/index.js';
import { planQuantizedMatmul } from '../../llm/matmul.js';
import type { QuantFormat } from '../../llm/quantized-matrix.js';
import { createDevice, type WebGpuDevice } from '../../runtime/index.js';
import { describeWebGpu } from '../helpers/webgpu.js';
import { checkMatmul } from './kernels-check.js';
import { randomActivations, randomQuantizedMatrix } from './kernels-fixtures.js';

const K = 203;
const N = 70;
/** [weight, group, M, activation dtype, offset] */
const SAMPLE: [string, number, number, 'f32' | 'f16', 'min' | undefined][] = [
  ['i3', 32, 1, 'f32', undefined],
  ['u4', 128, 3, 'f16', undefined],
  ['u8', K, 33, 'f32', undefined],
  ['f4e2m1', 64, 1, 'f16', undefined],
  ['f8e4m3', 32, 8, 'f32', undefined],
  ['u2', 64, 1, 'f32', 'min'],
  ['f6e3m2', 128, 1, 'f32', undefined],
  ['i1', K, 1, 'f32', undefined],
  // M 1 loads weights as runs (dsl/backend/wgsl/runs.ts): 7 and 5 bits straddle words.
  ['u7', 128, 1, 'f32', undefined],
  ['i5', 64, 1, 'f16', undefined],
];

describeWebGpu('quantizedMatmul on WebGPU', () => {
  let device: WebGpuDevice;
  beforeAll(async () => {
    device = await createDevice();
  });
  afterAll(() => device?.destroy());

  it.each(SAMPLE)(
    '%s / group %i / M %i / %s activations / offset %s (float path)',
    async (name, group, m, act, offset) => {
      const weight = (dt as unknown as Record<string, DType>)[name]!;
      const fmt: QuantFormat = {
        weight: weight as QuantFormat['weight'],
        group,
        scale: m % 2 ? 'f16' : 'f32',
        ...(offset ? { offset } : {}),
      };
      const qm = randomQuantizedMatrix(fmt, N, K, 300 + group + m);
      const x = randomActivations(act === 'f16' ? f16 : f32, m, K, 400 + m);
      await checkMatmul(device, x, qm, {}, `webgpu ${weight.name}/g${group}/M${m}`);
    },
    60_000,
  );

  it('int8 activations: u4 with zero points, M 1; i8 per channel, M 33', async () => {
    for (const [weight, group, m] of [
      [dt.u4, 32, 1],
      [dt.i8, K, 33],
    ] as const) {
      const qm = randomQuantizedMatrix({ weight, group, scale: 'f16' }, N, K, 500 + m);
      const x = randomActivations(f32, m, K, 600 + m);
      await checkMatmul(device, x, qm, { path: 'int8' }, `webgpu int8 ${weight.name}/M${m}`);
    }
  }, 60_000);

  it('split-K over a long K', async () => {
    const fmt: QuantFormat = { weight: dt.u4, group: 128, scale: 'f16' };
    const k = 2100;
    expect(planQuantizedMatmul(1, 24, k, fmt, 'webgpu').splits).toBeGreaterThan(1);
    const qm = randomQuantizedMatrix(fmt, 24, k, 700);
    const r = await checkMatmul(device, randomActivations(f32, 1, k, 701), qm, {}, 'webgpu split-K');
    expect(r.splits).toBeGreaterThan(1);
  }, 60_000);
});
