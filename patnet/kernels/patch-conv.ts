// Non-overlapping KxK convolution with stride K (the 4x4/s4 stem and the 2x2/s2 merging layers),
// plus bias (the folded BatchNorm), on flat [N, C, H*W] activations. w keeps PyTorch's
// [CO, CI, K, K] order, flattened to [CO, CI*K*K]. A block reads BR*K full input rows (OW*K wide, a
// compile-time width) of BC channels, regroups them into the [BC*K*K, BR*OW] patch matrix
// (reshape + transpose, no gather) and multiplies by w; the output rows are contiguous.
import { f32, global, kernel } from '../../dsl/index.js';
import { type WeightStorage, weightDType } from '../storage.js';
import { memo } from './cache.js';

export interface PatchConvSpec {
  readonly K: number;
  readonly OW: number;
  readonly BCO: number;
  readonly BC: number;
  readonly BR: number;
  /** Storage of w (default f32); f16 tiles are converted with .to(f32) (patnet/storage.ts). */
  readonly weights?: WeightStorage;
}

export function patchConvKernel(s: PatchConvSpec) {
  const { K, OW, BC, BR, BCO } = s;
  const kk = BC * K * K;
  return memo(
    `patch:${JSON.stringify(s)}`,
    () =>
      kernel({
        name: 'patnet_patch_conv',
        params: {
          x: global(f32, ['N', 'CI', 'P']),
          w: global(weightDType(s.weights), ['CO', 'KC']),
          bias: global(f32, ['CO']),
          y: global(f32, ['N', 'CO', 'Q'], 'write'),
        },
      })`
      grid(cdiv(Q, ${BR * OW}), cdiv(CO, ${BCO}), N);
      threads(128);
      const r0 = blockIdx.x * ${BR};
      const co = blockIdx.y * ${BCO};
      const n = blockIdx.z;
      let acc = zeros(f32, [${BCO}, ${BR * OW}]);
      for (let ci = 0; ci < CI; ci += ${BC}) {
        const rows = load(x, [n, ci, r0 * ${K * K * OW}], [${BC}, ${BR * K * K * OW}]);
        const patches = rows.reshape(${BC}, ${BR}, ${K}, ${OW}, ${K}).transpose(0, 2, 4, 1, 3).reshape(${kk}, ${BR * OW});
        acc = dot(load(w, [co, ci * ${K * K}], [${BCO}, ${kk}]).to(f32), patches, acc);
      }
      acc += load(bias, [co], [${BCO}]).unsqueeze(1);
      store(y, [n, co, r0 * ${OW}], acc);
    `,
  );
}
