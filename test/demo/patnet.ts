// Demo: PATNet-T0 classifies the bundled photo (test/demo/assets/chelsea.jpg, CC0, Stefan van der
// Walt) on every available backend and prints the top-5 and the latency. Weights: the file given
// (safetensors or .pth), else the reference fixtures' weights when ../shared is there (random but
// fixed, from the authors' code), else seeded random ones; either way it says that without trained
// weights the labels mean nothing.
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatPredictions, topK } from '../../patnet/cli/topk.js';
import { loadWeightsFile } from '../../patnet/cli/weights-file.js';
import { decodeImage, preprocessImage } from '../../patnet/image/index.js';
import { loadPatnet, type PatnetDevice, type WeightMap } from '../../patnet/index.js';
import { createDevice } from '../../runtime/index.js';

/** The repository root: the nearest folder above this module with a package.json (works bundled too). */
function repoRoot(): string {
  let dir = new URL('.', import.meta.url);
  for (let i = 0; i < 6; i++) {
    if (existsSync(fileURLToPath(new URL('package.json', dir)))) return fileURLToPath(dir);
    dir = new URL('..', dir);
  }
  return process.cwd();
}

export interface DemoPatnetOptions {
  /** A .safetensors or .pth file with trained (or any) T0 weights. */
  readonly weights?: string;
  /**
   * Timed runs per backend after the first (default 3 on WASM; 0 on WebGPU, where a forward on
   * SwiftShader, the adapter of a machine without a GPU, takes seconds).
   */
  readonly runs?: number;
}

export async function demoPatnet(options: DemoPatnetOptions = {}): Promise<void> {
  const root = repoRoot();
  const imagePath = `${root}/test/demo/assets/chelsea.jpg`;
  const fixture = `${root}/../shared/fixtures/patnet/patnet_t0.weights.safetensors`;
  let weights: WeightMap | undefined;
  let source: string;
  if (options.weights) {
    weights = (await loadWeightsFile(options.weights)).weights;
    source = `weights from ${basename(options.weights)}`;
  } else if (existsSync(fixture)) {
    weights = (await loadWeightsFile(fixture)).weights;
    source =
      "the reference fixtures' weights (random, from the authors' code): NOT trained, so the labels are meaningless";
  } else {
    source =
      'seeded random weights (no weights file, no fixtures): NOT trained, so the labels are meaningless';
  }
  const image = decodeImage(new Uint8Array(readFileSync(imagePath)), 'chelsea.jpg');
  const pixels = preprocessImage(image);
  console.log(
    `\nPATNet-T0 on chelsea.jpg (${image.width}x${image.height}, a tabby cat; CC0, Stefan van der Walt)`,
  );
  console.log(`weights: ${source}\n`);

  const backends: [string, () => Promise<PatnetDevice>, number][] = [
    ['wasm', () => createDevice({ backend: 'wasm' }), options.runs ?? 3],
    ['webgpu', () => createDevice({ backend: 'webgpu' }), options.runs ?? 0],
  ];
  const results: { backend: string; top1?: number }[] = [];
  for (const [name, make, runs] of backends) {
    let device: PatnetDevice;
    try {
      device = await make();
    } catch (e) {
      console.log(`${name}: not available (${(e as Error).message.split('\n')[0]})\n`);
      continue;
    }
    try {
      const t0 = performance.now();
      const model = await loadPatnet({ variant: 't0', weights, device });
      const tLoad = performance.now() - t0;
      try {
        const t1 = performance.now();
        let out = await model.run({ data: pixels, shape: [1, 3, 224, 224] });
        const first = performance.now() - t1;
        const times: number[] = [];
        for (let i = 0; i < runs; i++) {
          const t = performance.now();
          out = await model.run({ data: pixels, shape: [1, 3, 224, 224] });
          times.push(performance.now() - t);
        }
        times.sort((a, b) => a - b);
        const predictions = topK(out.data, 5);
        results.push({ backend: name, top1: predictions[0]!.index });
        const then =
          runs > 0
            ? `then ${times[times.length >> 1]!.toFixed(1)} ms (median of ${runs})`
            : 'one run only (a software adapter is slow; pass runs to time more)';
        console.log(
          `${name}: load ${tLoad.toFixed(0)} ms, first run ${first.toFixed(0)} ms (compiles kernels), ${then}`,
        );
        for (const line of formatPredictions(predictions)) console.log(line);
        console.log('');
      } finally {
        model.destroy();
      }
    } catch (e) {
      console.log(`${name}: failed: ${(e as Error).message.split('\n')[0]}\n`);
      results.push({ backend: name });
    } finally {
      device.destroy();
    }
  }
  if (!options.weights) console.log('(untrained weights: the class names above mean nothing)');
  const done = results.filter((r) => r.top1 !== undefined);
  // A backend that is there but fails is an error; one that is not there (no WebGPU adapter) is not.
  const failed = results.filter((r) => r.top1 === undefined).map((r) => r.backend);
  if (failed.length > 0) throw new Error(`PATNet demo: failed on ${failed.join(', ')}`);
  if (done.length > 1 && new Set(done.map((r) => r.top1)).size > 1) {
    throw new Error(
      `PATNet demo: backends disagree on the top-1 class (${done.map((r) => `${r.backend} ${r.top1}`).join(', ')})`,
    );
  }
}
