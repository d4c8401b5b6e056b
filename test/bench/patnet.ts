// PATNet-T0 at 224x224: tilevm-wasm (1 and 2 threads) against onnxruntime-web's wasm backend and
// onnxruntime-node (native CPU, the ceiling) running the fixtures' ONNX export of the same network
// with the same weights (../shared/fixtures/patnet). Batch 1 is latency; batch 8 (not in --quick)
// throughput. T1 and T2 run on tilevm only (random weights: there is no ONNX export of them).
// Without ../shared the ONNX peers are skipped and tilevm runs on seeded random weights.
// T0 batch 1 also runs on WebGPU (SwiftShader in Node: seconds per forward, a few timed runs),
// skipped with a note where no adapter exists.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadPatnet, type PatnetModel, readSafetensors } from '../../patnet/index.js';
import {
  type BenchOptions,
  fmtMs,
  type Row,
  randomF32,
  relErr,
  toRows,
  withDevices,
  withWebGpu,
} from './common.js';
import { loadOrtNode, OrtWeb, type PeerVariant, tryPeer } from './peers.js';
import { measure, type TimingOptions, type Variant } from './timing.js';

// Same depth in the sources (test/bench/patnet.ts) and the bundle (test/bench/run.bundle.mjs).
const FIXTURES = fileURLToPath(new URL('../../../shared/fixtures/patnet/', import.meta.url));
const ORT_NAMES = { input: 'input', output: 'logits' } as const;

interface Fixture {
  readonly weights?: ReturnType<typeof readSafetensors>['tensors'];
  readonly onnx?: Uint8Array;
  /** Sample 0 of the fixture input (or random) and its reference logits. */
  readonly image: Float32Array;
  readonly logits?: Float32Array;
}

function loadFixture(): Fixture {
  const w = `${FIXTURES}patnet_t0.weights.safetensors`;
  const io = `${FIXTURES}patnet_t0.io.safetensors`;
  const onnx = `${FIXTURES}patnet_t0.onnx`;
  if (!existsSync(w) || !existsSync(io)) {
    console.log(`  [note] no fixtures at ${FIXTURES}: random weights and input, no ONNX peers`);
    return { image: randomF32(3 * 224 * 224, 5).map((x) => x * 4) };
  }
  const t = readSafetensors(new Uint8Array(readFileSync(io))).tensors;
  const per = 3 * 224 * 224;
  return {
    weights: readSafetensors(new Uint8Array(readFileSync(w))).tensors,
    onnx: existsSync(onnx) ? new Uint8Array(readFileSync(onnx)) : undefined,
    image: t.get('input')!.data.slice(0, per),
    logits: t.get('logits')!.data.slice(0, 1000),
  };
}

/**
 * Longer warm-ups than the kernel benches: V8 runs onnxruntime-web's wasm in its baseline tier for
 * the first ~40 batch-1 runs (about 1.5 s on its own, the fixtures README measured), and a round
 * here runs every variant once.
 */
function patnetTiming(opts: BenchOptions, batch: number): TimingOptions {
  if (opts.quick) return { warmupMs: 1500, reps: 5, budgetMs: 2000 };
  return batch === 1
    ? { warmupMs: 8000, reps: 30, budgetMs: 30000 }
    : { warmupMs: 8000, reps: 10, budgetMs: 30000 };
}

function tile(image: Float32Array, n: number): Float32Array {
  const out = new Float32Array(image.length * n);
  for (let i = 0; i < n; i++) out.set(image, i * image.length);
  return out;
}

