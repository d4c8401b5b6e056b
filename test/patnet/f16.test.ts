// PATNet with f16 weight storage (patnet/storage.ts): against the authors' PyTorch outputs
// (../shared/fixtures/patnet), every stored tensor within the depth-dependent f16 bound of
// f16-tolerance.ts (docs/patnet.md derives it), the same argmax and top-5 as the reference; on WASM
// both fixtures at batch 2, on WebGPU one T0 image (SwiftShader takes seconds a forward). Also: f16
// storage computes exactly what f32 storage computes on weights pre-rounded to f16 (the kernels'
// `.to(f32)` is exact), the memory halves, the CLI flag, and the errors for bad options and weights
// f16 cannot hold.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encode, f16, roundToDType } from '../../dsl/index.js';
import { runPatnetCli } from '../../patnet/cli/index.js';
import { PATNET_CONFIGS, type PatnetConfig } from '../../patnet/config.js';
import { type PreparedPatnet, prepareWeights } from '../../patnet/fold.js';
import {
  loadPatnet,
  type PatnetDevice,
  randomWeights,
  readSafetensors,
  type TraceTensor,
  type WeightMap,
} from '../../patnet/index.js';
import { PatnetGraph } from '../../patnet/model.js';
import { Runner } from '../../patnet/runner.js';
import { f32ToF16Bits } from '../../patnet/storage.js';
import { createDevice } from '../../runtime/index.js';
import { describeWebGpu } from '../helpers/webgpu.js';
import { f16Tolerance, weightDepth } from './f16-tolerance.js';

const DIR = new URL('../../../shared/fixtures/patnet/', import.meta.url);
if (!existsSync(new URL('patnet_t0.io.safetensors', DIR))) {
  throw new Error(`PATNet fixtures not found in ${DIR.pathname}`);
}

function readFixture(name: string): WeightMap {
  return readSafetensors(new Uint8Array(readFileSync(new URL(name, DIR))), name).tensors;
}

/** Class indices of the k largest logits of row r, largest first. */
function topK(data: Float32Array, r: number, k: number): number[] {
  const row = data.subarray(r * 1000, (r + 1) * 1000);
  return [...row.keys()].sort((a, b) => row[b] - row[a]).slice(0, k);
}

function compare(got: Float32Array, ref: Float32Array): { err: number; scale: number } {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got[i] - ref[i]);
    err = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(err, d);
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return { err, scale };
}

/**
 * `traced`: every stored tensor gets its own test (else only the logits, as WebGPU's forward is
 * slow and WASM already covers the same kernels per tensor).
 */
