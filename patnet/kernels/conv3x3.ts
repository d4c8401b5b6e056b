// PConv: dense 3x3 convolution, stride 1, zero padding 1, of input channels [0, CI) into output
// channels [0, CO) of y (CI = CO = C / n_div), on flat [N, C, H*W] activations. w is stored
// tap-major [9, CO, CI] (rearranged at load time) so each tap is one [CO, CI] GEMM against the input
// shifted by dh*W + dw. Rows above or below the image fall outside [0, H*W) and read 0; columns that
// wrap into the neighbouring row are masked, which together is exactly the zero padding.
// With residual, y = x[:, :CO] + conv (PAT_sf's residual 3x3 branch).
import { f32, global, i32, kernel } from '../../dsl/index.js';
import { type WeightStorage, weightDType } from '../storage.js';
import { memo } from './cache.js';

export interface Conv3x3Spec {
  readonly BCO: number;
  readonly BC: number;
  /** Output pixels per block. */
  readonly BP: number;
  readonly residual: boolean;
  /** Storage of w (default f32); f16 tiles are converted with .to(f32) (patnet/storage.ts). */
  readonly weights?: WeightStorage;
}

export function conv3x3Kernel(s: Conv3x3Spec) {
  return memo(
    `conv3x3:${JSON.stringify(s)}`,
    () =>
      kernel({
        name: 'patnet_pconv3x3',
        params: {
          x: global(f32, ['N', 'CX', 'P']),
          w: global(weightDType(s.weights), [9, 'CO', 'CI']),
          y: global(f32, ['N', 'CY', 'P'], 'write'),
          width: i32,
        },
      })`
      grid(cdiv(P, ${s.BP}), cdiv(CO, ${s.BCO}), N);
      threads(128);
      const p0 = blockIdx.x * ${s.BP};
      const co = blockIdx.y * ${s.BCO};
      const n = blockIdx.z;
      const col = (arange(${s.BP}, p0) % width).unsqueeze(0);
      let acc = zeros(f32, [${s.BCO}, ${s.BP}]);
      for (let t = 0; t < 9; t++) {
        const dh = t / 3 - 1;
        const dw = t % 3 - 1;
        const inside = ((col + dw >= 0) & (col + dw < width)).broadcast(${s.BC}, ${s.BP});
        for (let ci = 0; ci < CI; ci += ${s.BC}) {
          const win = load(x, [n, ci, p0 + dh * width + dw], [${s.BC}, ${s.BP}], { mask: inside });
          acc = dot(load(w, [t, co, ci], [${s.BCO}, ${s.BC}]).to(f32), win, acc);
        }
      }
      if (${s.residual}) { acc += load(x, [n, co, p0], [${s.BCO}, ${s.BP}]); }
      const rows = (arange(${s.BCO}, co) < CO).unsqueeze(1).broadcast(${s.BCO}, ${s.BP});
      store(y, [n, co, p0], acc, { mask: rows });
    `,
  );
}
