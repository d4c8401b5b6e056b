// The f16-weight-storage error bound for a traced PATNet tensor (docs/patnet.md, "f16 weight
// storage"): max|err| <= ALPHA * u * sqrt(d) * (1 + max|ref|), u = 2^-11 (f16's unit roundoff) and d
// the number of weight matrices (each rounded to f16 once) on the longest path from the input to the
// tensor. Independent roundings add up like a random walk, so the error grows as sqrt(d): measured
// on the fixtures, the stem (d = 1) gives 0.42u and the deepest tensors (d ~ 60) 1.0-1.5u.
// ALPHA = 1 is 2.4x the largest measured error/(u*sqrt(d)) (0.42, at the stem); test/bench/patnet-f16.ts
// prints the measured table.

export const F16_U = 2 ** -11;
export const F16_ALPHA = 1;

/**
 * d for a traced tensor name of a 4-stage PATNet with PAT_ch stages 0-2 and PAT_sf stage 3;
 * `patsp` adds the PAT_sp 1x1 conv to every MLP. Throws on a name it does not know.
 */
export function weightDepth(name: string, depths: readonly number[], patsp: boolean): number {
  const mlp = 2 + (patsp ? 1 : 0);
  let d = 1; // the stem
  if (name === 'patch_embed.out') return d;
  for (let s = 0; s < 4; s++) {
    if (s > 0) {
      d += 1;
      if (name === `stages.${2 * s - 1}.out`) return d;
    }
    for (let j = 0; j < depths[s]; j++) {
      const b = `stages.${2 * s}.blocks.${j}.`;
      if (name.startsWith(b)) {
        const part = name.slice(b.length);
        // PAT_ch: attn = x * gate(cfc1(stats)): 1 matrix; spatial_mixing: pconv or cfc1: 1.
        // PAT_sf: norm: LayerNorm only; attn and spatial_mixing: qkv then proj: 2.
        const mix = s < 3 ? 1 : 2;
        const table: Record<string, number> = {
          in: 0,
          'spatial_mixing.attn.out': mix,
          'spatial_mixing.norm.out': 0,
          'spatial_mixing.out': mix,
          'mlp.in': mix,
          'mlp.4.in': mix + 2,
          'mlp.out': mix + mlp,
          out: mix + mlp,
        };
        if (!(part in table)) break;
        return d + table[part]!;
      }
      d += (s < 3 ? 1 : 2) + mlp;
    }
    if (name === `stages.${2 * s}.out`) return d;
  }
  if (name === 'avgpool_pre_head.out') return d + 1;
  if (name === 'logits') return d + 2;
  throw new Error(`weightDepth: unknown traced tensor '${name}'`);
}

/** The bound on max|err| for a tensor at depth d whose reference has max|ref| = scale. */
export function f16Tolerance(d: number, scale: number): number {
  return F16_ALPHA * F16_U * Math.sqrt(d) * (1 + scale);
}
