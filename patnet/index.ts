// tilevm/patnet: PATNet (PartialNet) image classification on tilevm kernels.
//   const model = await loadPatnet({ variant: 't0', weights, device });
//   const { data, shape } = await model.run({ data: pixels, shape: [N, 3, 224, 224] });
import { type PatnetConfig, type PatnetVariant, patnetConfig } from './config.js';
import { prepareWeights } from './fold.js';
import { PatnetGraph, type TraceTensor } from './model.js';
import { checkWeights, randomWeights } from './params.js';
import { type DeviceTensor, type PatnetDevice, Runner } from './runner.js';
import { parseWeightStorage, type WeightStorage } from './storage.js';
import { readWeightBytes } from './weights/read.js';
import { type WeightMap, WeightsError } from './weights/types.js';

export { PATNET_CONFIGS, type PatnetConfig, type PatnetVariant, patnetConfig } from './config.js';
export { checkWeights, expectedWeights, randomWeights } from './params.js';
export type { PatnetDevice } from './runner.js';
export { WEIGHT_STORAGES, type WeightStorage } from './storage.js';
export { isZip, readWeightBytes } from './weights/read.js';
export { readSafetensors } from './weights/safetensors.js';
export { type WeightMap, WeightsError, type WeightTensor } from './weights/types.js';
export type { TraceTensor };

export interface LoadPatnetOptions {
  readonly variant?: PatnetVariant | Uppercase<PatnetVariant> | string;
  /**
   * A WeightMap, the bytes of a safetensors or .pth file (told apart by content), a file path
   * (Node) or a URL (fetched). Without it the model gets seeded random weights and `untrained`
   * is true.
   */
  readonly weights?: WeightMap | Uint8Array | ArrayBuffer | string | URL;
  readonly device: PatnetDevice;
  /**
   * PAT_sp (every MLP ends with the split spatial gate). Default: on when the weights hold
   * `mlp.4` tensors, else the variant's setting.
   */
  readonly spatialAttn?: boolean;
  /** Seed of the random weights used when `weights` is absent (default 0). */
  readonly seed?: number;
  /**
   * How weight matrices are stored on the device: 'f32' (default) or 'f16' (half the weight memory;
   * compute and activations stay f32; docs/patnet.md gives the error bound and the measurements).
   */
  readonly weightStorage?: WeightStorage;
}

export interface PatnetInput {
  readonly data: Float32Array;
  readonly shape: readonly [number, number, number, number];
}

export interface PatnetOutput {
  readonly data: Float32Array;
  readonly shape: [number, number];
}

export interface PatnetModel {
  readonly config: PatnetConfig;
  /** True when the weights are seeded random ones: predictions are meaningless. */
  readonly untrained: boolean;
  readonly weightStorage: WeightStorage;
  /** Device memory held by the weights, in bytes. */
  readonly weightBytes: number;
  run(input: PatnetInput): Promise<PatnetOutput>;
  /** run() that also returns the intermediate tensors the reference fixtures store, by name. */
  runTraced(input: PatnetInput): Promise<PatnetOutput & { trace: Map<string, TraceTensor> }>;
  /** Frees the weights on the device. */
  destroy(): void;
}

async function resolveWeights(weights: NonNullable<LoadPatnetOptions['weights']>): Promise<WeightMap> {
  if (weights instanceof Map) return weights;
  if (weights instanceof Uint8Array) return readWeightBytes(weights);
  if (weights instanceof ArrayBuffer) return readWeightBytes(new Uint8Array(weights));
  const isUrl = weights instanceof URL || /^(https?|blob|data):/i.test(weights);
  if (isUrl) {
    const url = weights.toString();
    const res = await fetch(url);
    if (!res.ok) throw new WeightsError(`PATNet: fetching weights from ${url} failed: HTTP ${res.status}`);
    return readWeightBytes(new Uint8Array(await res.arrayBuffer()), url);
  }
  const path = weights as string;
  const { readFile } = await import('node:fs/promises');
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new WeightsError(`PATNet: cannot read weights file ${path}: ${why}`);
  }
  return readWeightBytes(bytes, path);
}

/** Loads PATNet on a tilevm device: checks and folds the weights, uploads them, returns the model. */
export async function loadPatnet(options: LoadPatnetOptions): Promise<PatnetModel> {
  if (!options || typeof options !== 'object') throw new TypeError('loadPatnet: options must be an object');
  const runner = new Runner(options.device);
  const weightStorage = parseWeightStorage(options.weightStorage, 'weightStorage');
  const untrained = options.weights === undefined;
  const given = untrained ? undefined : await resolveWeights(options.weights!);
  // PAT_sp follows the weights when they are given (a checkpoint knows whether it has mlp.4).
  const spatialAttn = options.spatialAttn ?? given?.has('stages.0.blocks.0.mlp.4.conv.weight');
  const config = patnetConfig(options.variant ?? 't0', spatialAttn === undefined ? {} : { spatialAttn });
  const weights = given ?? randomWeights(config, options.seed ?? 0);
  checkWeights(config, weights);
  const graph = new PatnetGraph(config, runner, prepareWeights(config, weights), weightStorage);
  const size = config.imageSize;

  const start = (input: PatnetInput): { t: DeviceTensor; n: number } => {
    const shape = input?.shape;
    if (
      !Array.isArray(shape) ||
      shape.length !== 4 ||
      shape[1] !== 3 ||
      shape[2] !== size ||
      shape[3] !== size
    ) {
      throw new TypeError(
        `PATNet: input shape must be [N, 3, ${size}, ${size}], got ${JSON.stringify(shape)}`,
      );
    }
    const n = shape[0];
    if (!Number.isInteger(n) || n < 1)
      throw new TypeError(`PATNet: batch size must be a positive integer, got ${n}`);
    if (!(input.data instanceof Float32Array) || input.data.length !== n * 3 * size * size) {
      throw new TypeError(
        `PATNet: input data must be a Float32Array of ${n * 3 * size * size} values (N*3*${size}*${size})`,
      );
    }
    return { t: runner.upload(input.data, [n, 3, size * size]), n };
  };

  return {
    config,
    untrained,
    weightStorage,
    weightBytes: graph.weightBytes,
    async run(input) {
      const { t, n } = start(input);
      try {
        const { logits } = await graph.forward(t, n, false);
        return { data: logits, shape: [n, config.numClasses] };
      } finally {
        t.destroy();
      }
    },
    async runTraced(input) {
      const { t, n } = start(input);
      try {
        const { logits, trace } = await graph.forward(t, n, true);
        return { data: logits, shape: [n, config.numClasses], trace: trace! };
      } finally {
        t.destroy();
      }
    },
    destroy: () => graph.destroy(),
  };
}
