// quantizedMatmul on the WASM device: small-float weights (float path) over the full group x M
// matrix (kernels-matrix.ts); int8-path cases beyond that matrix (kernels-wasm-int8.test.ts has
// it); split-K; and the errors for bad input. Shapes leave edge tiles in K and N (docs/llm.md, "Tests").
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dt from '../../dsl/dtype.js';
import { type DType, f4e2m1, f16, f32, Tensor } from '../../dsl/index.js';
import { planQuantizedMatmul, quantizedMatmul } from '../../llm/matmul.js';
import type { QuantFormat } from '../../llm/quantized-matrix.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { checkMatmul } from './kernels-check.js';
import { randomActivations, randomQuantizedMatrix } from './kernels-fixtures.js';
import {
  checkFormatCell,
  describeMatrix,
  FLOAT_WEIGHTS,
  MATRIX_K,
  MATRIX_N,
  OTHER_FLOAT_WEIGHTS,
} from './kernels-matrix.js';

const K = MATRIX_K;
const N = MATRIX_N;

let device: WasmDevice;
beforeAll(async () => {
  device = await createWasmDevice({ threads: 2 });
});
afterAll(() => device.destroy());

function format(weight: DType, group: number, seed: number): QuantFormat {
  return { weight: weight as QuantFormat['weight'], group, scale: seed % 2 ? 'f16' : 'f32' };
}

describeMatrix(
  'quantizedMatmul on WASM, small-float weights, float path',
  () => createWasmDevice({ threads: 2 }),
  FLOAT_WEIGHTS,
  'float',
  5000,
);

describe('quantizedMatmul on WASM, any other small float', () => {
  OTHER_FLOAT_WEIGHTS.forEach((weight, i) => {
    it(`${weight.name}: group 64 x M 1, 3, both paths where it has an integer form`, () =>
      checkFormatCell(device, weight, [1, 3], 6000 + i));
  });
});

// The int8 path of every type with an integer form: kernels-wasm-int8.test.ts.
describe('quantizedMatmul on WASM, int8 activations', () => {
  it('5-bit weights in whole QB = 128 steps (the dot runs periods of 4 chunks) and a K edge', async () => {
    // K = 328: two 128-wide steps of 4 chunks each (one period of the 5-bit field layout), then 72
    // (2 chunks and an 8-weight tail); rows 205 bytes apart, so the period's loads sit off 16-byte
    // boundaries on odd rows. N = 70 leaves an edge tile; M = 33 takes the GEMM tiles.
    const k = 328;
    for (const [i, fmt] of [
      { weight: dt.i5, group: 128, scale: 'f16' },
      { weight: dt.u5, group: 128, scale: 'f32' },
      { weight: dt.u5, group: 128, scale: 'f16', offset: 'min' },
      { weight: dt.i5, group: k, scale: 'f32' },
    ].entries()) {
      const qm = randomQuantizedMatrix(fmt as QuantFormat, N, k, 7300 + i);
      for (const m of [1, 3, 33]) {
        const x = randomActivations(i % 2 ? f32 : f16, m, k, 7400 + i + m);
        await checkMatmul(device, x, qm, { path: 'int8' }, `int8 ${fmt.weight.name}/g${fmt.group}/M${m}`);
      }
    }
  });
  it('refuses formats without an integer form, naming the fix', () => {
    expect(() => planQuantizedMatmul(1, N, K, format(dt.f8e4m3, 32, 0), 'wasm', { path: 'int8' })).toThrow(
      /f8e4m3 .* no int8 path.*path: 'float'/,
    );
  });
});

describe('split-K', () => {
  it('splits a long K over a narrow output and matches the reference (float and int8 paths)', async () => {
    const k = 2300;
    const n = 21;
    const fmt: QuantFormat = { weight: dt.u4, group: 64, scale: 'f16' };
    const plan = planQuantizedMatmul(1, n, k, fmt, 'wasm', { threads: 2 });
    expect(plan.splits).toBeGreaterThan(1);
    const qm = randomQuantizedMatrix(fmt, n, k, 91);
    for (const m of [1, 5]) {
      const x = randomActivations(f32, m, k, 92 + m);
      const r = await checkMatmul(device, x, qm, { threads: 2 }, `split-K M${m}`);
      expect(r.splits).toBeGreaterThan(1);
      const ri = await checkMatmul(device, x, qm, { threads: 2, path: 'int8' }, `split-K int8 M${m}`);
      expect(ri.splits).toBeGreaterThan(1);
    }
  });
  it('uses explicit splits and consts', async () => {
    const fmt: QuantFormat = { weight: dt.i4, group: 32, scale: 'f32' };
    const qm = randomQuantizedMatrix(fmt, 37, 300, 93);
    const x = randomActivations(f32, 2, 300, 94);
    const r = await checkMatmul(device, x, qm, { splits: 3, consts: { BN: 16, BK: 32 } }, 'splits 3');
    expect(r.splits).toBe(3);
  });
});

describe('bad input', () => {
  const qm = randomQuantizedMatrix({ weight: f4e2m1, group: 32, scale: 'f16' }, 8, 64, 1);
  it('rejects x of the wrong width or dtype, and a wrong out tensor', async () => {
    await expect(quantizedMatmul(device, Tensor.zeros(f32, [1, 63]), qm)).rejects.toThrow(
      'quantizedMatmul: x has shape [1,63]; expected [M, 64] for a 8x64 matrix',
    );
    await expect(quantizedMatmul(device, Tensor.zeros(dt.i8, [1, 64]), qm)).rejects.toThrow(
      'x must be f32 or f16, got i8',
    );
    const out = device.tensor(f32, [2, 8]);
    await expect(quantizedMatmul(device, Tensor.zeros(f32, [1, 64]), qm, { out })).rejects.toThrow(
      'out must be f32[1, 8], got f32[2,8]',
    );
  });
  it('rejects an inconsistent matrix and an unsupported group', async () => {
    await expect(
      quantizedMatmul(device, Tensor.zeros(f32, [1, 64]), { ...qm, scales: qm.weights }),
    ).rejects.toThrow(/scales has dtype f4e2m1; the format needs f16/);
    expect(() => planQuantizedMatmul(1, 8, 200, { weight: dt.u4, group: 7, scale: 'f16' }, 'wasm')).toThrow(
      /group 7 is not supported/,
    );
  });
});
