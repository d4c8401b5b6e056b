// The int path's activation quantization (llm/kernels/quantize-act.ts) on WASM against the host, bit
// for bit: per block of QB, amax = max |x|, xq = round_half_even(x * f32(127 / amax)) (0 for an
// all-zero block), xs = f32(amax / 127), xsum = sum(xq). Every QB the int path picks; K leaves a
// partial last block and a partial grid block; one block all zeros; f32 and f16 activations;
// outputs poisoned.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f16, f32, i8, Tensor } from '../../dsl/index.js';
import { roundHalfEven } from '../../dsl/interp/math.js';
import { quantizeActKernel } from '../../llm/kernels/quantize-act.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { rng } from '../helpers/random.js';

let device: WasmDevice;
beforeAll(async () => {
  device = await createWasmDevice({ threads: 1 });
});
afterAll(() => device.destroy());

describe('quantizeActKernel', () => {
  it.each([8, 16, 32, 64, 128])(
    'QB %i: f32 and f16 activations, partial blocks, a zero block',
    async (qb) => {
      for (const act of [f32, f16]) {
        const [m, k] = [3, qb * 11 + 5];
        const blocks = Math.ceil(k / qb);
        const r = rng(qb * 7 + act.bits);
        // Magnitudes spread over several octaves, both signs; row 1's third block all zeros.
        const values = Array.from({ length: m * k }, () => (r() - 0.5) * 2 ** Math.floor(r() * 8 - 4));
        for (let i = 2 * qb; i < 3 * qb; i++) values[k + i] = 0;
        const xh = Tensor.fromArray(act, [m, k], values);
        const x = xh.toArray();
        const xq = device.upload(Tensor.zeros(i8, [m, k]).fill(-128));
        const xs = device.upload(Tensor.zeros(f32, [m, blocks]).fill(Number.NaN));
        const xsum = device.upload(Tensor.zeros(f32, [m, blocks]).fill(Number.NaN));
        const xd = device.upload(xh);
        await quantizeActKernel(act, qb).launch(device, { x: xd, xq, xs, xsum } as never);
        const [gotQ, gotS, gotSum] = [
          (await device.read(xq)).toArray(),
          (await device.read(xs)).toArray(),
          (await device.read(xsum)).toArray(),
        ];
        for (let row = 0; row < m; row++) {
          for (let b = 0; b < blocks; b++) {
            const lo = row * k + b * qb;
            const hi = row * k + Math.min(k, (b + 1) * qb);
            let amax = 0;
            for (let i = lo; i < hi; i++) amax = Math.max(amax, Math.abs(x[i]!));
            const inv = amax > 0 ? Math.fround(127 / amax) : 0;
            let sum = 0;
            for (let i = lo; i < hi; i++) {
              const q = roundHalfEven(Math.fround(x[i]! * inv)) + 0; // i8 has no -0
              sum += q;
              expect(gotQ[i], `${act.name} xq[${row}, ${i - row * k}]`).toBe(q);
            }
            expect(gotS[row * blocks + b], `${act.name} xs[${row}, ${b}]`).toBe(Math.fround(amax / 127));
            expect(gotSum[row * blocks + b], `${act.name} xsum[${row}, ${b}]`).toBe(sum);
          }
        }
        for (const t of [xq, xs, xsum, xd]) t.destroy();
      }
    },
  );
});
