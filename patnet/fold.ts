// Load-time weight preparation (host code, run once): BatchNorm and LayerNorm affines folded into the
// neighbouring convs, weights rearranged into the layouts the kernels read, and the iRPE bias table
// gathered. Folding computes in float64 and rounds once to f32.
import { type PatnetConfig, stageDim } from './config.js';
import { pow2 } from './kernels/cache.js';
import type { WeightMap } from './weights/types.js';

const BN_EPS = 1e-5;

export interface SpatialGateParams {
  readonly c1: number;
  readonly wg: Float32Array;
  readonly a: Float32Array;
  readonly b: Float32Array;
  /** mlp.4.conv with norm2 folded in: [c2, c2] and bias [c2]. */
  readonly w: Float32Array;
  readonly bias: Float32Array;
}

export interface MlpParams {
  /** mlp.0 with mlp.1 (and, in PAT_ch blocks, spatial_mixing.norm) folded in: [hidden, C]. */
  readonly w0: Float32Array;
  readonly b0: Float32Array;
  /** mlp.3: [C, hidden], no bias. */
  readonly w3: Float32Array;
  readonly sp?: SpatialGateParams;
}

export interface PatChParams {
  readonly kind: 'ch';
  /** partial_conv3 tap-major: [9, cp, cp]. */
  readonly pconv: Float32Array;
  /** cfc1 with attn.bn folded, transposed to [2 * cu, cu] (rows: mean/std interleaved per channel). */
  readonly cfc1t: Float32Array;
  readonly cfc1b: Float32Array;
  /** spatial_mixing.norm as scale/shift [cu] (folded into mlp.0 on the model path; traces use it). */
  readonly normA: Float32Array;
  readonly normB: Float32Array;
  readonly mlp: MlpParams;
}

export interface PatSfParams {
  readonly kind: 'sf';
  readonly pconv: Float32Array;
  /** qkv with the LayerNorm affine folded in: [3 * cu, cu], bias [3 * cu]. */
  readonly qkv: Float32Array;
  readonly qkvb: Float32Array;
  readonly proj: Float32Array;
  readonly projb: Float32Array;
  /** iRPE bias [heads, TP, TP], -1e30 for padded keys. */
  readonly rpe: Float32Array;
  readonly lnGamma: Float32Array;
  readonly lnBeta: Float32Array;
  readonly mlp: MlpParams;
}

export interface PreparedPatnet {
  readonly stem: { readonly w: Float32Array; readonly b: Float32Array };
  readonly merges: { readonly w: Float32Array; readonly b: Float32Array }[];
  readonly blocks: (PatChParams | PatSfParams)[][];
  readonly head: { readonly convT: Float32Array; readonly linT: Float32Array; readonly linB: Float32Array };
}

function bnAffine(w: WeightMap, prefix: string): { a: Float64Array; b: Float64Array } {
  const g = get(w, `${prefix}.weight`);
  const beta = get(w, `${prefix}.bias`);
  const mean = get(w, `${prefix}.running_mean`);
  const v = get(w, `${prefix}.running_var`);
  const a = new Float64Array(g.length);
  const b = new Float64Array(g.length);
  for (let i = 0; i < g.length; i++) {
    a[i] = g[i] / Math.sqrt(v[i] + BN_EPS);
    b[i] = beta[i] - mean[i] * a[i];
  }
  return { a, b };
}

function get(w: WeightMap, name: string): Float32Array {
  const t = w.get(name);
  if (!t) throw new Error(`PATNet: weight '${name}' is missing`);
  return t.data;
}

/** Conv [co, k] scaled per output row by a, bias b (BN after a conv). */
function foldRows(wt: Float32Array, rows: number, bn: { a: Float64Array; b: Float64Array }) {
  const k = wt.length / rows;
  const w = new Float32Array(wt.length);
  for (let r = 0; r < rows; r++) for (let j = 0; j < k; j++) w[r * k + j] = wt[r * k + j] * bn.a[r];
  return { w, b: Float32Array.from(bn.b) };
}