export async function benchPatnet(opts: BenchOptions): Promise<Row[]> {
  const fx = loadFixture();
  const batches = opts.quick ? [1] : [1, 8];
  const rows: Row[] = [];
  await withDevices(opts.threads, async (devices) => {
    const models: { threads: number; model: PatnetModel }[] = [];
    try {
      for (const { threads, device } of devices) {
        // A tilevm failure is reported like a peer's, so the peers' figures still come out.
        const m = await tryPeer(`tilevm-wasm (${threads} threads)`, async () => {
          const t0 = performance.now();
          const model = await loadPatnet({ variant: 't0', weights: fx.weights, device });
          try {
            await model.run({ data: fx.image, shape: [1, 3, 224, 224] });
          } catch (e) {
            model.destroy();
            throw e;
          }
          console.log(
            `  tilevm-wasm x${threads}: loadPatnet + first run ${fmtMs(performance.now() - t0)} ms`,
          );
          return model;
        });
        if (m) models.push({ threads, model: m });
      }
      const web: OrtWeb[] = [];
      const ortNode = fx.onnx ? await tryPeer('onnxruntime-node', loadOrtNode) : undefined;
      try {
        for (const t of fx.onnx ? opts.threads : []) {
          const h = await tryPeer(`onnxruntime-web (${t} threads)`, async () => {
            const o = await OrtWeb.create(t);
            await o.load('patnet', fx.onnx!);
            return o;
          });
          if (h) web.push(h);
        }
        const nodeSessions = [];
        for (const t of ortNode ? opts.threads : []) {
          const s = await tryPeer(`onnxruntime-node (${t} threads)`, () =>
            ortNode!.InferenceSession.create(fx.onnx!, {
              intraOpNumThreads: t,
              interOpNumThreads: 1,
              extra: { session: { intra_op: { allow_spinning: '0' } } },
            }),
          );
          if (s) nodeSessions.push({ threads: t, s });
        }
        for (const n of batches) {
          const input = tile(fx.image, n);
          const dims = [n, 3, 224, 224] as const;
          const variants: (Variant & { output: () => Promise<Float32Array> })[] = [];
          for (const { threads, model } of models) {
            const run = async () => (await model.run({ data: input, shape: dims })).data;
            variants.push({
              name: `tilevm-wasm|${threads}`,
              run: async () => void (await run()),
              output: run,
            });
          }
          const peers: PeerVariant[] = [];
          for (const h of web) {
            peers.push({
              name: `onnxruntime-web|${h.threads}`,
              run: async () => void (await h.run('patnet', input, dims, false, ORT_NAMES)),
              output: async () => (await h.run('patnet', input, dims, true, ORT_NAMES))!,
            });
          }
          for (const { threads, s } of nodeSessions) {
            const a = new ortNode!.Tensor('float32', input, [...dims]);
            const once = async () => (await s.run({ input: a })).logits!.data as Float32Array;
            peers.push({
              name: `onnxruntime-node|${threads}`,
              run: async () => void (await once()),
              output: once,
            });
          }
          // Every implementation's logits (sample 0) against the PyTorch reference, or against tilevm x1.
          const first = variants[0] ?? peers[0];
          if (!first) continue;
          const ref = fx.logits ?? (await first.output()).slice(0, 1000);
          const diffs: string[] = [];
          for (const v of [...variants, ...peers]) {
            const y = await v.output();
            let worst = 0;
            for (let i = 0; i < n; i++)
              worst = Math.max(worst, relErr(y.subarray(i * 1000, (i + 1) * 1000), ref));
            diffs.push(`${v.name.replace('|', ' x')} ${worst.toExponential(1)}`);
          }
          console.log(
            `  check batch ${n}: max |logits - ${fx.logits ? 'PyTorch' : 'tilevm x1'}| / max |ref|: ${diffs.join(', ')}`,
          );
          const timings = await measure([...variants, ...peers], patnetTiming(opts, n));
          rows.push(...toRows(`PATNet-T0 b${n}`, timings, (ms) => `${((n * 1000) / ms).toFixed(1)} img/s`));
        }
      } finally {
        await Promise.all(web.map((h) => h.close()));
      }
    } finally {
      for (const m of models) m.model.destroy();
    }
    rows.push(...(await webgpuBatch1(fx, opts)));
    if (!opts.quick && models.length > 0) {
      // Larger variants, tilevm only, batch 1 (seeded random weights).
      for (const variant of ['t1', 't2'] as const) {
        const ms: { threads: number; model: PatnetModel }[] = [];
        try {
          for (const { threads, device } of devices)
            ms.push({ threads, model: await loadPatnet({ variant, device }) });
          const input = fx.image;
          const timings = await measure(
            ms.map(({ threads, model }) => ({
              name: `tilevm-wasm|${threads}`,
              run: async () => void (await model.run({ data: input, shape: [1, 3, 224, 224] })),
            })),
            patnetTiming(opts, 1),
          );
          rows.push(
            ...toRows(`PATNet-${variant.toUpperCase()} b1`, timings, (t) => `${(1000 / t).toFixed(1)} img/s`),
          );
        } catch (e) {
          console.log(`  [fail] PATNet-${variant.toUpperCase()}: ${(e as Error).message.split('\n')[0]}`);
        } finally {
          for (const m of ms) m.model.destroy();
        }
      }
    }
  });
  return rows;
}

/**
 * PATNet-T0 batch 1 on WebGPU (SwiftShader here: seconds per forward, so one warm-up and two timed
 * runs in --quick, three in a full run). Skipped, with a note, where no adapter exists.
 */
async function webgpuBatch1(fx: Fixture, opts: BenchOptions): Promise<Row[]> {
  const rows = await withWebGpu('PATNet-T0', async (device) => {
    const t0 = performance.now();
    const model = await tryPeer('tilevm-webgpu', () =>
      loadPatnet({ variant: 't0', weights: fx.weights, device }),
    );
    if (!model) return [];
    try {
      const run = async () => (await model.run({ data: fx.image, shape: [1, 3, 224, 224] })).data;
      const y = await run();
      console.log(`  tilevm-webgpu: loadPatnet + first run ${fmtMs(performance.now() - t0)} ms`);
      const ref = fx.logits;
      if (ref)
        console.log(`  check WebGPU: max |logits - PyTorch| / max |ref|: ${relErr(y, ref).toExponential(1)}`);
      const times: number[] = [];
      for (let i = 0; i < (opts.quick ? 2 : 3); i++) {
        const s = performance.now();
        await run();
        times.push(performance.now() - s);
      }
      times.sort((a, b) => a - b);
      const median = times[Math.floor(times.length / 2)]!;
      return [
        {
          bench: 'PATNet-T0 b1',
          impl: 'tilevm-webgpu (SwiftShader)',
          threads: 1,
          median,
          p10: times[0]!,
          samples: times.length,
          rate: `${(1000 / median).toFixed(2)} img/s`,
        },
      ];
    } finally {
      model.destroy();
    }
  });
  return rows ?? [];
}
