// The integer path's scale repacking (llm/kernels/repack.ts) against a host computation, bit for
// bit: ws[n / 64, g * 64 + n % 64] = s[n, g] / MUL and wo = -z s / MUL (zero points) or mn (mins), f32, in
// column blocks of 64 outputs. Random scales of both signs, zero points and mins; N (several column
// blocks, the last partial) and the group count leave edge tiles; outputs poisoned. Also where
// planQuantizedMatmul takes the int8 path by default.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dt from '../../dsl/dtype.js';
import { f16, f32, Tensor } from '../../dsl/index.js';
import { qmatmulIntKernel } from '../../llm/kernels/qmatmul-int.js';
import { INT_SCALE_BLOCK, intScaleShape, repackIntScalesKernel } from '../../llm/kernels/repack.js';
import { integerWeights } from '../../llm/kernels/spec.js';
import { kernelSpec, planQuantizedMatmul, quantizedMatmul } from '../../llm/matmul.js';
import type { QuantFormat } from '../../llm/quantized-matrix.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { checkMatmul } from './kernels-check.js';
import { randomActivations, randomQuantizedMatrix } from './kernels-fixtures.js';

let device: WasmDevice;
beforeAll(async () => {
  device = await createWasmDevice({ threads: 2 });
});
afterAll(() => device.destroy());

describe('repackIntScalesKernel', () => {
  it.each([
    ['u4 zero points, f16 scales', { weight: dt.u4, group: 32, scale: 'f16' }],
    ['u3 mins, f32 scales', { weight: dt.u3, group: 64, scale: 'f32', offset: 'min' }],
    ['u8 zero points, f32 scales', { weight: dt.u8, group: 32, scale: 'f32' }],
    ['i5 symmetric', { weight: dt.i5, group: 32, scale: 'f16' }],
    ['f4e2m1 (MUL 2)', { weight: dt.f4e2m1, group: 32, scale: 'f32' }],
  ] as const)('%s', async (_, format) => {
    const fmt = format as QuantFormat;
    // 42 groups and N = 2 * 64 + 37: edge tiles in both dims of the repack grid, a partial last block
    const [n, k] = [165, 32 * 41 + 5];
    const qm = randomQuantizedMatrix(fmt, n, k, 17);
    const spec = kernelSpec(fmt, f32);
    const mul = integerWeights(spec)!.mul;
    const groups = qm.scales.shape[1] as number;
    const poison = () => device.upload(Tensor.zeros(f32, intScaleShape(n, groups)).fill(Number.NaN));
    const ws = poison();
    const wo = poison();
    const args = {
      s: device.upload(qm.scales),
      ...(qm.zeros ? { zp: device.upload(qm.zeros) } : {}),
      ...(qm.mins ? { mn: device.upload(qm.mins) } : {}),
      ws,
      ...(spec.offset ? { wo } : {}),
    };
    await repackIntScalesKernel(spec).launch(device, args as never);
    const gotS = (await device.read(ws)).toArray();
    const gotO = (await device.read(wo)).toArray();
    const s = qm.scales.toArray();
    const z = qm.zeros?.toArray();
    const mn = qm.mins?.toArray();
    const nb = INT_SCALE_BLOCK;
    for (let g = 0; g < groups; g++) {
      for (let r = 0; r < n; r++) {
        const at = (Math.floor(r / nb) * groups + g) * nb + (r % nb);
        const sc = Math.fround(Math.fround(s[r * groups + g]!) * Math.fround(1 / mul));
        expect(gotS[at], `ws[${g}, ${r}]`).toBe(sc);
        if (z) expect(gotO[at], `wo[${g}, ${r}]`).toBe(Math.fround(sc * (0 - z[r * groups + g]!)));
        if (mn) expect(gotO[at], `wo[${g}, ${r}]`).toBe(Math.fround(mn[r * groups + g]!));
      }
      // The last block's columns past N hold zeros (they are read, never stored, by the GEMV).
      for (let r = n; r < Math.ceil(n / nb) * nb; r++) {
        const at = (Math.floor(r / nb) * groups + g) * nb + (r % nb);
        expect(Math.abs(gotS[at]!), `ws[${g}, ${r}] (padding)`).toBe(0);
        if (spec.offset) expect(Math.abs(gotO[at]!), `wo[${g}, ${r}] (padding)`).toBe(0);
      }
    }
    for (const t of Object.values(args)) t.destroy();
    wo.destroy();
  });
});

