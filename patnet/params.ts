// The state_dict a PATNet config needs (names and shapes, checked against a WeightMap), and seeded
// random weights with the fixtures' initialisation scheme for running without a checkpoint.
import { type PatnetConfig, stageDim } from './config.js';
import { type WeightMap, WeightsError } from './weights/types.js';

/** Every state_dict entry of the config, in module order, with its shape. */
export function expectedWeights(cfg: PatnetConfig): Map<string, number[]> {
  const out = new Map<string, number[]>();
  const bn = (prefix: string, c: number) => {
    for (const k of ['weight', 'bias', 'running_mean', 'running_var']) out.set(`${prefix}.${k}`, [c]);
  };
  const e = cfg.embedDim;
  out.set('patch_embed.proj.weight', [e, 3, 4, 4]);
  bn('patch_embed.norm', e);
  for (let s = 0; s < 4; s++) {
    const c = stageDim(cfg, s);
    const cp = Math.floor(c / cfg.nDiv);
    const cu = c - cp;
    const hidden = c * cfg.mlpRatio;
    for (let j = 0; j < cfg.depths[s]; j++) {
      const b = `stages.${2 * s}.blocks.${j}`;
      out.set(`${b}.spatial_mixing.partial_conv3.weight`, [cp, cp, 3, 3]);
      if (s < 3) {
        out.set(`${b}.spatial_mixing.attn.cfc1.weight`, [cu, cu, 1, 2]);
        bn(`${b}.spatial_mixing.attn.bn`, cu);
        bn(`${b}.spatial_mixing.norm`, cu);
      } else {
        out.set(`${b}.spatial_mixing.norm.weight`, [cu]);
        out.set(`${b}.spatial_mixing.norm.bias`, [cu]);
        out.set(`${b}.spatial_mixing.attn.qkv.weight`, [3 * cu, cu]);
        out.set(`${b}.spatial_mixing.attn.proj.weight`, [cu, cu]);
        out.set(`${b}.spatial_mixing.attn.proj.bias`, [cu]);
        out.set(`${b}.spatial_mixing.attn.rpe_k.lookup_table_bias`, [cfg.heads, 81]);
      }
      out.set(`${b}.mlp.0.weight`, [hidden, c, 1, 1]);
      bn(`${b}.mlp.1`, hidden);
      out.set(`${b}.mlp.3.weight`, [c, hidden, 1, 1]);
      if (cfg.spatialAttn) {
        const c2 = Math.floor(c / 2);
        const c1 = c - c2;
        out.set(`${b}.mlp.4.conv_attn.weight`, [1, c1, 1, 1]);
        bn(`${b}.mlp.4.norm`, c1);
        bn(`${b}.mlp.4.norm2`, c2);
        out.set(`${b}.mlp.4.conv.weight`, [c2, c2, 1, 1]);
      }
    }
    if (s < 3) {
      out.set(`stages.${2 * s + 1}.reduction.weight`, [2 * c, c, 2, 2]);
      bn(`stages.${2 * s + 1}.norm`, 2 * c);
    }
  }
  out.set('avgpool_pre_head.1.weight', [cfg.featureDim, stageDim(cfg, 3), 1, 1]);
  out.set('head.weight', [cfg.numClasses, cfg.featureDim]);
  out.set('head.bias', [cfg.numClasses]);
  return out;
}

/**
 * Checks that `weights` holds exactly the config's tensors with the right shapes (PyTorch's
 * `num_batches_tracked` buffers are ignored); throws a WeightsError naming every bad tensor.
 */
export function checkWeights(cfg: PatnetConfig, weights: WeightMap): void {
  const expected = expectedWeights(cfg);
  const problems: string[] = [];
  for (const [name, shape] of expected) {
    const t = weights.get(name);
    if (!t) problems.push(`missing tensor '${name}' [${shape.join(', ')}]`);
    else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      problems.push(`tensor '${name}' has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    } else if (t.data.length !== shape.reduce((a, b) => a * b, 1)) {
      problems.push(`tensor '${name}' has ${t.data.length} values for shape [${shape.join(', ')}]`);
    }
  }
  for (const name of weights.keys()) {
    if (!expected.has(name) && !name.endsWith('num_batches_tracked')) {
      problems.push(`unexpected tensor '${name}' (not part of PATNet-${cfg.variant.toUpperCase()})`);
    }
  }
  if (problems.length > 0) {
    const shown = problems.slice(0, 20).join('\n  ');
    const more = problems.length > 20 ? `\n  … and ${problems.length - 20} more` : '';
    throw new WeightsError(
      `PATNet-${cfg.variant.toUpperCase()} weights do not match the model:\n  ${shown}${more}\n` +
        '(is the variant right? the weights must be a PartialNet state_dict)',
    );
  }
}

/** A seeded uniform [0, 1) generator (mulberry32). */
function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Untrained weights for the config, deterministic in `seed`, with the fixtures' scheme: convs
 * N(0, g^2/fan_in) (g = 0.5 for each MLP's last conv), linears N(0, 1/in), biases N(0, 0.01),
 * BN weight/var U(0.5, 1.5) and bias/mean N(0, 0.01), LN weight U(0.5, 1.5), iRPE table N(0, 0.25).
 */
export function randomWeights(cfg: PatnetConfig, seed = 0): WeightMap {
  const u = uniform(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
  const map: WeightMap = new Map();
  for (const [name, shape] of expectedWeights(cfg)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(size);
    const leaf = name.slice(name.lastIndexOf('.') + 1);
    let fill: () => number;
    if (leaf === 'running_var' || (leaf === 'weight' && shape.length === 1)) fill = () => 0.5 + u();
    else if (leaf === 'bias' || leaf === 'running_mean') fill = () => 0.1 * normal();
    else if (leaf === 'lookup_table_bias') fill = () => 0.5 * normal();
    else {
      const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
      const gain = name.endsWith('mlp.3.weight') ? 0.5 : 1;
      fill = () => (gain / Math.sqrt(fanIn)) * normal();
    }
    for (let i = 0; i < size; i++) data[i] = fill();
    map.set(name, { dtype: 'f32', shape: [...shape], data });
  }
  return map;
}
