// LayerNorm2d without its affine (folded into the next linear layer): normalises channels
// [c0, c0 + C) of each pixel over C (biased variance, eps as PyTorch's layer_norm), writing
// y[n, 0..C, p]. C is a compile-time tile dim.
import { f32, global, i32, kernel } from '../../dsl/index.js';
import { memo } from './cache.js';

export function layerNormKernel(C: number, BP: number, eps: number) {
  return memo(
    `ln:${C}:${BP}:${eps}`,
    () =>
      kernel({
        name: 'patnet_layernorm_c',
        params: {
          x: global(f32, ['N', 'CX', 'P']),
          y: global(f32, ['N', C, 'P'], 'write'),
          c0: i32,
        },
      })`
      grid(cdiv(P, ${BP}), N);
      threads(64);
      const p0 = blockIdx.x * ${BP};
      const n = blockIdx.y;
      const v = load(x, [n, c0, p0], [${C}, ${BP}]);
      const d = v - v.mean(0, { keepdim: true });
      const r = rsqrt(mean(d * d, 0, { keepdim: true }) + ${eps});
      store(y, [n, 0, p0], d * r);
    `,
  );
}