function f16Suite(
  backend: 'wasm' | 'webgpu',
  fixture: 'patnet_t0' | 'patnet_t0_patsp',
  batch: number,
  traced: boolean,
) {
  const io = readFixture(`${fixture}.io.safetensors`);
  const names = traced ? [...io.keys()].filter((k) => k !== 'input') : ['logits'];
  /** The first `batch` images of a fixture tensor. */
  const head = (t: { data: Float32Array; shape: number[] }) =>
    t.data.subarray(0, (t.data.length / t.shape[0]) * batch);
  let device: PatnetDevice | undefined;
  let trace: Map<string, TraceTensor>;
  let logits: Float32Array;
  let bytes: number;

  beforeAll(async () => {
    device = backend === 'wasm' ? await createDevice({ backend: 'wasm' }) : await createDevice();
    const model = await loadPatnet({
      variant: 't0',
      weights: new URL(`${fixture}.weights.safetensors`, DIR).pathname,
      device,
      weightStorage: 'f16',
    });
    expect(model.weightStorage).toBe('f16');
    bytes = model.weightBytes;
    const input = { data: head(io.get('input')!), shape: [batch, 3, 224, 224] as const };
    if (traced) {
      const out = await model.runTraced(input);
      trace = out.trace;
      logits = out.data;
    } else {
      logits = (await model.run(input)).data;
      trace = new Map([['logits', { data: logits, shape: [batch, 1000] }]]);
    }
    model.destroy();
  }, 300_000);
  afterAll(() => device?.destroy());

  for (const name of names) {
    it(`${name} is within the f16 bound`, () => {
      const ref = io.get(name)!;
      const got = trace.get(name);
      expect(got, `no traced tensor '${name}'`).toBeDefined();
      expect(got!.shape).toEqual([batch, ...ref.shape.slice(1)]);
      const { err, scale } = compare(got!.data, head(ref));
      const d = weightDepth(name, [1, 2, 8, 2], fixture.endsWith('patsp'));
      expect(err, `${name} (depth ${d}): max|err| ${err} vs max|ref| ${scale}`).toBeLessThanOrEqual(
        f16Tolerance(d, scale),
      );
    });
  }

  it('the weights really are rounded: the output is off by more than f32 rounding', () => {
    const name = traced ? 'patch_embed.out' : 'logits';
    const { err, scale } = compare(trace.get(name)!.data, head(io.get(name)!));
    // f32 storage gives under 1e-6 here (test/bench/patnet-f16.ts); f16 weights 2e-4 to 5e-4.
    expect(err / (1 + scale)).toBeGreaterThan(2e-5);
    // 2 bytes per matrix weight; biases and gate vectors (under 1% of the weights) stay f32.
    const matrixAndVectorCount = [...readFixture(`${fixture}.weights.safetensors`).values()].reduce(
      (a, t) => a + t.data.length,
      0,
    );
    expect(bytes).toBeLessThan(0.52 * 4 * matrixAndVectorCount);
  });

  it('the logits have the reference argmax and top-5, in order', () => {
    const ref = io.get('logits')!.data;
    for (let r = 0; r < batch; r++) expect(topK(logits, r, 5)).toEqual(topK(ref, r, 5));
  });
}

describe('PATNet f16 weight storage on WASM', () => {
  describe('patnet_t0, batch 2', () => f16Suite('wasm', 'patnet_t0', 2, true));
  describe('patnet_t0_patsp, batch 1', () => f16Suite('wasm', 'patnet_t0_patsp', 1, true));
});
describeWebGpu('PATNet f16 weight storage on WebGPU (patnet_t0, one image, logits)', () =>
  f16Suite('webgpu', 'patnet_t0', 1, false),
);

/** `p` with every weight matrix (what f16 storage stores as f16) rounded to f16 and kept f32. */
function roundMatrices(p: PreparedPatnet): PreparedPatnet {
  const r = (a: Float32Array) => a.map((v) => roundToDType(f16, v));
  const mlp = (m: PreparedPatnet['blocks'][number][number]['mlp']) => ({
    ...m,
    w0: r(m.w0),
    w3: r(m.w3),
    sp: m.sp && { ...m.sp, w: r(m.sp.w) },
  });
  return {
    ...p,
    stem: { ...p.stem, w: r(p.stem.w) },
    merges: p.merges.map((m) => ({ ...m, w: r(m.w) })),
    blocks: p.blocks.map((stage) =>
      stage.map((b) =>
        b.kind === 'ch'
          ? { ...b, pconv: r(b.pconv), cfc1t: r(b.cfc1t), mlp: mlp(b.mlp) }
          : { ...b, pconv: r(b.pconv), qkv: r(b.qkv), proj: r(b.proj), mlp: mlp(b.mlp) },
      ),
    ),
    head: { ...p.head, convT: r(p.head.convT), linT: r(p.head.linT) },
  };
}