describe('the int8 GEMV on the blocked scales', () => {
  // N = 2 * 64 + 37: three column blocks of the scales, the last partial; K = 203 leaves a partial
  // activation block. Every BN candidate reads its columns' scales inside one column block.
  it('matches the reference for every BN (zero points and mins) x M 1, 3', async () => {
    const [n, k] = [165, 203];
    for (const [i, format] of [
      { weight: dt.u4, group: 32, scale: 'f16' },
      { weight: dt.u5, group: 64, scale: 'f32', offset: 'min' },
    ].entries()) {
      const qm = randomQuantizedMatrix(format as QuantFormat, n, k, 300 + i);
      for (const m of [1, 3]) {
        const x = randomActivations(m === 1 ? f32 : f16, m, k, 310 + i + m);
        for (const BN of [4, 8, 16, 32, 64]) {
          const r = await checkMatmul(device, x, qm, { path: 'int8', consts: { BN } }, `BN ${BN}/M${m}`);
          expect(r.worst).toBeLessThanOrEqual(1);
        }
      }
    }
  });

  it('refuses a BN that would straddle two column blocks (or weight tiles), naming the rule', async () => {
    const qm = randomQuantizedMatrix({ weight: dt.u4, group: 32, scale: 'f16' }, 96, 64, 5);
    const x = randomActivations(f32, 1, 64, 6);
    await expect(quantizedMatmul(device, x, qm, { path: 'int8', consts: { BN: 48 } })).rejects.toThrow(
      /on WASM u4 weights lie in 64 x 128 tiles, so BN must divide 64 and the K step divide 128; got BN 48/,
    );
    // Below the planner, the kernel itself names its candidates.
    const spec = { weight: dt.u4, scale: f16, act: f32, group: 32, offset: 'zero' } as const;
    expect(() => qmatmulIntKernel(spec, 32, false, 64)?.compile({ BN: 48 } as never)).toThrow(
      /BN' = 48 is not one of its candidates \[8, 4, 16, 32, 64\]/,
    );
  });
});

describe('default path', () => {
  const fmt = (weight: QuantFormat['weight']): QuantFormat => ({ weight, group: 128, scale: 'f16' });
  it('is int8 on WASM for M <= 8 with int weights, float otherwise', () => {
    for (const w of [dt.u1, dt.i2, dt.u3, dt.u4, dt.i4, dt.i5, dt.u6, dt.i7, dt.u8, dt.i8]) {
      expect(planQuantizedMatmul(1, 64, 4096, fmt(w), 'wasm').path).toBe('int8');
      expect(planQuantizedMatmul(4, 64, 4096, fmt(w), 'wasm').path).toBe('int8');
      expect(planQuantizedMatmul(8, 64, 4096, fmt(w), 'wasm').path).toBe('int8');
      expect(planQuantizedMatmul(9, 64, 4096, fmt(w), 'wasm').path).toBe('float');
      expect(planQuantizedMatmul(1, 64, 4096, fmt(w), 'webgpu').path).toBe('float');
    }
    for (const w of [dt.f4e2m1, dt.f6e2m3, dt.f8e4m3])
      expect(planQuantizedMatmul(1, 64, 4096, fmt(w), 'wasm').path).toBe('float');
    expect(planQuantizedMatmul(1, 64, 4096, fmt(dt.u4), 'wasm', { path: 'float' }).path).toBe('float');
  });

  it('is float where a block of activations cannot hold a chunk of weights (small groups)', () => {
    const at = (weight: QuantFormat['weight'], group: number) =>
      planQuantizedMatmul(1, 64, 4096, { weight, group, scale: 'f16' }, 'wasm').path;
    // Chunks are 32 weights below 8 bits and 16 bytes at 8 bits: QB = 32 (group 32) holds every
    // width, QB = 16 (group 16) only bytes.
    const all = [dt.u1, dt.i1, dt.u2, dt.i2, dt.u3, dt.u4, dt.i5, dt.u6, dt.u7, dt.i8];
    expect(all.map((w) => at(w, 32))).toEqual(all.map(() => 'int8'));
    expect([dt.u1, dt.i2, dt.u3, dt.u4, dt.i5, dt.u6, dt.i7, dt.u8, dt.i8].map((w) => at(w, 16))).toEqual([
      ...Array(7).fill('float'),
      'int8',
      'int8',
    ]);
  });
});
