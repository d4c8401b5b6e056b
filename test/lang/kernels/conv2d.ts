// 3x3 convolution, zero padding 1, stride S (a const: 1 or 2), single image in NHWC with HWIO
// weights: x[H, W, C], w[3, 3, C, CO], bias[CO] -> y[HO, WO, CO], HO = (H - 1) / S + 1.
//
// Each block computes a BH x BW tile of output pixels for all output channels. For each of the 9
// taps it loads the shifted input window [BH*S, BW*S, CB] (C padded to CB; rows/cols outside the
// image read 0, which is exactly the zero padding), keeps every S-th row and column (reshape to
// [BH, S, BW, S, CB] and sum the S axes under a mask that keeps only offset 0: adding zeros is
// exact), and accumulates the pixels x channels tile times the tap's [CB, COB] weights with dot.
import { f32, global, kernel } from '../../../dsl/index.js';

export const conv2d3x3 = kernel({
  name: 'conv2d_3x3',
  params: {
    x: global(f32, ['H', 'W', 'C']),
    w: global(f32, [3, 3, 'C', 'CO']),
    bias: global(f32, ['CO']),
    y: global(f32, ['HO', 'WO', 'CO'], 'write'),
  },
  consts: { S: [1, 2], BH: 4, BW: 4, CB: 8, COB: 8 },
})`
  grid(cdiv(WO, BW), cdiv(HO, BH));
  threads(64);
  const oh0 = blockIdx.y * BH;
  const ow0 = blockIdx.x * BW;
  const first = (arange(S) == 0).reshape(1, S, 1, 1, 1) && (arange(S) == 0).reshape(1, 1, 1, S, 1);
  let acc = zeros(f32, [BH * BW, COB]) + load(bias, [0], [COB]).unsqueeze(0);
  for (let kh = 0; kh < 3; kh += 1) {
    for (let kw = 0; kw < 3; kw += 1) {
      const win = load(x, [oh0 * S + kh - 1, ow0 * S + kw - 1, 0], [BH * S, BW * S, CB]);
      const picked = where(first, win.reshape(BH, S, BW, S, CB), 0).sum(3).sum(1);
      const taps = load(w, [kh, kw, 0, 0], [CB, COB]);
      acc = dot(picked.reshape(BH * BW, CB), taps, acc);
    }
  }
  store(y, [oh0, ow0, 0], acc.reshape(BH, BW, COB));
`;
