// quantizedMatmul on the WASM device, float path, every integer weight type (i1..i8, u1..u8) x group
// {32, 64, 128, per channel} x M {1, 3, 8, 33}, K = 203 and N = 70 (neither a multiple of any tile
// or group), against the float64 reference (kernels-check.ts). Activations and scales alternate
// between f32 and f16 across the matrix; a few unsigned formats use float mins instead of zero points.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dt from '../../dsl/dtype.js';
import { type DType, f16, f32 } from '../../dsl/index.js';
import type { QuantFormat } from '../../llm/quantized-matrix.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { checkMatmul } from './kernels-check.js';
import { randomActivations, randomQuantizedMatrix } from './kernels-fixtures.js';

const K = 203;
const N = 70;
const GROUPS = [32, 64, 128, K];
const MS = [1, 3, 8, 33];
const INTS: DType[] = [
  dt.i1,
  dt.i2,
  dt.i3,
  dt.i4,
  dt.i5,
  dt.i6,
  dt.i7,
  dt.i8,
  dt.u1,
  dt.u2,
  dt.u3,
  dt.u4,
  dt.u5,
  dt.u6,
  dt.u7,
  dt.u8,
];

let device: WasmDevice;
beforeAll(async () => {
  device = await createWasmDevice({ threads: 1 });
});
afterAll(() => device.destroy());

describe('quantizedMatmul on WASM, integer weights, float path', () => {
  INTS.forEach((weight, wi) => {
    it(`${weight.name}: groups 32, 64, 128, per channel x M 1, 3, 8, 33`, async () => {
      for (const [gi, group] of GROUPS.entries()) {
        const seed = 1000 * wi + gi;
        const min = weight.kind === 'int' && !weight.signed && (wi + gi) % 4 === 0;
        const format: QuantFormat = {
          weight: weight as QuantFormat['weight'],
          group,
          scale: seed % 2 ? 'f16' : 'f32',
          ...(min ? { offset: 'min' as const } : {}),
        };
        const qm = randomQuantizedMatrix(format, N, K, seed);
        for (const m of MS) {
          const x = randomActivations(seed % 3 ? f32 : f16, m, K, seed * 7 + m);
          // The float path explicitly: the default for int weights at M <= 8 is the int8 path.
          const r = await checkMatmul(device, x, qm, { path: 'float' }, `${weight.name}/g${group}/M${m}`);
          expect(r.worst).toBeLessThanOrEqual(1);
        }
      }
    });
  });
});
