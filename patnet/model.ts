// PATNet forward pass as a sequence of tilevm kernel launches on flat NCHW activations [N, C, H*W].
// Every layer runs on the device; host code only picks kernels and tile sizes. With `trace`, extra
// launches materialise the intermediate tensors the reference hooks record (same names as the
// fixtures), so each can be checked on its own; the untraced path never runs them.
import { type PatnetConfig, stageDim } from './config.js';
import type { MlpParams, PreparedPatnet, SpatialGateParams } from './fold.js';
import { attentionKernel } from './kernels/attention.js';
import { ACT, type ActCode, pow2 } from './kernels/cache.js';
import { conv3x3Kernel } from './kernels/conv3x3.js';
import { gemmKernel } from './kernels/gemm.js';
import { layerNormKernel } from './kernels/layernorm.js';
import { linearKernel } from './kernels/linear.js';
import { patchConvKernel } from './kernels/patch-conv.js';
import { scaleKernel } from './kernels/scale.js';
import { spatialGateKernel } from './kernels/spatial-gate.js';
import { poolKernel, statsKernel } from './kernels/stats.js';
import { conv3x3Tiles, gemmTiles, linearTiles, patchTiles } from './kernels/tiles.js';
import type { DeviceTensor, Runner } from './runner.js';
import { uploadWeight, type WeightStorage, weightBytes } from './storage.js';

const LN_EPS = 1e-6;

/** Host weight arrays mirrored on the device, uploaded once. */
type Uploaded<T> = { [K in keyof T]: T[K] extends Float32Array ? DeviceTensor : T[K] };

/** A named intermediate tensor read back from a traced run. */
export interface TraceTensor {
  readonly data: Float32Array;
  readonly shape: number[];
}

interface Step {
  readonly runner: Runner;
  readonly n: number;
  /** Uploads made during this run, destroyed at its end. */
  readonly temps: DeviceTensor[];
  /** Activations taken from the graph's pool during this run, returned to it at its end. */
  readonly pooled: DeviceTensor[];
  /** Present on traced runs: name -> [tensor, PyTorch shape]. */
  readonly trace?: Map<string, [DeviceTensor, number[]]>;
}

/**
 * Columns of a [rows, cols] tile reduced along its rows that fit WebGPU's guaranteed 16 KiB of
 * workgroup memory with room to spare (2048 f32 elements): a power of two, at least 1.
 */
function fitColumns(rows: number): number {
  let c = 1;
  while (c * 2 * rows <= 2048) c *= 2;
  return c;
}

export class PatnetGraph {
  readonly cfg: PatnetConfig;
  readonly #runner: Runner;
  readonly #w: UploadedWeights;
  readonly #zeros = new Map<number, DeviceTensor>();
  /**
   * Free activation tensors by shape, for the batch size `#poolBatch`. Every forward makes the same
   * activations, so after the first run a forward allocates nothing: a fresh device tensor costs a
   * zero fill (74 of them took 5.5 ms of a 30 ms T0 forward at 1 thread). Kernels write every
   * element they read back, so a reused tensor needs no clearing (model.test.ts runs twice to check).
   */
  readonly #pool = new Map<string, DeviceTensor[]>();
  #poolBatch = 0;
  /** Weight storage; `#ws` is spread into the specs of the kernels that read weight matrices. */
  readonly #storage: WeightStorage;
  readonly #ws: { readonly weights?: WeightStorage };
  #weightBytes = 0;

  constructor(cfg: PatnetConfig, runner: Runner, prepared: PreparedPatnet, storage: WeightStorage = 'f32') {
    this.cfg = cfg;
    this.#runner = runner;
    this.#storage = storage;
    // f32 adds no spec field, so f32 kernels keep the memo keys every other caller uses.
    this.#ws = storage === 'f16' ? { weights: 'f16' } : {};
    const made: DeviceTensor[] = [];
    try {
      this.#w = this.upload(prepared, made);
    } catch (e) {
      // A weight f16 cannot hold stops the upload midway: free what was uploaded before it.
      for (const t of made) t.destroy();
      throw e;
    }
  }

