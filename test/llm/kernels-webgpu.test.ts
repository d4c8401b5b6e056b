// quantizedMatmul on WebGPU beyond the format matrix (kernels-webgpu-*.test.ts): split-K over a
// long K.
import { afterAll, beforeAll, expect, it } from 'vitest';
import * as dt from '../../dsl/dtype.js';
import { f32 } from '../../dsl/index.js';
import { planQuantizedMatmul } from '../../llm/matmul.js';
import type { QuantFormat } from '../../llm/quantized-matrix.js';
import { createDevice, type WebGpuDevice } from '../../runtime/index.js';
import { describeWebGpu } from '../helpers/webgpu.js';
import { checkMatmul } from './kernels-check.js';
import { randomActivations, randomQuantizedMatrix } from './kernels-fixtures.js';

describeWebGpu('quantizedMatmul on WebGPU', () => {
  let device: WebGpuDevice;
  beforeAll(async () => {
    device = await createDevice();
  });
  afterAll(() => device?.destroy());

  it('split-K over a long K (float and int8 paths)', async () => {
    const fmt: QuantFormat = { weight: dt.u4, group: 128, scale: 'f16' };
    const k = 2100;
    expect(planQuantizedMatmul(1, 24, k, fmt, 'webgpu').splits).toBeGreaterThan(1);
    const qm = randomQuantizedMatrix(fmt, 24, k, 700);
    const x = randomActivations(f32, 1, k, 701);
    for (const path of ['float', 'int8'] as const) {
      const r = await checkMatmul(device, x, qm, { path }, `webgpu split-K ${path}`);
      expect(r.splits).toBeGreaterThan(1);
    }
  }, 60_000);
});
