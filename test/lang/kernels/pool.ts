// Global average pool over an NCHW image: y[c] = mean of x[c, :, :]. Each block owns BC channels and
// accumulates [BC, BH, BW] tiles over the whole image (lanes past H or W read 0), then reduces the
// two spatial axes and divides by H * W.
import { f32, global, kernel } from '../../../dsl/index.js';

export const globalAvgPool = kernel({
  name: 'global_avg_pool',
  params: { x: global(f32, ['C', 'H', 'W']), y: global(f32, ['C'], 'write') },
  consts: { BC: 4, BH: 4, BW: 8 },
})`
  grid(cdiv(C, BC));
  threads(128);
  const c0 = blockIdx.x * BC;
  let acc = zeros(f32, [BC, BH, BW]);
  for (let h = 0; h < H; h += BH) {
    for (let w = 0; w < W; w += BW) {
      acc += load(x, [c0, h, w], [BC, BH, BW]);
    }
  }
  store(y, [c0], acc.sum(2).sum(1) / (H * W));
`;