  private upload(p: PreparedPatnet, made: DeviceTensor[]) {
    const up = (a: Float32Array, shape: number[]) => {
      this.#weightBytes += weightBytes(a.length, 'f32');
      const t = this.#runner.upload(a, shape);
      made.push(t);
      return t;
    };
    // Weight matrices (read by the gemm, linear, 3x3 and patch kernels) in the chosen storage.
    const upW = (a: Float32Array, shape: number[], name: string) => {
      this.#weightBytes += weightBytes(a.length, this.#storage);
      const t = uploadWeight(this.#runner, a, shape, this.#storage, name);
      made.push(t);
      return t;
    };
    const cfg = this.cfg;
    const mlp = (m: MlpParams, c: number, name: string) => {
      const hidden = c * cfg.mlpRatio;
      const sp = m.sp && {
        c1: m.sp.c1,
        wg: up(m.sp.wg, [m.sp.c1]),
        a: up(m.sp.a, [m.sp.c1]),
        b: up(m.sp.b, [m.sp.c1]),
        w: upW(m.sp.w, [c - m.sp.c1, c - m.sp.c1], `${name}.mlp.4.conv`),
        bias: up(m.sp.bias, [c - m.sp.c1]),
      };
      return {
        w0: upW(m.w0, [hidden, c], `${name}.mlp.0`),
        b0: up(m.b0, [hidden]),
        w3: upW(m.w3, [c, hidden], `${name}.mlp.3`),
        sp,
      };
    };
    const blocks = p.blocks.map((stage, s) => {
      const c = stageDim(cfg, s);
      const cp = Math.floor(c / cfg.nDiv);
      const cu = c - cp;
      return stage.map((b, j) => {
        const name = `stages.${2 * s}.blocks.${j}`;
        const pconv = upW(b.pconv, [9, cp, cp], `${name}.spatial_mixing.partial_conv3`);
        if (b.kind === 'ch') {
          return {
            kind: 'ch' as const,
            pconv,
            cfc1t: upW(b.cfc1t, [2 * cu, cu], `${name}.spatial_mixing.attn.cfc1`),
            cfc1b: up(b.cfc1b, [cu]),
            normA: b.normA,
            normB: b.normB,
            mlp: mlp(b.mlp, c, name),
          };
        }
        const tp = pow2((cfg.imageSize / 32) ** 2);
        return {
          kind: 'sf' as const,
          pconv,
          qkv: upW(b.qkv, [3 * cu, cu], `${name}.spatial_mixing.attn.qkv`),
          qkvb: up(b.qkvb, [3 * cu]),
          proj: upW(b.proj, [cu, cu], `${name}.spatial_mixing.attn.proj`),
          projb: up(b.projb, [cu]),
          rpe: up(b.rpe, [cfg.heads, tp, tp]),
          lnGamma: b.lnGamma,
          lnBeta: b.lnBeta,
          mlp: mlp(b.mlp, c, name),
        };
      });
    });
    const e = cfg.embedDim;
    const c3 = stageDim(cfg, 3);
    return {
      stem: { w: upW(p.stem.w, [e, 48], 'patch_embed.proj'), b: up(p.stem.b, [e]) },
      merges: p.merges.map((m, s) => {
        const c = stageDim(cfg, s);
        return { w: upW(m.w, [2 * c, 4 * c], `stages.${2 * s + 1}.reduction`), b: up(m.b, [2 * c]) };
      }),
      blocks,
      head: {
        convT: upW(p.head.convT, [c3, cfg.featureDim], 'avgpool_pre_head.1'),
        linT: upW(p.head.linT, [cfg.featureDim, cfg.numClasses], 'head'),
        linB: up(p.head.linB, [cfg.numClasses]),
      },
    };
  }

  /** Device bytes of every uploaded weight (matrices in the chosen storage, vectors f32). */
  get weightBytes(): number {
    return this.#weightBytes;
  }

  /** A zero vector of `size` on the device (for kernels whose bias is compiled out). */
  #zero(size: number): DeviceTensor {
    let t = this.#zeros.get(size);
    if (!t) {
      t = this.#runner.empty([size]);
      this.#zeros.set(size, t);
    }
    return t;
  }

