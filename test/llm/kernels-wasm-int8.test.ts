// quantizedMatmul on WASM, int8-activation path (the default for int weights at M <= 8): every
// weight type with an integer form (i1..i8, u1..u8, f4e2m1, f5e2m2, f6e2m3, f6e3m2) x group {32, 64,
// 128, per channel} x M {1, 3, 8, 33} (kernels-matrix.ts), against the float64 reference.
import { createWasmDevice } from '../../runtime/index.js';
import { describeMatrix, INT8_WEIGHTS } from './kernels-matrix.js';

describeMatrix(
  'quantizedMatmul on WASM, int8 activations',
  () => createWasmDevice({ threads: 1 }),
  INT8_WEIGHTS,
  'int8',
  7000,
);
