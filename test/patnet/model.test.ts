// PATNet exactness against the authors' PyTorch outputs (../shared/fixtures/patnet, see its README):
// every stored intermediate tensor and the logits, on the WASM and the WebGPU device, within
// max|err| <= 1e-4 * (1 + max|ref|) (docs/patnet.md justifies the bound), plus the same argmax.
// One traced forward per fixture and device in beforeAll, then one test per stored tensor, so a
// failure names the layer. Also: loading weights from a .pth path, and the other variants' shapes
// with seeded random weights (shallow copies of each variant: every block shape, fewer blocks).
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PATNET_CONFIGS, type PatnetConfig } from '../../patnet/config.js';
import { prepareWeights } from '../../patnet/fold.js';
import {
  loadPatnet,
  type PatnetDevice,
  type PatnetModel,
  randomWeights,
  readSafetensors,
  type TraceTensor,
  type WeightMap,
  WeightsError,
} from '../../patnet/index.js';
import { PatnetGraph } from '../../patnet/model.js';
import { Runner } from '../../patnet/runner.js';
import { createDevice } from '../../runtime/index.js';
import { describeWebGpu } from '../helpers/webgpu.js';
import { f32Storage, i64Storage, type PyLike, TorchTensor, torchSave } from './pth-writer.js';

const DIR = new URL('../../../shared/fixtures/patnet/', import.meta.url);
const FIXTURES = ['patnet_t0', 'patnet_t0_patsp'] as const;
const TOLERANCE = 1e-4;

function readFixture(name: string): WeightMap {
  return readSafetensors(new Uint8Array(readFileSync(new URL(name, DIR))), name).tensors;
}

function argmax(data: Float32Array, row: number, width: number): number {
  let best = 0;
  for (let i = 1; i < width; i++) if (data[row * width + i] > data[row * width + best]) best = i;
  return best;
}

/** max |got - ref| and max |ref|. */
function compare(got: TraceTensor, ref: Float32Array): { err: number; scale: number } {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(got.data[i] - ref[i]);
    err = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(err, d);
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return { err, scale };
}

function exactnessSuite(backend: 'wasm' | 'webgpu', fixture: (typeof FIXTURES)[number]) {
  const io = readFixture(`${fixture}.io.safetensors`);
  const names = [...io.keys()].filter((k) => k !== 'input');
  let device: PatnetDevice | undefined;
  let trace: Map<string, TraceTensor>;
  let logits: Float32Array;
  let untraced: Float32Array | undefined;

  beforeAll(async () => {
    device = backend === 'wasm' ? await createDevice({ backend: 'wasm' }) : await createDevice();
    const model: PatnetModel = await loadPatnet({
      variant: 't0',
      weights: new URL(`${fixture}.weights.safetensors`, DIR).pathname,
      device,
    });
    const input = io.get('input')!;
    const shape = input.shape as [number, number, number, number];
    const out = await model.runTraced({ data: input.data, shape });
    trace = out.trace;
    logits = out.data;
    // The untraced path is the same host code on every device (the trace only adds launches), so
    // one device proves it gives the traced logits; SwiftShader's forward costs seconds.
    if (backend === 'wasm') untraced = (await model.run({ data: input.data, shape })).data;
    model.destroy();
  }, 600_000);
  afterAll(() => device?.destroy());

  for (const name of names) {
    it(`${name} matches the reference`, () => {
      const ref = io.get(name)!;
      const got = trace.get(name);
      expect(got, `no traced tensor '${name}'`).toBeDefined();
      expect(got!.shape).toEqual(ref.shape);
      const { err, scale } = compare(got!, ref.data);
      expect(err, `${name}: max|err| ${err} vs max|ref| ${scale}`).toBeLessThanOrEqual(
        TOLERANCE * (1 + scale),
      );
    });
  }

  it('the logits have the reference argmax', () => {
    const ref = io.get('logits')!;
    const [n, classes] = ref.shape;
    for (let r = 0; r < n; r++) expect(argmax(logits, r, classes)).toBe(argmax(ref.data, r, classes));
  });

  if (backend === 'wasm') {
    it('the untraced run gives the traced logits', () => {
      expect(untraced).toEqual(logits);
    });
  }
}

