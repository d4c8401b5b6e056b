// PATNet exactness against the authors' PyTorch outputs (../shared/fixtures/patnet, see its README):
// every stored intermediate tensor and the logits, on the WASM and the WebGPU device, within
// max|err| <= 1e-4 * (1 + max|ref|) (docs/patnet.md justifies the bound), plus the same argmax.
// One test per stored tensor, so a failure names the layer. Other variants: shapes and finiteness
// with seeded random weights.
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  loadPatnet,
  type PatnetDevice,
  type PatnetModel,
  readSafetensors,
  type TraceTensor,
  type WeightMap,
} from '../../patnet/index.js';
import { createDevice } from '../../runtime/index.js';
import { describeWebGpu } from '../helpers/webgpu.js';

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
  let untraced: Float32Array;

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
    untraced = (await model.run({ data: input.data, shape })).data;
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

  it('the untraced run gives the traced logits and the reference argmax', () => {
    const ref = io.get('logits')!;
    const [n, classes] = ref.shape;
    expect(untraced).toEqual(logits);
    for (let r = 0; r < n; r++) expect(argmax(untraced, r, classes)).toBe(argmax(ref.data, r, classes));
  });
}

const haveFixtures = FIXTURES.every((f) => existsSync(new URL(`${f}.io.safetensors`, DIR)));
if (!haveFixtures) throw new Error(`PATNet fixtures not found in ${DIR.pathname}`);

for (const fixture of FIXTURES) {
  describe(`PATNet ${fixture} on WASM`, () => exactnessSuite('wasm', fixture));
  describeWebGpu(`PATNet ${fixture} on WebGPU`, () => exactnessSuite('webgpu', fixture));
}

describe('PATNet variants with random weights (WASM)', () => {
  let device: PatnetDevice;
  beforeAll(async () => {
    device = await createDevice({ backend: 'wasm' });
  });
  afterAll(() => device?.destroy());

  for (const variant of ['t1', 't2', 's', 'm', 'l'] as const) {
    it(`${variant}: logits [1, 1000], finite, flagged untrained`, async () => {
      const model = await loadPatnet({ variant, device, seed: 7 });
      expect(model.untrained).toBe(true);
      expect(model.config.variant).toBe(variant);
      const data = new Float32Array(3 * 224 * 224);
      for (let i = 0; i < data.length; i++) data[i] = Math.sin(i * 0.37) * 1.5;
      const out = await model.run({ data, shape: [1, 3, 224, 224] });
      expect(out.shape).toEqual([1, 1000]);
      expect(out.data.length).toBe(1000);
      expect(out.data.every(Number.isFinite)).toBe(true);
      model.destroy();
    }, 600_000);
  }

  it('t1: each image of a batch gives what it gives alone (no mixing across the batch)', async () => {
    const model = await loadPatnet({ variant: 't1', device, seed: 3 });
    const size = 3 * 224 * 224;
    const data = new Float32Array(2 * size);
    for (let i = 0; i < data.length; i++) data[i] = Math.cos(i * 0.11) * 2;
    const both = await model.run({ data, shape: [2, 3, 224, 224] });
    const second = await model.run({ data: data.subarray(size), shape: [1, 3, 224, 224] });
    let err = 0;
    for (let i = 0; i < 1000; i++) err = Math.max(err, Math.abs(second.data[i] - both.data[1000 + i]));
    expect(err).toBeLessThan(1e-5);
    await expect(model.run({ data, shape: [2, 3, 224, 200] as never })).rejects.toThrow(/input shape/);
    model.destroy();
  }, 600_000);
});