function transpose(m: Float32Array | Float64Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c];
  return out;
}

/** [co, ci, 3, 3] to tap-major [9, co, ci]. */
function tapMajor(wt: Float32Array, c: number): Float32Array {
  const out = new Float32Array(9 * c * c);
  for (let o = 0; o < c; o++)
    for (let i = 0; i < c; i++)
      for (let t = 0; t < 9; t++) out[(t * c + o) * c + i] = wt[(o * c + i) * 9 + t];
  return out;
}

/**
 * mlp.0 [hidden, c] folded with an affine on its inputs from channel `from` on (x' = a x + b), then
 * with mlp.1's BN on its outputs.
 */
function foldMlp0(
  w: WeightMap,
  prefix: string,
  c: number,
  hidden: number,
  inAffine?: { from: number; a: Float64Array; b: Float64Array },
) {
  const w0 = get(w, `${prefix}.mlp.0.weight`);
  const bn = bnAffine(w, `${prefix}.mlp.1`);
  const out = new Float32Array(hidden * c);
  const bias = new Float32Array(hidden);
  for (let o = 0; o < hidden; o++) {
    let acc = 0;
    for (let i = 0; i < c; i++) {
      let wi = w0[o * c + i];
      if (inAffine && i >= inAffine.from) {
        acc += wi * inAffine.b[i - inAffine.from];
        wi *= inAffine.a[i - inAffine.from];
      }
      out[o * c + i] = wi * bn.a[o];
    }
    bias[o] = acc * bn.a[o] + bn.b[o];
  }
  return { w0: out, b0: bias };
}

function spatialGate(w: WeightMap, prefix: string, c: number): SpatialGateParams {
  const c2 = Math.floor(c / 2);
  const c1 = c - c2;
  const n1 = bnAffine(w, `${prefix}.mlp.4.norm`);
  const n2 = bnAffine(w, `${prefix}.mlp.4.norm2`);
  const conv = get(w, `${prefix}.mlp.4.conv.weight`);
  const wf = new Float32Array(c2 * c2);
  const bias = new Float32Array(c2);
  for (let o = 0; o < c2; o++) {
    let acc = 0;
    for (let i = 0; i < c2; i++) {
      wf[o * c2 + i] = conv[o * c2 + i] * n2.a[i];
      acc += conv[o * c2 + i] * n2.b[i];
    }
    bias[o] = acc;
  }
  return {
    c1,
    wg: Float32Array.from(get(w, `${prefix}.mlp.4.conv_attn.weight`)),
    a: Float32Array.from(n1.a),
    b: Float32Array.from(n1.b),
    w: wf,
    bias,
  };
}

/** torch.round: half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * iRPE bucket of a Euclidean distance (irpe.py piecewise_index with alpha 20, beta 40, gamma 160,
 * offset by beta): round(d) up to alpha, log-spaced beyond, clipped at beta.
 */
export function rpeBucket(dist: number): number {
  const alpha = 20;
  const beta = 40;
  const gamma = 160;
  if (dist <= alpha) return roundHalfEven(dist) + beta;
  const y = alpha + (Math.log(dist / alpha) / Math.log(gamma / alpha)) * (beta - alpha);
  return Math.min(roundHalfEven(y), beta) + beta;
}

/** The attention bias [heads, TP, TP] for an h x w token grid (row-major tokens). */
export function rpeTable(table: Float32Array, heads: number, h: number, w: number): Float32Array {
  const t = h * w;
  const tp = pow2(t);
  const out = new Float32Array(heads * tp * tp);
  for (let hd = 0; hd < heads; hd++)
    for (let i = 0; i < tp; i++)
      for (let j = 0; j < tp; j++) {
        let v = -1e30;
        if (i < t && j < t) {
          const dr = Math.floor(i / w) - Math.floor(j / w);
          const dc = (i % w) - (j % w);
          v = table[hd * 81 + rpeBucket(Math.fround(Math.sqrt(dr * dr + dc * dc)))];
        } else if (i >= t) v = 0;
        out[(hd * tp + i) * tp + j] = v;
      }
  return out;
}

