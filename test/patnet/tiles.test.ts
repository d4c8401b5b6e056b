// PATNet's per-shape WASM tiles (patnet/kernels/tiles.ts) and the rational GELU (kernels/gelu.ts):
// each kernel, launched with the tiles the model would pick on 1 and 2 threads, against a float64
// reference. The shapes include the other variants' channel counts (C/4 = 12, 24: tiles that do
// not divide the channels, masked rows), ragged pixel counts (49, 196, 784, 3136), batches of 1-3
// and channel offsets. Outputs are poisoned (NaN) before each launch.
//
// Bound per element: the f32 sum of K products is within gamma_K * sum|w x| of the exact one
// (gamma_K ~ K u, u = 2^-24), with K + 2 for the bias and residual additions; GELU adds at most
// 1.2e-6 * max(1, |y|) (the rational erf, docs/patnet.md) and is 1.13-Lipschitz.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f32, Tensor } from '../../dsl/index.js';
import { ACT } from '../../patnet/kernels/cache.js';
import { conv3x3Kernel } from '../../patnet/kernels/conv3x3.js';
import { gemmKernel } from '../../patnet/kernels/gemm.js';
import { linearKernel } from '../../patnet/kernels/linear.js';
import { patchConvKernel } from '../../patnet/kernels/patch-conv.js';
import { conv3x3Tiles, gemmTiles, linearTiles, patchTiles } from '../../patnet/kernels/tiles.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { rng } from '../helpers/random.js';

const U = 2 ** -24;

function random(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => 2 * r() - 1);
}

function erf(x: number): number {
  // Series (|x| < 3) or continued fraction, both far more accurate than f32.
  const s = Math.sign(x);
  const a = Math.abs(x);
  if (a > 6) return s;
  if (a < 3) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 200 && term > 1e-20 * sum; n++) {
      term *= (2 * a * a) / (2 * n + 1);
      sum += term;
    }
    return (s * 2 * Math.exp(-a * a) * sum) / Math.sqrt(Math.PI);
  }
  let t = 0;
  for (let n = 60; n >= 1; n--) t = n / 2 / (a + t);
  return s * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + t));
}

const gelu = (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2));

/** Checks got against ref with the per-element bound above; `mag` = sum |products| per element. */
function expectClose(got: Float32Array, ref: Float64Array, mag: Float64Array, k: number, act: number) {
  let worst = 0;
  for (let i = 0; i < ref.length; i++) {
    const sumBound = (k + 2) * 1.01 * U * mag[i];
    const bound =
      act === ACT.gelu
        ? 1.13 * sumBound + 1.2e-6 * Math.max(1, Math.abs(ref[i]))
        : sumBound + U * Math.abs(ref[i]);
    const err = Math.abs(got[i] - ref[i]);
    if (!(err <= bound)) throw new Error(`element ${i}: got ${got[i]}, expected ${ref[i]} (bound ${bound})`);
    worst = Math.max(worst, err / (bound || 1));
  }
  return worst;
}

async function read(device: WasmDevice, t: ReturnType<WasmDevice['tensor']>): Promise<Float32Array> {
  const host = await device.read(t);
  return new Float32Array(host.data.buffer.slice(host.data.byteOffset, host.data.byteOffset + t.size * 4));
}

