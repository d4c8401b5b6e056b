// Activations to i8 per block of QB elements, on the device, for the integer path: with
// amax = max |x| over the block, scale = amax / 127 and xq = round(x * 127 / amax) (0 for an all-zero
// block), so x ≈ xq * scale with |error| <= scale / 2 per element, and xsum = sum(xq) over the block
// (exact: an integer below 2^24), which the integer path uses to apply zero points and mins once per
// block. Each block of the grid quantizes R consecutive blocks of one row; lanes past K read 0 and
// are not stored. The block max and sum reduce in two steps, over [QB / L, L] then over L, so the
// long step runs L lanes wide (a reduction along the last axis is a scalar chain on WASM): a launch
// for 4096 activations took 0.012 ms instead of 0.021 (docs/llm.md).
import { type FloatDType, f32, global, i8, kernel } from '../../dsl/index.js';
import type { Kernel } from '../../dsl/lang/kernel.js';

const kernels = new Map<string, Kernel>();

export function quantizeActKernel(act: FloatDType, qb: number): Kernel {
  const key = `${act.name}/${qb}`;
  let k = kernels.get(key);
  if (!k) {
    k = kernel({
      name: `quantize_act_${act.name}_b${qb}`,
      params: {
        x: global(act, ['M', 'K']),
        xq: global(i8, ['M', 'K'], 'write'),
        xs: global(f32, ['M', `cdiv(K, ${qb})`], 'write'),
        xsum: global(f32, ['M', `cdiv(K, ${qb})`], 'write'),
      },
      consts: { QB: qb, L: Math.min(qb, 16), R: [8, 4, 16], TH: [64, 32, 128] },
    })`
      grid(cdiv(K, QB * R), M);
      threads(TH);
      const k0 = blockIdx.x * (QB * R);
      const t = load(x, [blockIdx.y, k0], [1, QB * R]).to(f32).reshape(R, QB);
      const amax = abs(t).reshape(R, QB / L, L).max(1).max(1, { keepdim: true });
      const inv = where(amax > 0, 127.0 / amax, 0.0);
      const q = round(t * inv);
      store(xq, [blockIdx.y, k0], q.to(i8).reshape(1, QB * R));
      store(xs, [blockIdx.y, blockIdx.x * R], (amax / 127.0).reshape(1, R));
      store(xsum, [blockIdx.y, blockIdx.x * R], q.reshape(R, QB / L, L).sum(1).sum(1).reshape(1, R));
    `;
    kernels.set(key, k);
  }
  return k;
}
