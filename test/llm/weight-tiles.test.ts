// The WASM weight tiles (llm/kernels/weight-tiles.ts): the tile kernel against the layout's formula
// for every width, both tile heights, with and without the sign bias, rows that start on a word and
// rows that do not, on WASM (1 and 2 threads) and WebGPU; the device matrices' layouts; and the
// planner's and the call's errors for what the tiles cannot serve. The kernels on tiles are checked
// against the f64 reference by kernels-wasm-ints (64-row tiles) and kernels-wasm-floats (8-row
// tiles, and 64-row ones for its int formats): N = 70, K = 203 and 328, so several row blocks, a
// partial K tile, and steps at column offsets 32, 64 and 96.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dt from '../../dsl/dtype.js';
import { f32, Tensor } from '../../dsl/index.js';
import { unsignedTwin } from '../../llm/kernels/spec.js';
import { TILE_COLS as TC, tiledShape, tileWeightsKernel } from '../../llm/kernels/weight-tiles.js';
import {
  type LlmDevice,
  planQuantizedMatmul,
  quantizedMatmul,
  tileRows,
  uploadQuantizedMatrix,
} from '../../llm/matmul.js';
import { createDevice, createWasmDevice, type WasmDevice, type WebGpuDevice } from '../../runtime/index.js';
import { randomBytes } from '../bench/common.js';
import { describeWebGpu } from '../helpers/webgpu.js';
import { randomActivations, randomQuantizedMatrix } from './kernels-fixtures.js';

/**
 * wt[(n / TR * cdiv(K, TC) + k / TC) * TR + n % TR, k % TC] = w[n, k], 0 elsewhere, as codes XOR
 * `flip` (the sign bias: q + 2^(bits - 1) as the unsigned twin's code). A small float's NaN codes
 * come out as its one NaN code: the kernel loads and stores values (a NaN weight makes its outputs
 * NaN whatever its code).
 */
function expectTiled(w: Tensor, wt: Tensor, TR: number, flip = 0): void {
  const [n, k] = w.shape as [number, number];
  expect(wt.shape).toEqual(tiledShape(n, k, TR));
  const want = new Uint32Array(wt.size).fill(flip);
  const pieces = Math.ceil(k / TC);
  for (let r = 0; r < n; r++) {
    for (let c = 0; c < k; c++) {
      const row = (Math.floor(r / TR) * pieces + Math.floor(c / TC)) * TR + (r % TR);
      const code = w.getPattern(r * k + c);
      const nan = w.dtype.kind === 'float' && Number.isNaN(dt.decode(w.dtype, code));
      want[row * TC + (c % TC)] = (nan ? dt.encode(w.dtype, Number.NaN) : code) ^ flip;
    }
  }
  expect(wt.patterns()).toEqual(want);
}

/** Runs the tile kernel on `device` and reads the tiles back. */
async function tileOn(device: LlmDevice, w: Tensor, rows: number, bias: boolean): Promise<Tensor> {
  const stored = bias ? unsignedTwin(w.dtype) : w.dtype;
  const d = device as WasmDevice;
  const src = d.upload(w);
  const wt = d.upload(Tensor.zeros(stored, tiledShape(w.shape[0]!, w.shape[1]!, rows)).fill(1));
  await tileWeightsKernel(w.dtype, rows, bias).launch(d, { w: src, wt } as never);
  const out = await d.read(wt);
  src.destroy();
  wt.destroy();
  return out;
}

const TILE_TYPES = [dt.u1, dt.i2, dt.u3, dt.i4, dt.u5, dt.i6, dt.u7, dt.i8, dt.f8e4m3, dt.f6e3m2];
/** Byte rows (K * bits % 8 == 0) and odd rows, edges in N and K, one row, whole tiles. */
const TILE_SHAPES = [
  [70, 203],
  [130, 264],
  [1, 8],
  [64, 128],
] as const;

describe('the tile kernel on WASM (1 and 2 threads)', () => {
  const devices: WasmDevice[] = [];
  beforeAll(async () => {
    devices.push(await createWasmDevice({ threads: 1 }), await createWasmDevice({ threads: 2 }));
  });
  afterAll(() => {
    for (const d of devices) d.destroy();
  });
  for (const type of TILE_TYPES) {
    const signed = type.kind === 'int' && type.signed && type.bits < 8;
    it(`${type.name}: 64- and 8-row tiles${signed ? ', with and without the sign bias' : ''}`, async () => {
      for (const [n, k] of TILE_SHAPES) {
        const bytes = randomBytes(Math.ceil((n * k * type.bits) / 8), n * 1000 + k + type.bits);
        const w = Tensor.fromBytes(type, [n, k], bytes);
        for (const device of devices) {
          for (const rows of [64, 8]) {
            for (const bias of signed ? [false, true] : [false]) {
              const flip = bias ? 2 ** (type.bits - 1) : 0;
              expectTiled(w, await tileOn(device, w, rows, bias), rows, flip);
            }
          }
        }
      }
    });
  }
});

describeWebGpu('the tile kernel on WebGPU', () => {
  let device: WebGpuDevice;
  beforeAll(async () => {
    device = await createDevice();
  });
  afterAll(() => device?.destroy());
  it('i3 and u4, 64- and 8-row tiles, the sign bias', async () => {
    for (const type of [dt.i3, dt.u4]) {
      const w = Tensor.fromBytes(type, [70, 203], randomBytes(Math.ceil((70 * 203 * type.bits) / 8), 77));
      for (const rows of [64, 8]) {
        const bias = type.signed;
        expectTiled(w, await tileOn(device, w, rows, bias), rows, bias ? 4 : 0);
      }
    }
  }, 60_000);
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
      const dqm = await uploadQuantizedMatrix(device, qm);
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
      const dqm = await uploadQuantizedMatrix(device, qm);
      expect(dqm.signBias).toBe(bias);
      expect(dqm.weights.dtype).toBe(stored);
      expectTiled(qm.weights, await device.read(dqm.weights as never), 64, bias);
    }
  });

  it('refuses a matrix whose weights lie in rows', async () => {
    const qm = randomQuantizedMatrix({ weight: dt.u4, group: 32, scale: 'f16' }, 8, 64, 12);
    const dqm = { ...(await uploadQuantizedMatrix(device, qm)), layout: 'rows' as const };
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
