// quantizedMatmul on WebGPU (SwiftShader in Node), float path: i1..i8 x group {32, 64, 128, per
// channel} x M {1, 3, 8, 33}, K = 203 and N = 70 (kernels-matrix.ts), against the float64
// reference. SwiftShader compiles each kernel variant in 1-2 s, so the WebGPU matrix is split over
// four files, which vitest runs side by side where it has more than one worker (docs/llm.md,
// "Tests").
import { createDevice } from '../../runtime/index.js';
import { describeMatrix, INT_WEIGHTS } from './kernels-matrix.js';

describeMatrix(
  'quantizedMatmul on WebGPU, integer weights i1..i8, float path',
  () => createDevice(),
  INT_WEIGHTS.slice(0, 8),
  'float',
  11000,
  300_000,
);
