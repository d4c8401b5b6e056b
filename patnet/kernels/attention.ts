// PAT_sf multi-head self-attention over all T tokens of one image and head, from the qkv GEMM's
// output [N, 3D, T] (PyTorch's feature order: part * D + head * HD + d). The iRPE bias arrives as a
// table [heads, TP, TP] built at load time, padded with -1e30 past T so padded keys get no weight.
// y[n, head * HD + d, i] = sum_j softmax_j(q_i . k_j * scale + bias[i, j]) v[d, j].
// A block takes BQ queries; the head dim is walked in BD slices so that every dot's operands stay
// small (WebGPU guarantees only 16 KiB of workgroup memory for staging them).
import { f32, global, kernel } from '../../dsl/index.js';
import { memo } from './cache.js';

export interface AttentionSpec {
  readonly HD: number;
  readonly TP: number;
  readonly BQ: number;
  /** A divisor of HD. */
  readonly BD: number;
  readonly scale: number;
}

export function attentionKernel(s: AttentionSpec) {
  const { HD, TP, BQ, BD, scale } = s;
  return memo(
    `attn:${JSON.stringify(s)}`,
    () =>
      kernel({
        name: 'patnet_attention',
        params: {
          qkv: global(f32, ['N', 'D3', 'T']),
          bias: global(f32, ['H', TP, TP]),
          y: global(f32, ['N', 'D', 'T'], 'write'),
        },
      })`
      grid(cdiv(T, ${BQ}), H, N);
      threads(64);
      const i0 = blockIdx.x * ${BQ};
      const h = blockIdx.y;
      const n = blockIdx.z;
      let s = load(bias, [h, i0, 0], [${BQ}, ${TP}]);
      for (let d = 0; d < ${HD}; d += ${BD}) {
        const q = load(qkv, [n, h * ${HD} + d, i0], [${BD}, ${BQ}]) * ${scale};
        s = dot(q.transpose(), load(qkv, [n, D + h * ${HD} + d, 0], [${BD}, ${TP}]), s);
      }
      const e = exp(s - s.max(1, { keepdim: true }));
      const pt = (e / e.sum(1, { keepdim: true })).transpose();
      for (let d = 0; d < ${HD}; d += ${BD}) {
        const v = load(qkv, [n, 2 * D + h * ${HD} + d, 0], [${BD}, ${TP}]);
        store(y, [n, h * ${HD} + d, i0], dot(v, pt));
      }
    `,
  );
}