describe('f32ToF16Bits', () => {
  it('gives the bits of encode(f16, v) for edge values and 200k random f32 bit patterns', () => {
    const edges = [0, -0, 1, -1, 65504, 65519.99, 65520, -7e4, 2 ** -14, 2 ** -24, 2 ** -25];
    edges.push(3 * 2 ** -25, 1e-10, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 2049, Infinity, -Infinity);
    const words = new Uint32Array(200_000);
    let state = 12345;
    for (let i = 0; i < words.length; i++) {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      words[i] = state ^ (state >>> 7);
    }
    const values = new Float32Array(edges.length + words.length);
    values.set(edges);
    values.set(new Float32Array(words.buffer), edges.length);
    const got = f32ToF16Bits(values);
    let mismatches = 0;
    for (let i = 0; i < values.length; i++) {
      const want = encode(f16, values[i]);
      // NaN: any f16 NaN will do (the payload is not specified).
      const bothNaN = Number.isNaN(values[i]) && (got[i] & 0x7c00) === 0x7c00 && (got[i] & 0x3ff) !== 0;
      if (got[i] !== want && !bothNaN) mismatches++;
    }
    expect(mismatches).toBe(0);
  });
});

describe('f16 weight storage (WASM, random weights)', () => {
  let device: PatnetDevice;
  beforeAll(async () => {
    device = await createDevice({ backend: 'wasm' });
  });
  afterAll(() => device?.destroy());

  it('equals f32 storage of the same weights rounded to f16 (T0 with PAT_sp, one block a stage)', async () => {
    // T0 shapes: the f16 kernels are those the fixture suites above built already.
    const cfg: PatnetConfig = { ...PATNET_CONFIGS.t0, spatialAttn: true, depths: [1, 1, 1, 1] };
    const prepared = prepareWeights(cfg, randomWeights(cfg, 11));
    const runner = new Runner(device);
    const data = new Float32Array(3 * 224 * 224).map((_, i) => Math.sin(i * 0.61 + 2) * 1.7);
    const input = runner.upload(data, [1, 3, 224 * 224]);
    const rounded = roundMatrices(prepared);
    // Rounding changes the weights, so f16 storage that silently kept f32 would fail the comparison.
    expect(rounded.head.linT).not.toEqual(prepared.head.linT);
    const half = new PatnetGraph(cfg, runner, prepared, 'f16');
    const full = new PatnetGraph(cfg, runner, rounded, 'f32');
    try {
      const a = (await half.forward(input, 1, false)).logits;
      const b = (await full.forward(input, 1, false)).logits;
      // Same products in the same order: f16 -> f32 is exact, so at most accumulation-order noise.
      const { err, scale } = compare(a, b);
      expect(err).toBeLessThanOrEqual(1e-6 * (1 + scale));
      expect(half.weightBytes).toBeLessThan(0.52 * full.weightBytes);
    } finally {
      input.destroy();
      half.destroy();
      full.destroy();
    }
  }, 120_000);

  it('a bad weightStorage and a weight f16 cannot hold: errors naming the option and the tensor', async () => {
    await expect(loadPatnet({ variant: 't0', device, weightStorage: 'bf16' as never })).rejects.toThrow(
      /weightStorage must be 'f32' or 'f16', not "bf16"/,
    );
    const weights = randomWeights(PATNET_CONFIGS.t0, 1);
    weights.get('head.weight')!.data[5] = 7e4;
    await expect(loadPatnet({ variant: 't0', device, weights, weightStorage: 'f16' })).rejects.toThrow(
      /weight 'head' holds 70000.* f16 storage cannot represent/,
    );
  });

  it('tilevm patnet classify --weight-storage f16 says so; a bad value is a usage error', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    const image = fileURLToPath(new URL('../demo/assets/chelsea.jpg', import.meta.url));
    expect(await runPatnetCli(['classify', image, '--weight-storage', 'f16', '--top', '3'], io)).toBe(0);
    expect(out[0]).toMatch(/^PATNet-T0 on wasm, f16 weight storage \(\d+\.\d MiB\)/);
    expect(out.filter((l) => /^\s+\d+\.\s/.test(l))).toHaveLength(3);
    expect(await runPatnetCli(['classify', image, '--weight-storage', 'f8'], io)).toBe(2);
    expect(err.join('\n')).toMatch(/--weight-storage must be f32 or f16, not 'f8'/);
  }, 120_000);
});
