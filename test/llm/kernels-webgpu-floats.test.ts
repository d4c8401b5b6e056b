// quantizedMatmul on WebGPU (SwiftShader in Node), float path: f4e2m1, f5e2m2, f6e3m2, f6e2m3,
// f8e4m3, f8e5m2 x group {32, 64, 128, per channel} x M {1, 3, 8, 33}, K = 203 and N = 70 (kernels-
// matrix.ts), against the float64 reference. SwiftShader compiles each kernel variant in 1-2 s, so
// the WebGPU matrix is split over four files, which vitest runs side by side where it has more than
// one worker (docs/llm.md, "Tests").
import { afterAll, beforeAll, describe, it } from 'vitest';
import { createDevice, type WebGpuDevice } from '../../runtime/index.js';
import { checkFormatCell, describeMatrix, FLOAT_WEIGHTS, OTHER_FLOAT_WEIGHTS } from './kernels-matrix.js';

describeMatrix(
  'quantizedMatmul on WebGPU, small-float weights, float path',
  () => createDevice(),
  FLOAT_WEIGHTS,
  'float',
  13000,
  300_000,
);

describe('quantizedMatmul on WebGPU, any other small float', () => {
  let device: WebGpuDevice;
  beforeAll(async () => {
    device = await createDevice();
  });
  afterAll(() => device?.destroy());
  OTHER_FLOAT_WEIGHTS.forEach((weight, i) => {
    it(`${weight.name}: group 64 x M 1, both paths where it has an integer form`, () =>
      checkFormatCell(device, weight, [1], 16000 + i));
  });
});