function up(device: WasmDevice, data: Float32Array, shape: number[]) {
  return device.upload(
    Tensor.fromBytes(f32, shape, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
  );
}

function poisoned(device: WasmDevice, shape: number[]) {
  return up(device, new Float32Array(shape.reduce((a, b) => a * b)).fill(Number.NaN), shape);
}

const devices: { threads: number; device: WasmDevice }[] = [];
beforeAll(async () => {
  for (const threads of [1, 2]) devices.push({ threads, device: await createWasmDevice({ threads }) });
});
afterAll(() => {
  for (const d of devices) d.device.destroy();
});

describe.each([1, 2])('PATNet WASM tiles, %i thread(s)', (threads) => {
  const dev = () => devices.find((d) => d.threads === threads)!.device;

  it.each([
    // m, k, p, n, act, residual, xc0, yc0
    [36, 24, 196, 2, ACT.gelu, false, 0, 0],
    [96, 48, 49, 1, ACT.none, true, 8, 4],
    [64, 32, 3136, 1, ACT.gelu, false, 0, 0],
    [128, 64, 784, 1, ACT.relu, true, 0, 0],
    [192, 192, 49, 3, ACT.none, true, 64, 64],
  ] as const)('gemm m=%i k=%i p=%i n=%i act=%i residual=%s', async (m, k, p, n, act, residual, xc0, yc0) => {
    const device = dev();
    const cx = k + xc0;
    const cy = m + yc0 + 4; // channels around the written range stay untouched
    const x = random(n * cx * p, 1);
    const w = random(m * k, 2);
    const bias = random(m, 3);
    const r = random(n * cy * p, 4);
    const y = up(device, new Float32Array(n * cy * p).fill(Number.NaN), [n, cy, p]);
    const tiles = gemmTiles('wasm', m, p, k, n, device.threads);
    await gemmKernel(tiles).launch(device, {
      x: up(device, x, [n, cx, p]),
      w: up(device, w, [m, k]),
      bias: up(device, bias, [m]),
      r: up(device, r, [n, cy, p]),
      y,
      xc0,
      rc0: yc0,
      yc0,
      act,
      residual: residual ? 1 : 0,
    });
    const got = await read(device, y);
    const ref = new Float64Array(n * m * p);
    const mag = new Float64Array(n * m * p);
    const out = new Float32Array(n * m * p);
    for (let b = 0; b < n; b++)
      for (let i = 0; i < m; i++)
        for (let j = 0; j < p; j++) {
          let s = bias[i];
          let a = Math.abs(bias[i]);
          for (let q = 0; q < k; q++) {
            const v = w[i * k + q] * x[(b * cx + xc0 + q) * p + j];
            s += v;
            a += Math.abs(v);
          }
          if (act === ACT.gelu) s = gelu(s);
          if (act === ACT.relu) s = Math.max(0, s);
          const rr = residual ? r[(b * cy + yc0 + i) * p + j] : 0;
          const e = (b * m + i) * p + j;
          ref[e] = s + rr;
          mag[e] = a + Math.abs(rr);
          out[e] = got[(b * cy + yc0 + i) * p + j];
        }
    expectClose(out, ref, mag, k, act);
    for (let b = 0; b < n; b++)
      for (const c of [...Array(yc0).keys(), ...[0, 1, 2, 3].map((t) => yc0 + m + t)])
        for (let j = 0; j < p; j++) expect(got[(b * cy + c) * p + j]).toBeNaN();
  });

  it.each([
    // cp, hw, n, residual
    [12, 14, 2, false],
    [8, 56, 1, false],
    [24, 28, 1, true],
    [64, 7, 2, true],
  ] as const)('3x3 conv cp=%i hw=%i n=%i residual=%s', async (cp, hw, n, residual) => {
    const device = dev();
    const p = hw * hw;
    const c = 4 * cp;
    const x = random(n * c * p, 5);
    const w = random(9 * cp * cp, 6); // tap-major [9, CO, CI]
    const y = poisoned(device, [n, c, p]);
    const tiles = conv3x3Tiles('wasm', cp, p, n, device.threads);
    await conv3x3Kernel({ ...tiles, residual }).launch(device, {
      x: up(device, x, [n, c, p]),
      w: up(device, w, [9, cp, cp]),
      y,
      width: hw,
    });
    const got = await read(device, y);
    const ref = new Float64Array(n * cp * p);
    const mag = new Float64Array(n * cp * p);
    const out = new Float32Array(n * cp * p);
    for (let b = 0; b < n; b++)
      for (let o = 0; o < cp; o++)
        for (let r0 = 0; r0 < hw; r0++)
          for (let c0 = 0; c0 < hw; c0++) {
            let s = residual ? x[(b * c + o) * p + r0 * hw + c0] : 0;
            let a = Math.abs(s);
            for (let t = 0; t < 9; t++) {
              const rr = r0 + Math.floor(t / 3) - 1;
              const cc = c0 + (t % 3) - 1;
              if (rr < 0 || rr >= hw || cc < 0 || cc >= hw) continue;
              for (let i = 0; i < cp; i++) {
                const v = w[(t * cp + o) * cp + i] * x[(b * c + i) * p + rr * hw + cc];
                s += v;
                a += Math.abs(v);
              }
            }
            const e = (b * cp + o) * p + r0 * hw + c0;
            ref[e] = s;
            mag[e] = a;
            out[e] = got[(b * c + o) * p + r0 * hw + c0];
          }
    expectClose(out, ref, mag, 9 * cp, ACT.none);
  });

  it.each([
    // K, ci, co, ow, n
    [2, 24, 48, 7, 2],
    [2, 32, 64, 28, 1],
    [4, 3, 48, 56, 1],
  ] as const)('patch conv K=%i ci=%i co=%i ow=%i n=%i', async (kk, ci, co, ow, n) => {
    const device = dev();
    const iw = ow * kk;
    const x = random(n * ci * iw * iw, 7);
    const w = random(co * ci * kk * kk, 8);
    const bias = random(co, 9);
    const y = poisoned(device, [n, co, ow * ow]);
    const tiles = patchTiles('wasm', kk, co, ci, ow);
    await patchConvKernel({ K: kk, OW: ow, ...tiles }).launch(device, {
      x: up(device, x, [n, ci, iw * iw]),
      w: up(device, w, [co, ci * kk * kk]),
      bias: up(device, bias, [co]),
      y,
    });
    const got = await read(device, y);
    const ref = new Float64Array(n * co * ow * ow);
    const mag = new Float64Array(ref.length);
    for (let b = 0; b < n; b++)
      for (let o = 0; o < co; o++)
        for (let r0 = 0; r0 < ow; r0++)
          for (let c0 = 0; c0 < ow; c0++) {
            let s = bias[o];
            let a = Math.abs(s);
            for (let i = 0; i < ci; i++)
              for (let dr = 0; dr < kk; dr++)
                for (let dc = 0; dc < kk; dc++) {
                  const v =
                    w[((o * ci + i) * kk + dr) * kk + dc] *
                    x[(b * ci + i) * iw * iw + (r0 * kk + dr) * iw + c0 * kk + dc];
                  s += v;
                  a += Math.abs(v);
                }
            const e = (b * co + o) * ow * ow + r0 * ow + c0;
            ref[e] = s;
            mag[e] = a;
          }
    expectClose(got, ref, mag, ci * kk * kk, ACT.none);
  });

  it.each([
    // n, k, m, act
    [1, 1280, 1000, ACT.none],
    [1, 256, 1280, ACT.gelu],
    [3, 192, 96, ACT.hardsigmoid],
  ] as const)('linear n=%i k=%i m=%i act=%i', async (n, k, m, act) => {
    const device = dev();
    const x = random(n * k, 10);
    const wt = random(k * m, 11);
    const bias = random(m, 12);
    const y = poisoned(device, [n, m]);
    const tiles = linearTiles('wasm', n, m, k, 8, 32);
    await linearKernel({ ...tiles, act, bias: true }).launch(device, {
      x: up(device, x, [n, k]),
      wt: up(device, wt, [k, m]),
      bias: up(device, bias, [m]),
      y,
    });
    const got = await read(device, y);
    const ref = new Float64Array(n * m);
    const mag = new Float64Array(n * m);
    for (let b = 0; b < n; b++)
      for (let j = 0; j < m; j++) {
        let s = bias[j];
        let a = Math.abs(s);
        for (let q = 0; q < k; q++) {
          const v = x[b * k + q] * wt[q * m + j];
          s += v;
          a += Math.abs(v);
        }
        if (act === ACT.gelu) s = gelu(s);
        if (act === ACT.hardsigmoid) s = Math.min(1, Math.max(0, s / 6 + 0.5));
        ref[b * m + j] = s;
        mag[b * m + j] = act === ACT.hardsigmoid ? a / 6 : a;
      }
    expectClose(got, ref, mag, k, act === ACT.hardsigmoid ? ACT.none : act);
  });
});

describe('PATNet WASM tile choice', () => {
  it('keeps tiles inside K and splits launches for more threads', () => {
    expect(gemmTiles('wasm', 256, 196, 128)).toEqual({ BM: 32, BP: 196, BK: 64 });
    expect(gemmTiles('wasm', 64, 3136, 32)).toEqual({ BM: 32, BP: 196, BK: 32 });
    expect(gemmTiles('wasm', 36, 196, 24, 1, 2).BM).toBe(8);
    expect(conv3x3Tiles('wasm', 64, 49)).toEqual({ BCO: 64, BC: 64, BP: 49 });
    expect(conv3x3Tiles('wasm', 64, 49, 1, 2).BCO).toBe(16);
    expect(conv3x3Tiles('wasm', 12, 784)).toEqual({ BCO: 16, BC: 4, BP: 196 });
    // WebGPU keeps its single shapes (pipeline creation on SwiftShader costs seconds per kernel).
    expect(gemmTiles('webgpu', 256, 196, 128)).toEqual({ BM: 32, BP: 64, BK: 16 });
    expect(conv3x3Tiles('webgpu', 8, 3136)).toEqual({ BCO: 32, BC: 16, BP: 128 });
  });
});