const haveFixtures = FIXTURES.every((f) => existsSync(new URL(`${f}.io.safetensors`, DIR)));
if (!haveFixtures) throw new Error(`PATNet fixtures not found in ${DIR.pathname}`);

for (const fixture of FIXTURES) {
  describe(`PATNet ${fixture} on WASM`, () => exactnessSuite('wasm', fixture));
  describeWebGpu(`PATNet ${fixture} on WebGPU`, () => exactnessSuite('webgpu', fixture));
}

/** The weights as a .pth file laid out like torch.save({'model': state_dict}), with BN counters. */
function asPth(weights: WeightMap): Uint8Array {
  const sd = new Map<string, PyLike>();
  for (const [name, t] of weights) {
    sd.set(name, new TorchTensor(f32Storage(t.data), [...t.shape]));
    if (name.endsWith('.running_var')) {
      sd.set(name.replace(/running_var$/, 'num_batches_tracked'), new TorchTensor(i64Storage([0]), []));
    }
  }
  return torchSave({ model: sd, epoch: 299 });
}

describe('loadPatnet weight sources (WASM)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tilevm-patnet-model-'));
  let device: PatnetDevice;
  beforeAll(async () => {
    device = await createDevice({ backend: 'wasm' });
  });
  afterAll(() => {
    device?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a .pth path, .pth bytes and the WeightMap give the same logits', async () => {
    const weights = readFixture('patnet_t0.weights.safetensors');
    const io = readFixture('patnet_t0.io.safetensors');
    const input = io.get('input')!;
    const size = 3 * 224 * 224;
    const one = { data: input.data.slice(size, 2 * size), shape: [1, 3, 224, 224] as const };
    const pth = asPth(weights);
    const path = join(dir, 'patnet_t0.pth');
    writeFileSync(path, pth);
    const logits: Float32Array[] = [];
    for (const source of [weights, path, pth]) {
      const model = await loadPatnet({ variant: 't0', weights: source, device });
      expect(model.untrained).toBe(false);
      logits.push((await model.run(one)).data);
      model.destroy();
    }
    expect(logits[1]).toEqual(logits[0]);
    expect(logits[2]).toEqual(logits[0]);
    expect(argmax(logits[0], 0, 1000)).toBe(argmax(io.get('logits')!.data, 1, 1000));
  }, 120_000);

  it('a corrupt .pth file and a missing path give errors naming the file', async () => {
    const cut = join(dir, 'cut.pth');
    const bytes = asPth(readFixture('patnet_t0.weights.safetensors'));
    writeFileSync(cut, bytes.subarray(0, bytes.length >> 1));
    await expect(loadPatnet({ variant: 't0', weights: cut, device })).rejects.toThrow(
      /cut\.pth: the zip archive is corrupt or truncated/,
    );
    const missing = join(dir, 'nope.pth');
    await expect(loadPatnet({ variant: 't0', weights: missing, device })).rejects.toThrow(WeightsError);
    await expect(loadPatnet({ variant: 't0', weights: missing, device })).rejects.toThrow(
      /cannot read weights file .*nope\.pth: ENOENT/,
    );
  });
});

/**
 * A variant with one block per stage: every block shape of the variant (blocks within a stage are
 * alike) at a fraction of the full depth's cost.
 */
function shallow(variant: keyof typeof PATNET_CONFIGS): PatnetConfig {
  return { ...PATNET_CONFIGS[variant], depths: [1, 1, 1, 1] };
}

