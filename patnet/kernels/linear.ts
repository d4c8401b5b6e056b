// Row-batched linear layer: y[n, :] = act(x[n, :] @ wt + bias), wt stored [K, M] (transposed once
// at load time). Used where the spatial extent is 1: the SRM gate (stats -> cfc1) and the head.
import { f32, global, kernel } from '../../dsl/index.js';
import { type WeightStorage, weightDType } from '../storage.js';
import { type ActCode, memo } from './cache.js';
import { fastGelu } from './gelu.js';

export interface LinearSpec {
  readonly BN: number;
  readonly BM: number;
  readonly BK: number;
  readonly act: ActCode;
  readonly bias: boolean;
  /** Storage of wt (default f32); f16 tiles are converted with .to(f32) (patnet/storage.ts). */
  readonly weights?: WeightStorage;
}

export function linearKernel(s: LinearSpec) {
  return memo(
    `linear:${JSON.stringify(s)}`,
    () =>
      kernel({
        name: 'patnet_linear',
        params: {
          x: global(f32, ['N', 'K']),
          wt: global(weightDType(s.weights), ['K', 'M']),
          bias: global(f32, ['M']),
          y: global(f32, ['N', 'M'], 'write'),
        },
      })`
      grid(cdiv(M, ${s.BM}), cdiv(N, ${s.BN}));
      threads(64);
      const m0 = blockIdx.x * ${s.BM};
      const n0 = blockIdx.y * ${s.BN};
      let acc = zeros(f32, [${s.BN}, ${s.BM}]);
      for (let k = 0; k < K; k += ${s.BK}) {
        acc = dot(load(x, [n0, k], [${s.BN}, ${s.BK}]), load(wt, [k, m0], [${s.BK}, ${s.BM}]).to(f32), acc);
      }
      if (${s.bias}) { acc += load(bias, [m0], [${s.BM}]).unsqueeze(0); }
      if (${s.act === 1}) { acc = ${fastGelu}(acc); }
      if (${s.act === 2}) { acc = relu(acc); }
      if (${s.act === 3}) { acc = hardsigmoid(acc); }
      store(y, [n0, m0], acc);
    `,
  );
}
