// Repacking for the integer path: each group's scale (and offset) of a QuantizedMatrix, turned into
// the two f32 factors the path applies once per activation block, stored in column blocks of
// INT_SCALE_BLOCK (NB = 64) outputs: row c of ws holds, group after group, the NB factors of columns
// c * NB .. c * NB + NB - 1, so [cdiv(N, NB), groups * NB]. A GEMV block reads its BN factors of a
// group as one [1, BN] row piece (v128 / vec4 loads, fused into its epilogue) and its factors of all
// groups from one contiguous stretch (8 KiB for 32 groups), instead of a strided column of f16s and
// sub-byte zero points decoded one by one, or a row per group 4 * N bytes apart
// (docs/llm-formats.md, "Integer-path layouts"):
//   ws[n / NB, g * NB + n % NB] = s[n, g] / MUL
//   wo[n / NB, g * NB + n % NB] = -z[n, g] * s[n, g] / MUL   (zero points; dot(x, q - z) s = dot(x, q) ws + sum(x) wo)
//                               = mn[n, g]                   (float mins)
// Columns past N in the last block hold 0. NG is the number of groups per row. Run once per matrix
// and device (matmul.ts caches it next to the uploaded matrix).
import { f32, global, kernel } from '../../dsl/index.js';
import type { Kernel } from '../../dsl/lang/kernel.js';
import { cached, integerWeights, type KernelSpec, offsetCode } from './spec.js';

/** Output columns per block of the repacked scales; every BN of the int kernel divides it. */
export const INT_SCALE_BLOCK = 64;

/** The shape of a matrix's repacked ws / wo: [cdiv(N, NB), groups * NB]. */
export function intScaleShape(n: number, groups: number): [number, number] {
  return [Math.ceil(n / INT_SCALE_BLOCK), groups * INT_SCALE_BLOCK];
}

export function repackIntScalesKernel(spec: KernelSpec): Kernel {
  const iw = integerWeights(spec);
  if (!iw) throw new RangeError(`repackIntScalesKernel: ${spec.weight.name} has no integer form`);
  return cached('repack-int-scales', spec, () => {
    const groups = 'NG';
    const offset = offsetCode(spec);
    const NB = INT_SCALE_BLOCK;
    const blocked = [`cdiv(N, ${NB})`, `${groups} * ${NB}`];
    return kernel({
      name: `repack_int_scales_${spec.weight.name}_g${spec.group}`,
      params: {
        s: global(spec.scale, ['N', groups]),
        ...(offset === 1 ? { zp: global(spec.weight, ['N', groups]) } : {}),
        ...(offset === 2 ? { mn: global(spec.scale, ['N', groups]) } : {}),
        ws: global(f32, blocked, 'write'),
        ...(offset !== 0 ? { wo: global(f32, blocked, 'write') } : {}),
      },
      // One group per block, BN (a divisor of NB) columns: one row piece of the output. Rows past N
      // load as 0.
      consts: { MUL: iw.mul, OFF: offset, NB, BN: [64, 32, 16], TH: [64, 32] },
    })`
      grid(cdiv(N, BN), NG);
      threads(TH);
      const n0 = blockIdx.x * BN;
      const g = blockIdx.y;
      const at = g * NB + n0 % NB;
      const sc = load(s, [n0, g], [BN, 1]).to(f32) * (1.0 / MUL);
      store(ws, [n0 / NB, at], sc.transpose());
      if (OFF == 1) { store(wo, [n0 / NB, at], (sc * (0.0 - load(zp, [n0, g], [BN, 1]).to(f32))).transpose()); }
      if (OFF == 2) { store(wo, [n0 / NB, at], load(mn, [n0, g], [BN, 1]).to(f32).transpose()); }
    `;
  });
}