  /**
   * Runs the network on `input` ([N, 3, S, S] flattened to [N, 3, S*S] on the device) and returns the
   * logits tensor [N, classes]; with `trace`, also the named intermediates.
   */
  async forward(
    input: DeviceTensor,
    n: number,
    trace: boolean,
  ): Promise<{ logits: Float32Array; trace?: Map<string, TraceTensor> }> {
    if (n !== this.#poolBatch) {
      this.#drainPool();
      this.#poolBatch = n;
    }
    const st: Step = { runner: this.#runner, n, temps: [], pooled: [], trace: trace ? new Map() : undefined };
    try {
      const cfg = this.cfg;
      let hw = cfg.imageSize / 4;
      let x = this.#tensor(st, [n, cfg.embedDim, hw * hw]);
      await st.runner.launch(
        patchConvKernel({
          K: 4,
          OW: hw,
          ...patchTiles(st.runner.device.backend, 4, cfg.embedDim, 3, hw),
          ...this.#ws,
        }),
        { x: input, w: this.#w.stem.w, bias: this.#w.stem.b, y: x },
      );
      this.#record(st, 'patch_embed.out', x, [n, cfg.embedDim, hw, hw]);
      for (let s = 0; s < 4; s++) {
        const c = stageDim(cfg, s);
        if (s > 0) {
          const merged = this.#tensor(st, [n, c, (hw / 2) ** 2]);
          const m = this.#w.merges[s - 1];
          await st.runner.launch(
            patchConvKernel({
              K: 2,
              OW: hw / 2,
              ...patchTiles(st.runner.device.backend, 2, c, stageDim(cfg, s - 1), hw / 2),
              ...this.#ws,
            }),
            { x, w: m.w, bias: m.b, y: merged },
          );
          hw /= 2;
          x = merged;
          this.#record(st, `stages.${2 * s - 1}.out`, x, [n, c, hw, hw]);
        }
        for (const [j, b] of this.#w.blocks[s].entries()) {
          const name = `stages.${2 * s}.blocks.${j}`;
          this.#record(st, `${name}.in`, x, [n, c, hw, hw]);
          x =
            b.kind === 'ch'
              ? await this.#patCh(st, name, b, x, c, hw)
              : await this.#patSf(st, name, b, x, c, hw);
          this.#record(st, `${name}.out`, x, [n, c, hw, hw]);
        }
        this.#record(st, `stages.${2 * s}.out`, x, [n, c, hw, hw]);
      }
      const logits = await this.#head(st, x, stageDim(cfg, 3), hw * hw);
      const out = await st.runner.read(logits);
      let traced: Map<string, TraceTensor> | undefined;
      if (st.trace) {
        traced = new Map();
        for (const [k, [t, shape]] of st.trace) traced.set(k, { data: await st.runner.read(t), shape });
        traced.set('logits', { data: out, shape: [n, cfg.numClasses] });
      }
      return { logits: out, trace: traced };
    } finally {
      for (const t of st.temps) t.destroy();
      for (const t of st.pooled) {
        // A run of another batch size drained the pool meanwhile: its shapes are no longer kept.
        if (n === this.#poolBatch) this.#free(t);
        else t.destroy();
      }
    }
  }

  #tensor(st: Step, shape: number[]): DeviceTensor {
    const t = this.#pool.get(shape.join(','))?.pop() ?? st.runner.empty(shape);
    st.pooled.push(t);
    return t;
  }

  #free(t: DeviceTensor): void {
    const key = t.shape.join(',');
    const list = this.#pool.get(key);
    if (list) list.push(t);
    else this.#pool.set(key, [t]);
  }

  #drainPool(): void {
    for (const list of this.#pool.values()) for (const t of list) t.destroy();
    this.#pool.clear();
  }

  #record(st: Step, name: string, t: DeviceTensor, shape: number[]): void {
    st.trace?.set(name, [t, shape]);
  }

