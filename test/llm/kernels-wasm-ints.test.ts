// quantizedMatmul on the WASM device, float path, every integer weight type (i1..i8, u1..u8) x group
// {32, 64, 128, per channel} x M {1, 3, 8, 33}, K = 203 and N = 70 (neither a multiple of any tile
// or group), against the float64 reference (kernels-matrix.ts). The int8 path, the default for
// these types at M <= 8, has the same matrix in kernels-wasm-int8.test.ts.
import { createWasmDevice } from '../../runtime/index.js';
import { describeMatrix, INT_WEIGHTS } from './kernels-matrix.js';

describeMatrix(
  'quantizedMatmul on WASM, integer weights, float path',
  () => createWasmDevice({ threads: 1 }),
  INT_WEIGHTS,
  'float',
  1000,
);