describe('PATNet variants with random weights (WASM)', () => {
  let device: PatnetDevice;
  beforeAll(async () => {
    device = await createDevice({ backend: 'wasm' });
  });
  afterAll(() => device?.destroy());

  const image = (n: number, seed: number) => {
    const data = new Float32Array(n * 3 * 224 * 224);
    for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37 + seed) * 1.5;
    return data;
  };

  it('t1 through loadPatnet: full depth, logits [1, 1000], finite, flagged untrained', async () => {
    const model = await loadPatnet({ variant: 't1', device, seed: 7 });
    expect(model.untrained).toBe(true);
    expect(model.config.variant).toBe('t1');
    expect(model.config.spatialAttn).toBe(true);
    const out = await model.run({ data: image(1, 0), shape: [1, 3, 224, 224] });
    expect(out.shape).toEqual([1, 1000]);
    expect(out.data.length).toBe(1000);
    expect(out.data.every(Number.isFinite)).toBe(true);
    await expect(model.run({ data: image(1, 0), shape: [1, 3, 224, 200] as never })).rejects.toThrow(
      /input shape/,
    );
    model.destroy();
  }, 120_000);

  for (const variant of ['t2', 's', 'm', 'l'] as const) {
    it(`${variant}, one block per stage: logits [1, 1000], finite`, async () => {
      const cfg = shallow(variant);
      const runner = new Runner(device);
      const graph = new PatnetGraph(cfg, runner, prepareWeights(cfg, randomWeights(cfg, 7)));
      const input = runner.upload(image(1, 1), [1, 3, 224 * 224]);
      try {
        const { logits } = await graph.forward(input, 1, false);
        expect(logits.length).toBe(1000);
        expect(logits.every(Number.isFinite)).toBe(true);
        // Not constant: the stages mix the input into distinct class scores.
        expect(new Set(logits).size).toBeGreaterThan(100);
      } finally {
        input.destroy();
        graph.destroy();
      }
    }, 120_000);
  }

  it('t1: reused activations (pooled across runs, concurrent runs, batch changes) change no result', async () => {
    const cfg = shallow('t1');
    const weights = prepareWeights(cfg, randomWeights(cfg, 5));
    const runner = new Runner(device);
    const reused = new PatnetGraph(cfg, runner, weights);
    const fresh = () => new PatnetGraph(cfg, runner, weights);
    const a = runner.upload(image(1, 4), [1, 3, 224 * 224]);
    const b = runner.upload(image(1, 5), [1, 3, 224 * 224]);
    const pair = runner.upload(image(2, 6), [2, 3, 224 * 224]);
    const alone = async (x: typeof a, n: number) => {
      const g = fresh();
      try {
        return (await g.forward(x, n, false)).logits;
      } finally {
        g.destroy();
      }
    };
    try {
      const [refA, refB, refPair] = [await alone(a, 1), await alone(b, 1), await alone(pair, 2)];
      expect(refA).not.toEqual(refB);
      // The pooled tensors hold a's activations when b runs: any kernel that relied on a zeroed
      // output would now differ from the fresh graph.
      expect((await reused.forward(a, 1, false)).logits).toEqual(refA);
      expect((await reused.forward(b, 1, false)).logits).toEqual(refB);
      // Two runs at once take distinct tensors from the pool.
      const [ca, cb] = await Promise.all([reused.forward(a, 1, false), reused.forward(b, 1, false)]);
      expect(ca.logits).toEqual(refA);
      expect(cb.logits).toEqual(refB);
      // Another batch size drains the pool; going back refills it.
      expect((await reused.forward(pair, 2, false)).logits).toEqual(refPair);
      expect((await reused.forward(b, 1, false)).logits).toEqual(refB);
    } finally {
      for (const t of [a, b, pair]) t.destroy();
      reused.destroy();
    }
  }, 180_000);

  it('t1: each image of a batch gives what it gives alone (no mixing across the batch)', async () => {
    const cfg = shallow('t1');
    const runner = new Runner(device);
    const graph = new PatnetGraph(cfg, runner, prepareWeights(cfg, randomWeights(cfg, 3)));
    const data = image(2, 2);
    const both = runner.upload(data, [2, 3, 224 * 224]);
    const second = runner.upload(data.subarray(3 * 224 * 224), [1, 3, 224 * 224]);
    try {
      const a = (await graph.forward(both, 2, false)).logits;
      const b = (await graph.forward(second, 1, false)).logits;
      let err = 0;
      for (let i = 0; i < 1000; i++) err = Math.max(err, Math.abs(b[i] - a[1000 + i]));
      expect(err).toBeLessThan(1e-5);
      // And the two images differ, so the comparison could fail.
      expect(a.subarray(0, 1000)).not.toEqual(a.subarray(1000));
    } finally {
      both.destroy();
      second.destroy();
      graph.destroy();
    }
  }, 120_000);
});
