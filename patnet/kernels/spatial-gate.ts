// PAT_sp's first half (upstream partial_spatial_attn_layer_reverse): channels [0, C1) of p get a
// per-pixel gate hardsigmoid(sum_c wg[c] p[c]) and then the BatchNorm `a * . + b`; with residual,
// r[n, 0..C1, :] is added (the block's skip). C1 is a compile-time tile dim.
import { f32, global, kernel } from '../../dsl/index.js';
import { memo } from './cache.js';

export function spatialGateKernel(C1: number, BP: number, residual: boolean) {
  return memo(
    `sgate:${C1}:${BP}:${residual}`,
    () =>
      kernel({
        name: 'patnet_spatial_gate',
        params: {
          p: global(f32, ['N', 'C', 'P']),
          wg: global(f32, [C1]),
          a: global(f32, [C1]),
          b: global(f32, [C1]),
          r: global(f32, ['N', 'CR', 'P']),
          y: global(f32, ['N', 'CY', 'P'], 'write'),
        },
      })`
      grid(cdiv(P, ${BP}), N);
      threads(64);
      const p0 = blockIdx.x * ${BP};
      const n = blockIdx.y;
      const v = load(p, [n, 0, p0], [${C1}, ${BP}]);
      const g = hardsigmoid((v * load(wg, [0], [${C1}]).unsqueeze(1)).sum(0, { keepdim: true }));
      let o = v * g * load(a, [0], [${C1}]).unsqueeze(1) + load(b, [0], [${C1}]).unsqueeze(1);
      if (${residual}) { o += load(r, [n, 0, p0], [${C1}, ${BP}]); }
      store(y, [n, 0, p0], o);
    `,
  );
}