/** Folds and rearranges a checked state_dict for the kernels. */
export function prepareWeights(cfg: PatnetConfig, w: WeightMap): PreparedPatnet {
  const e = cfg.embedDim;
  const stem = foldRows(get(w, 'patch_embed.proj.weight'), e, bnAffine(w, 'patch_embed.norm'));
  const merges = [0, 1, 2].map((s) =>
    foldRows(
      get(w, `stages.${2 * s + 1}.reduction.weight`),
      2 * stageDim(cfg, s),
      bnAffine(w, `stages.${2 * s + 1}.norm`),
    ),
  );
  const finalHw = cfg.imageSize / 32;
  const blocks = [0, 1, 2, 3].map((s) => {
    const c = stageDim(cfg, s);
    const cp = Math.floor(c / cfg.nDiv);
    const cu = c - cp;
    const hidden = c * cfg.mlpRatio;
    return Array.from({ length: cfg.depths[s] }, (_, j): PatChParams | PatSfParams => {
      const p = `stages.${2 * s}.blocks.${j}`;
      const pconv = tapMajor(get(w, `${p}.spatial_mixing.partial_conv3.weight`), cp);
      const sp = cfg.spatialAttn ? spatialGate(w, p, c) : undefined;
      const w3 = Float32Array.from(get(w, `${p}.mlp.3.weight`));
      if (s < 3) {
        const attnBn = bnAffine(w, `${p}.spatial_mixing.attn.bn`);
        const cfc1 = foldRows(get(w, `${p}.spatial_mixing.attn.cfc1.weight`), cu, attnBn);
        const norm = bnAffine(w, `${p}.spatial_mixing.norm`);
        const { w0, b0 } = foldMlp0(w, p, c, hidden, { from: cp, ...norm });
        return {
          kind: 'ch',
          pconv,
          cfc1t: transpose(cfc1.w, cu, 2 * cu),
          cfc1b: cfc1.b,
          normA: Float32Array.from(norm.a),
          normB: Float32Array.from(norm.b),
          mlp: { w0, b0, w3, sp },
        };
      }
      const gamma = get(w, `${p}.spatial_mixing.norm.weight`);
      const beta = get(w, `${p}.spatial_mixing.norm.bias`);
      const qkvW = get(w, `${p}.spatial_mixing.attn.qkv.weight`);
      const qkv = new Float32Array(3 * cu * cu);
      const qkvb = new Float32Array(3 * cu);
      for (let o = 0; o < 3 * cu; o++) {
        let acc = 0;
        for (let i = 0; i < cu; i++) {
          qkv[o * cu + i] = qkvW[o * cu + i] * gamma[i];
          acc += qkvW[o * cu + i] * beta[i];
        }
        qkvb[o] = acc;
      }
      const { w0, b0 } = foldMlp0(w, p, c, hidden);
      return {
        kind: 'sf',
        pconv,
        qkv,
        qkvb,
        proj: Float32Array.from(get(w, `${p}.spatial_mixing.attn.proj.weight`)),
        projb: Float32Array.from(get(w, `${p}.spatial_mixing.attn.proj.bias`)),
        rpe: rpeTable(
          get(w, `${p}.spatial_mixing.attn.rpe_k.lookup_table_bias`),
          cfg.heads,
          finalHw,
          finalHw,
        ),
        lnGamma: Float32Array.from(gamma),
        lnBeta: Float32Array.from(beta),
        mlp: { w0, b0, w3, sp },
      };
    });
  });
  const c3 = stageDim(cfg, 3);
  return {
    stem,
    merges,
    blocks,
    head: {
      convT: transpose(get(w, 'avgpool_pre_head.1.weight'), cfg.featureDim, c3),
      linT: transpose(get(w, 'head.weight'), cfg.numClasses, cfg.featureDim),
      linB: Float32Array.from(get(w, 'head.bias')),
    },
  };
}