  /** Per-channel vector tiled over the batch, for the trace-only affine launches. */
  #perImage(st: Step, v: Float32Array | number[], c: number): DeviceTensor {
    const data = new Float32Array(st.n * c);
    for (let i = 0; i < st.n; i++) data.set(v as ArrayLike<number>, i * c);
    const t = st.runner.upload(data, [st.n, c]);
    st.temps.push(t);
    return t;
  }

  async #gemm(
    st: Step,
    o: {
      x: DeviceTensor;
      w: DeviceTensor;
      bias?: DeviceTensor;
      act?: ActCode;
      r?: DeviceTensor;
      y: DeviceTensor;
      xc0?: number;
      rc0?: number;
      yc0?: number;
    },
  ): Promise<void> {
    const [m, k] = o.w.shape;
    const p = o.x.shape[2];
    await st.runner.launch(
      gemmKernel({ ...gemmTiles(st.runner.device.backend, m, p, k, st.n, st.runner.threads), ...this.#ws }),
      {
        x: o.x,
        w: o.w,
        bias: o.bias ?? this.#zero(m),
        r: o.r ?? o.x,
        y: o.y,
        xc0: o.xc0 ?? 0,
        rc0: o.rc0 ?? 0,
        yc0: o.yc0 ?? 0,
        act: o.act ?? ACT.none,
        residual: o.r ? 1 : 0,
      },
    );
  }

  async #conv3x3(st: Step, x: DeviceTensor, w: DeviceTensor, y: DeviceTensor, hw: number, residual: boolean) {
    // WebGPU: one tile shape for every stage, so a model compiles two variants (with/without
    // residual), not one per stage (~1-2 s of pipeline creation each on SwiftShader); padding the
    // small stages (rows past CO and channels past CI read 0) costs little there. WASM compiles in
    // ~0.1 s and its tiles follow the stage (kernels/tiles.ts): the padding was 3x the work at 8 ch.
    const tiles = conv3x3Tiles(st.runner.device.backend, w.shape[1], hw * hw, st.n, st.runner.threads);
    const spec = { ...tiles, residual, ...this.#ws };
    await st.runner.launch(conv3x3Kernel(spec), { x, w, y, width: hw });
  }

  async #patCh(st: Step, name: string, b: Blocks['ch'], x: DeviceTensor, c: number, hw: number) {
    const n = st.n;
    const p = hw * hw;
    const cp = b.pconv.shape[1];
    const cu = c - cp;
    const mix = this.#tensor(st, [n, c, p]);
    await this.#conv3x3(st, x, b.pconv, mix, hw, false);
    const stats = this.#tensor(st, [n, 2 * cu]);
    await st.runner.launch(statsKernel(Math.min(16, pow2(cu)), Math.min(128, pow2(p))), {
      x,
      y: stats,
      c0: cp,
    });
    const gate = this.#tensor(st, [n, cu]);
    await st.runner.launch(
      // Fixed tiles (not sized to the batch or the stage) so one kernel serves every stage and batch.
      linearKernel({
        BN: 4,
        BM: 64,
        BK: 16,
        act: ACT.hardsigmoid,
        bias: true,
        ...this.#ws,
      }),
      {
        x: stats,
        wt: b.cfc1t,
        bias: b.cfc1b,
        y: gate,
      },
    );
    const scaleTiles = [Math.min(16, pow2(cu)), Math.min(128, pow2(p))] as const;
    await st.runner.launch(scaleKernel(...scaleTiles, false), {
      x,
      s: gate,
      t: gate,
      y: mix,
      xc0: cp,
      yc0: cp,
    });
    if (st.trace) {
      const attn = this.#tensor(st, [n, cu, p]);
      await st.runner.launch(scaleKernel(...scaleTiles, false), {
        x,
        s: gate,
        t: gate,
        y: attn,
        xc0: cp,
        yc0: 0,
      });
      this.#record(st, `${name}.spatial_mixing.attn.out`, attn, [n, cu, hw, hw]);
      // spatial_mixing.out = cat(conv, norm(attn)): the norm is folded into mlp.0 on the model path.
      const sm = this.#tensor(st, [n, c, p]);
      const ones = this.#perImage(st, new Array(cp).fill(1), cp);
      await st.runner.launch(scaleKernel(Math.min(16, pow2(cp)), scaleTiles[1], false), {
        x: mix,
        s: ones,
        t: ones,
        y: sm,
        xc0: 0,
        yc0: 0,
      });
      await st.runner.launch(scaleKernel(...scaleTiles, true), {
        x: mix,
        s: this.#perImage(st, b.normA, cu),
        t: this.#perImage(st, b.normB, cu),
        y: sm,
        xc0: cp,
        yc0: cp,
      });
      this.#record(st, `${name}.spatial_mixing.out`, sm, [n, c, hw, hw]);
    }
    return this.#mlp(st, name, b.mlp, mix, x, c, hw);
  }

  async #patSf(st: Step, name: string, b: Blocks['sf'], x: DeviceTensor, c: number, hw: number) {
    const n = st.n;
    const p = hw * hw;
    const cp = b.pconv.shape[1];
    const cu = c - cp;
    const xs = this.#tensor(st, [n, c, p]);
    await this.#conv3x3(st, x, b.pconv, xs, hw, true);
    const xn = this.#tensor(st, [n, cu, p]);
    await st.runner.launch(layerNormKernel(cu, Math.min(pow2(p), fitColumns(cu)), LN_EPS), {
      x,
      y: xn,
      c0: cp,
    });
    const qkv = this.#tensor(st, [n, 3 * cu, p]);
    await this.#gemm(st, { x: xn, w: b.qkv, bias: b.qkvb, y: qkv });
    const ao = this.#tensor(st, [n, cu, p]);
    const hd = cu / this.cfg.heads;
    const bd = [16, 8, 4, 2, 1].find((d) => hd % d === 0)!;
    const spec = { HD: hd, TP: pow2(p), BQ: Math.min(16, pow2(p)), BD: bd, scale: hd ** -0.5 };
    await st.runner.launch(attentionKernel(spec), { qkv, bias: b.rpe, y: ao });
    await this.#gemm(st, { x: ao, w: b.proj, bias: b.projb, r: x, rc0: cp, y: xs, yc0: cp });
    if (st.trace) {
      const norm = this.#tensor(st, [n, cu, p]);
      await st.runner.launch(scaleKernel(Math.min(16, pow2(cu)), Math.min(128, pow2(p)), true), {
        x: xn,
        s: this.#perImage(st, b.lnGamma, cu),
        t: this.#perImage(st, b.lnBeta, cu),
        y: norm,
        xc0: 0,
        yc0: 0,
      });
      this.#record(st, `${name}.spatial_mixing.norm.out`, norm, [n, cu, hw, hw]);
      const sm = this.#tensor(st, [n, c, p]);
      await this.#conv3x3(st, x, b.pconv, sm, hw, false);
      await this.#gemm(st, { x: ao, w: b.proj, bias: b.projb, y: sm, yc0: cp });
      const attn = this.#tensor(st, [n, cu, p]);
      await this.#gemm(st, { x: ao, w: b.proj, bias: b.projb, y: attn });
      this.#record(st, `${name}.spatial_mixing.attn.out`, attn, [n, cu, hw, hw]);
      this.#record(st, `${name}.spatial_mixing.out`, sm, [n, c, hw, hw]);
      this.#record(st, `${name}.mlp.in`, xs, [n, c, hw, hw]);
    }
    return this.#mlp(st, name, b.mlp, xs, xs, c, hw);
  }

  /** mlp(input) + skip, with PAT_sp's split gate at the end when the config has it. */
  async #mlp(
    st: Step,
    name: string,
    m: Block['mlp'],
    input: DeviceTensor,
    skip: DeviceTensor,
    c: number,
    hw: number,
  ) {
    const n = st.n;
    const p = hw * hw;
    const act = this.cfg.act === 'gelu' ? ACT.gelu : ACT.relu;
    const hidden = this.#tensor(st, [n, c * this.cfg.mlpRatio, p]);
    await this.#gemm(st, { x: input, w: m.w0, bias: m.b0, act, y: hidden });
    const out = this.#tensor(st, [n, c, p]);
    if (!m.sp) {
      await this.#gemm(st, { x: hidden, w: m.w3, r: skip, y: out });
      if (st.trace) {
        const t = this.#tensor(st, [n, c, p]);
        await this.#gemm(st, { x: hidden, w: m.w3, y: t });
        this.#record(st, `${name}.mlp.out`, t, [n, c, hw, hw]);
      }
      return out;
    }
    const pre = this.#tensor(st, [n, c, p]);
    await this.#gemm(st, { x: hidden, w: m.w3, y: pre });
    this.#record(st, `${name}.mlp.4.in`, pre, [n, c, hw, hw]);
    await this.#spatialAttn(st, m.sp, pre, skip, out);
    if (st.trace) {
      const t = this.#tensor(st, [n, c, p]);
      await this.#spatialAttn(st, m.sp, pre, undefined, t);
      this.#record(st, `${name}.mlp.out`, t, [n, c, hw, hw]);
    }
    return out;
  }

  async #spatialAttn(
    st: Step,
    sp: Uploaded<SpatialGateParams>,
    pre: DeviceTensor,
    skip: DeviceTensor | undefined,
    y: DeviceTensor,
  ) {
    const p = pre.shape[2];
    await st.runner.launch(spatialGateKernel(sp.c1, Math.min(64, pow2(p), fitColumns(sp.c1)), !!skip), {
      p: pre,
      wg: sp.wg,
      a: sp.a,
      b: sp.b,
      r: skip ?? pre,
      y,
    });
    await this.#gemm(st, { x: pre, xc0: sp.c1, w: sp.w, bias: sp.bias, r: skip, rc0: sp.c1, y, yc0: sp.c1 });
  }

  async #head(st: Step, x: DeviceTensor, c: number, p: number): Promise<DeviceTensor> {
    const n = st.n;
    const cfg = this.cfg;
    const pooled = this.#tensor(st, [n, c]);
    await st.runner.launch(poolKernel(Math.min(32, c), Math.min(64, pow2(p))), { x, y: pooled });
    const feat = this.#tensor(st, [n, cfg.featureDim]);
    const act = cfg.act === 'gelu' ? ACT.gelu : ACT.relu;
    // Batch tile 8 for every batch size (one kernel), except a batch of 1 on WASM (kernels/tiles.ts).
    const backend = st.runner.device.backend;
    const convTiles = linearTiles(backend, n, cfg.featureDim, c, 8, 32);
    await st.runner.launch(linearKernel({ ...convTiles, act, bias: false, ...this.#ws }), {
      x: pooled,
      wt: this.#w.head.convT,
      bias: this.#zero(cfg.featureDim),
      y: feat,
    });
    this.#record(st, 'avgpool_pre_head.out', feat, [n, cfg.featureDim, 1, 1]);
    const logits = this.#tensor(st, [n, cfg.numClasses]);
    const linTiles = linearTiles(backend, n, cfg.numClasses, cfg.featureDim, 8, 32);
    await st.runner.launch(linearKernel({ ...linTiles, act: ACT.none, bias: true, ...this.#ws }), {
      x: feat,
      wt: this.#w.head.linT,
      bias: this.#w.head.linB,
      y: logits,
    });
    return logits;
  }

  /** Frees the uploaded weights and the pooled activations. */
  destroy(): void {
    const visit = (v: unknown): void => {
      if (v && typeof v === 'object') {
        if ('destroy' in v && typeof (v as DeviceTensor).destroy === 'function' && 'shape' in v) {
          (v as DeviceTensor).destroy();
          return;
        }
        for (const x of Object.values(v)) visit(x);
      }
    };
    visit(this.#w);
    for (const t of this.#zeros.values()) t.destroy();
    this.#drainPool();
  }
}

type UploadedWeights = ReturnType<PatnetGraph['upload']>;
type Block = UploadedWeights['blocks'][number][number];
type Blocks = { ch: Extract<Block, { kind: 'ch' }>; sf: Extract<Block, { kind: 'sf' }> };
