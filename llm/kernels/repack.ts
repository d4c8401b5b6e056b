// Repacking for the integer path: each group's scale (and offset) of a QuantizedMatrix, turned into
// the two f32 factors the path applies once per activation block, stored group-major [groups, N] so
// the kernel reads a block's BN scales as one contiguous row (v128 / vec4 loads) instead of a
// strided column of f16s and sub-byte zero points decoded one by one (docs/llm-formats.md,
// "Integer-path scales"):
//   ws[g, n] = s[n, g] / MUL
//   wo[g, n] = -z[n, g] * s[n, g] / MUL   (zero points; dot(x, q - z) s = dot(x, q) ws + sum(x) wo)
//            = mn[n, g]                   (float mins)
// NG is the number of groups per row. Run once per matrix and device (matmul.ts caches it next to the uploaded matrix).
import { f32, global, kernel } from '../../dsl/index.js';
import type { Kernel } from '../../dsl/lang/kernel.js';
import { cached, integerWeights, type KernelSpec, offsetCode } from './spec.js';

export function repackIntScalesKernel(spec: KernelSpec): Kernel {
  const iw = integerWeights(spec);
  if (!iw) throw new RangeError(`repackIntScalesKernel: ${spec.weight.name} has no integer form`);
  return cached('repack-int-scales', spec, () => {
    const groups = 'NG';
    const offset = offsetCode(spec);
    return kernel({
      name: `repack_int_scales_${spec.weight.name}_g${spec.group}`,
      params: {
        s: global(spec.scale, ['N', groups]),
        ...(offset === 1 ? { zp: global(spec.weight, ['N', groups]) } : {}),
        ...(offset === 2 ? { mn: global(spec.scale, ['N', groups]) } : {}),
        ws: global(f32, [groups, 'N'], 'write'),
        ...(offset !== 0 ? { wo: global(f32, [groups, 'N'], 'write') } : {}),
      },
      consts: { MUL: iw.mul, OFF: offset, BN: [32, 16, 64], BG: [16, 8, 32], TH: [64, 32] },
    })`
      grid(cdiv(N, BN), cdiv(NG, BG));
      threads(TH);
      const n0 = blockIdx.x * BN;
      const g0 = blockIdx.y * BG;
      const sc = load(s, [n0, g0], [BN, BG]).to(f32) * (1.0 / MUL);
      store(ws, [g0, n0], sc.transpose());
      if (OFF == 1) { store(wo, [g0, n0], (sc * (0.0 - load(zp, [n0, g0], [BN, BG]).to(f32))).transpose()); }
      if (OFF == 2) { store(wo, [g0, n0], load(mn, [n0, g0], [BN, BG]).to(f32).transpose()); }
    `;
  });
}
