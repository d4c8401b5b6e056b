// 1x1 convolution in NCHW as a GEMM per image: y[n, yc0 + m, p] = act(w[m, :] . x[n, xc0 + :, p] +
// bias[m]) (+ r[n, rc0 + m, p]). Channel offsets let one buffer hold several branches (PConv's split,
// PAT_sp's halves) without copies. Rows past M are masked on store so a block never writes into a
// neighbouring branch; K steps past K read w as 0, so the x rows they touch add nothing.
import { f32, global, i32, kernel } from '../../dsl/index.js';
import { type WeightStorage, weightDType } from '../storage.js';
import { memo } from './cache.js';
import { fastGelu } from './gelu.js';

export interface GemmSpec {
  readonly BM: number;
  readonly BP: number;
  readonly BK: number;
  /** Threads per block (default 128). */
  readonly threads?: number;
  /** Storage of w (default f32); f16 tiles are converted with .to(f32) (patnet/storage.ts). */
  readonly weights?: WeightStorage;
}

/**
 * The epilogue is chosen at launch (`act`: an ActCode; `residual`: 0 or 1; a layer without bias
 * passes zeros), not compiled in: one kernel per tile shape serves every 1x1 conv of a model, and
 * every compile costs ~0.1 s in binaryen and 1-2 s of pipeline creation on SwiftShader, while the
 * branches are taken once per block on a uniform scalar.
 */
export function gemmKernel(s: GemmSpec) {
  return memo(
    `gemm:${JSON.stringify(s)}`,
    () =>
      kernel({
        name: 'patnet_gemm',
        params: {
          x: global(f32, ['N', 'CX', 'P']),
          w: global(weightDType(s.weights), ['M', 'K']),
          bias: global(f32, ['M']),
          r: global(f32, ['N', 'CR', 'P']),
          y: global(f32, ['N', 'CY', 'P'], 'write'),
          xc0: i32,
          rc0: i32,
          yc0: i32,
          act: i32,
          residual: i32,
        },
      })`
      grid(cdiv(P, ${s.BP}), cdiv(M, ${s.BM}), N);
      threads(${s.threads ?? 128});
      const p0 = blockIdx.x * ${s.BP};
      const m0 = blockIdx.y * ${s.BM};
      const n = blockIdx.z;
      let acc = zeros(f32, [${s.BM}, ${s.BP}]);
      for (let k = 0; k < K; k += ${s.BK}) {
        acc = dot(load(w, [m0, k], [${s.BM}, ${s.BK}]).to(f32), load(x, [n, xc0 + k, p0], [${s.BK}, ${s.BP}]), acc);
      }
      acc += load(bias, [m0], [${s.BM}]).unsqueeze(1);
      if (act == 1) { acc = ${fastGelu}(acc); } else if (act == 2) { acc = relu(acc); } else if (act == 3) { acc = hardsigmoid(acc); }
      if (residual != 0) { acc += load(r, [n, rc0 + m0, p0], [${s.BM}, ${s.BP}]); }
      const rows = (arange(${s.BM}, m0) < M).unsqueeze(1).broadcast(${s.BM}, ${s.BP});
      store(y, [n, yc0 + m0, p0], acc, { mask: rows });
    `,
  );
}
