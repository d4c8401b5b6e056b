// quantizedMatmul on WebGPU (SwiftShader in Node), int8 path: every weight type with an integer
// form (i1..i8, u1..u8, f4e2m1, f5e2m2, f6e2m3, f6e3m2) x group {32, 64, 128, per channel} x M {1,
// 3, 8, 33}, K = 203 and N = 70 (kernels-matrix.ts), against the float64 reference. SwiftShader
// compiles each kernel variant in 1-2 s, so the WebGPU matrix is split over four files, which
// vitest runs side by side where it has more than one worker (docs/llm.md, "Tests").
import { createDevice } from '../../runtime/index.js';
import { describeMatrix, INT8_WEIGHTS } from './kernels-matrix.js';

describeMatrix(
  'quantizedMatmul on WebGPU, int8 activations',
  () => createDevice(),
  INT8_WEIGHTS,
  'int8',
  14000,
  300_000,
);
