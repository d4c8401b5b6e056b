// The WASM weight tiles (llm/kernels/weight-tiles.ts): the host layout against its formula for
// every width, both tile heights and both copy paths, the device matrices' layouts, and the
// planner's and the call's errors for what the tiles cannot serve. The kernels on tiles are checked
// against the f64 reference by kernels-wasm-ints (64-row tiles) and kernels-wasm-floats (8-row
// tiles, and 64-row ones for its int formats): N = 70, K = 203 and 328, so several row blocks, a
// partial K tile, and steps at column offsets 32, 64 and 96.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dt from '../../dsl/dtype.js';
import { f32, Tensor } from '../../dsl/index.js';
import { TILE_COLS as TC, tiledShape } from '../../llm/kernels/weight-tiles.js';
import { planQuantizedMatmul, quantizedMatmul, tileRows, uploadQuantizedMatrix } from '../../llm/matmul.js';
import { signBiased, tileWeights } from '../../llm/weight-tiles.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { randomBytes } from '../bench/common.js';
import { randomActivations, randomQuantizedMatrix } from './kernels-fixtures.js';

/** wt[(n / TR * cdiv(K, TC) + k / TC) * TR + n % TR, k % TC] = w[n, k], 0 elsewhere. */
function expectTiled(w: Tensor, wt: Tensor, TR: number): void {
  const [n, k] = w.shape as [number, number];
  expect(wt.shape).toEqual(tiledShape(n, k, TR));
  const want = new Uint32Array(wt.size);
  const pieces = Math.ceil(k / TC);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) {
      const row = (Math.floor(r / TR) * pieces + Math.floor(c / TC)) * TR + (r % TR);
      want[row * TC + (c % TC)] = w.getPattern(r * k + c);
    }
  }
  expect(wt.patterns()).toEqual(want);
}

describe('tileWeights', () => {
  const types = [dt.u1, dt.i2, dt.u3, dt.i4, dt.u5, dt.i6, dt.u7, dt.i8, dt.f8e4m3, dt.f6e3m2];
  for (const type of types) {
    it(`${type.name}: byte rows (K * bits % 8 == 0) and odd rows, edges in N and K`, () => {
      for (const [n, k] of [
        [70, 203],
        [130, 264],
        [1, 8],
        [64, 128],
      ] as const) {
        const bytes = randomBytes(Math.ceil((n * k * type.bits) / 8), n * 1000 + k + type.bits);
        const w = Tensor.fromBytes(type, [n, k], bytes);
        for (const rows of [64, 8]) expectTiled(w, tileWeights(w, rows), rows);
      }
    });
  }

  it('refuses a tensor that is not [N, K]', () => {
    expect(() => tileWeights(Tensor.zeros(dt.u4, [2, 3, 4]), 64)).toThrow(
      /expected an \[N, K\] tensor, got \[2,3,4\]/,
    );
    expect(() => tileWeights(Tensor.zeros(dt.u4, [2, 8]), 0)).toThrow(
      /rows must be a positive integer, got 0/,
    );
  });
});

describe('signBiased', () => {
  for (const bits of [1, 2, 3, 4, 5, 6, 7]) {
    it(`i${bits}: every code becomes q + ${2 ** (bits - 1)} in u${bits} (whole words and a byte tail)`, () => {
      const signed = dt.dtypeByName(`i${bits}`) as dt.IntDType;
      const twin = dt.dtypeByName(`u${bits}`) as dt.IntDType;
      for (const n of [8 * 300, 8 * 37]) {
        const w = Tensor.fromBytes(signed, [n], randomBytes(n, 500 + bits + n));
        const b = signBiased(w, twin);
        expect(b.dtype).toBe(twin);
        const q = w.toArray();
        expect(b.toArray()).toEqual(q.map((v) => v + 2 ** (bits - 1)));
        if (n > 2000) expect(new Set(q).size).toBe(2 ** bits); // every code occurs
      }
    });
  }

  it('refuses unsigned weights, a wrong twin and sizes that are not whole masks', () => {
    expect(() => signBiased(Tensor.zeros(dt.u4, [8]), dt.u4)).toThrow(
      /expected signed int weights and their unsigned twin, got u4, u4/,
    );
    expect(() => signBiased(Tensor.zeros(dt.i4, [8]), dt.u3)).toThrow(/got i4, u3/);
    expect(() => signBiased(Tensor.zeros(dt.i4, [12]), dt.u4)).toThrow(/12 elements is not a multiple of 8/);
  });
});

