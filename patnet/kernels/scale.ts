// Per-(image, channel) affine: y[n, yc0 + c, p] = x[n, xc0 + c, p] * s[n, c] (+ t[n, c]). On the
// model path it applies the SRM gate to PAT_ch's attention branch; traces also use it to apply an
// unfolded BatchNorm for comparison with the reference.
import { f32, global, i32, kernel } from '../../dsl/index.js';
import { memo } from './cache.js';

export function scaleKernel(BC: number, BP: number, shift: boolean) {
  return memo(
    `scale:${BC}:${BP}:${shift}`,
    () =>
      kernel({
        name: 'patnet_channel_scale',
        params: {
          x: global(f32, ['N', 'CX', 'P']),
          s: global(f32, ['N', 'C']),
          t: global(f32, ['N', 'C']),
          y: global(f32, ['N', 'CY', 'P'], 'write'),
          xc0: i32,
          yc0: i32,
        },
      })`
      grid(cdiv(P, ${BP}), cdiv(C, ${BC}), N);
      threads(64);
      const p0 = blockIdx.x * ${BP};
      const c = blockIdx.y * ${BC};
      const n = blockIdx.z;
      let v = load(x, [n, xc0 + c, p0], [${BC}, ${BP}]) * load(s, [n, c], [${BC}]).unsqueeze(1);
      if (${shift}) { v += load(t, [n, c], [${BC}]).unsqueeze(1); }
      const rows = (arange(${BC}, c) < C).unsqueeze(1).broadcast(${BC}, ${BP});
      store(y, [n, yc0 + c, p0], v, { mask: rows });
    `,
  );
}
