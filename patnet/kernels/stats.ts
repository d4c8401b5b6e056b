// Per-channel spatial statistics for PAT_ch's SRM: mean and unbiased std (divisor P - 1, as
// torch.std) of channels [c0, c0 + C) over all P pixels, stored interleaved as y[n, 2c] = mean,
// y[n, 2c + 1] = std, which is exactly the memory order cfc1's [C, C, 1, 2] weight expects. Two
// passes (mean, then squared deviations) keep the variance accurate.
import { f32, global, i32, kernel } from '../../dsl/index.js';
import { memo } from './cache.js';

export function statsKernel(BC: number, BP: number) {
  return memo(
    `stats:${BC}:${BP}`,
    () =>
      kernel({
        name: 'patnet_channel_stats',
        params: {
          x: global(f32, ['N', 'CX', 'P']),
          y: global(f32, ['N', 'C2'], 'write'),
          c0: i32,
        },
      })`
      grid(cdiv(C2, ${2 * BC}), N);
      threads(64);
      const cb = blockIdx.x * ${BC};
      const n = blockIdx.y;
      let s = zeros(f32, [${BC}, ${BP}]);
      for (let p = 0; p < P; p += ${BP}) {
        s += load(x, [n, c0 + cb, p], [${BC}, ${BP}]);
      }
      const m = s.sum(1, { keepdim: true }) / P;
      let q = zeros(f32, [${BC}, ${BP}]);
      for (let p = 0; p < P; p += ${BP}) {
        const valid = (arange(${BP}, p) < P).unsqueeze(0);
        const d = where(valid, load(x, [n, c0 + cb, p], [${BC}, ${BP}]) - m, 0.0);
        q += d * d;
      }
      const sd = sqrt(q.sum(1, { keepdim: true }) / (P - 1));
      const pair = where((arange(2) == 0).unsqueeze(0), m, sd);
      store(y, [n, 2 * cb], pair.reshape(${2 * BC}));
    `,
  );
}

/** Global average pool: y[n, c] = mean over P of x[n, c, :]. */
export function poolKernel(BC: number, BP: number) {
  return memo(
    `pool:${BC}:${BP}`,
    () =>
      kernel({
        name: 'patnet_avgpool',
        params: { x: global(f32, ['N', 'C', 'P']), y: global(f32, ['N', 'C'], 'write') },
      })`
      grid(cdiv(C, ${BC}), N);
      threads(64);
      const cb = blockIdx.x * ${BC};
      const n = blockIdx.y;
      let s = zeros(f32, [${BC}, ${BP}]);
      for (let p = 0; p < P; p += ${BP}) {
        s += load(x, [n, cb, p], [${BC}, ${BP}]);
      }
      store(y, [n, cb], s.sum(1) / P);
    `,
  );
}