describe('WASM device matrices', () => {
  let device: WasmDevice;
  beforeAll(async () => {
    device = await createWasmDevice({ threads: 1 });
  });
  afterAll(() => device.destroy());

  it('are uploaded as tiles of 64 rows (int8 path by default) or 8 rows (float path), bit for bit the host layout', async () => {
    for (const [weight, group, layout] of [
      [dt.u3, 32, 'tiles64'],
      [dt.i8, 32, 'tiles64'],
      [dt.u8, 16, 'tiles64'],
      [dt.u2, 16, 'tiles8'], // a 16-weight activation block holds no 32-weight chunk: float path
      [dt.f6e3m2, 32, 'tiles8'],
      [dt.f4e2m1, 32, 'tiles8'],
    ] as const) {
      const qm = randomQuantizedMatrix({ weight, group, scale: 'f16' }, 70, 203, 11);
      const dqm = uploadQuantizedMatrix(device, qm);
      expect(dqm.layout).toBe(layout);
      expect(dqm.weights.shape).toEqual(tiledShape(70, 203, tileRows(layout)));
      expectTiled(qm.weights, await device.read(dqm.weights as never), tileRows(layout));
    }
  });

  it('store signed 1- to 7-bit weights sign-biased in their unsigned twin, 8 bits as they are', async () => {
    for (const [weight, bias, stored] of [
      [dt.i3, 4, dt.u3],
      [dt.i1, 1, dt.u1],
      [dt.i7, 64, dt.u7],
      [dt.i8, 0, dt.i8],
      [dt.u4, 0, dt.u4],
    ] as const) {
      const qm = randomQuantizedMatrix({ weight, group: 32, scale: 'f16' }, 70, 203, 14);
      const dqm = uploadQuantizedMatrix(device, qm);
      expect(dqm.signBias).toBe(bias);
      expect(dqm.weights.dtype).toBe(stored);
      const tiles = tileWeights(qm.weights, 64);
      const want = bias ? signBiased(tiles, stored) : tiles;
      expect((await device.read(dqm.weights as never)).patterns()).toEqual(want.patterns());
    }
  });

  it('refuses a matrix whose weights lie in rows', async () => {
    const qm = randomQuantizedMatrix({ weight: dt.u4, group: 32, scale: 'f16' }, 8, 64, 12);
    const dqm = { ...uploadQuantizedMatrix(device, qm), layout: 'rows' as const };
    await expect(quantizedMatmul(device, randomActivations(f32, 1, 64, 13), dqm)).rejects.toThrow(
      /weights lie in 'rows' with sign bias 0, but wasm kernels read u4 weights in 'tiles64' with sign bias 0; make it with uploadQuantizedMatrix/,
    );
  });

  it('plans only K steps and column blocks that stay inside a tile', () => {
    const fmt = { weight: dt.u4, group: 256, scale: 'f16' } as const;
    expect(planQuantizedMatmul(1, 4096, 4096, fmt, 'wasm').consts.BK).toBe(128);
    expect(() =>
      planQuantizedMatmul(1, 4096, 4096, fmt, 'wasm', { path: 'float', consts: { BK: 256 } }),
    ).toThrow(/BN must divide 64 and the K step divide 128; got BN 8, K step 256/);
    // WebGPU reads rows: any candidate goes.
    expect(
      planQuantizedMatmul(1, 4096, 4096, fmt, 'webgpu', { path: 'float', consts: { BK: 256 } }).consts.BK,
    ).toBe(256);
  });
});
