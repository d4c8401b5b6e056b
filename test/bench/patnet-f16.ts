// PATNet-T0 with f16 weight storage against f32 storage, on the fixtures (../shared/fixtures/patnet):
// 1. error per traced layer (max|got - ref| / (1 + max|ref|), also in units of f16's unit roundoff
//    u = 2^-11) for both storages, and logits argmax / top-5 agreement, on WASM (and with --webgpu on
//    WebGPU, batch 1: SwiftShader takes seconds a forward);
// 2. weight memory on the device;
// 3. latency, f32 vs f16 storage interleaved in one process (timing.ts), WASM at the given threads
//    (and WebGPU with --webgpu: 3 rounds).
// The error table is how docs/patnet.md derives the f16 tolerance the tests use.
//   npx esbuild test/bench/patnet-f16.ts --bundle --platform=node --format=esm --packages=external \
//     --outfile=.build/bench/patnet-f16.mjs && node .build/bench/patnet-f16.mjs [--threads=1,2] [--webgpu] [--no-time]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadPatnet, type PatnetModel, readSafetensors, type WeightMap } from '../../patnet/index.js';
import type { WeightStorage } from '../../patnet/storage.js';
import { createDevice, type WasmDevice, type WebGpuDevice } from '../../runtime/index.js';
import { F16_U as U, weightDepth } from '../patnet/f16-tolerance.js';
import { measure } from './timing.js';

// The bundle must sit as deep as this file (.build/bench/) for this path to hold.
const DIR = fileURLToPath(new URL('../../../shared/fixtures/patnet/', import.meta.url));
const argv = process.argv.slice(2);
const threads = (argv.find((a) => a.startsWith('--threads='))?.slice(10) ?? '1').split(',').map(Number);

const read = (f: string): WeightMap => readSafetensors(new Uint8Array(readFileSync(DIR + f)), f).tensors;

function normErr(got: Float32Array, ref: Float32Array): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < ref.length; i++) {
    err = Math.max(err, Math.abs(got[i] - ref[i]));
    scale = Math.max(scale, Math.abs(ref[i]));
  }
  return err / (1 + scale);
}

function topk(row: Float32Array, k: number): number[] {
  return [...row.keys()].sort((a, b) => row[b] - row[a]).slice(0, k);
}

async function errors(device: WasmDevice | WebGpuDevice, fixture: string, batch: number, label: string) {
  const io = read(`${fixture}.io.safetensors`);
  const weights = read(`${fixture}.weights.safetensors`);
  const input = io.get('input')!;
  const per = input.data.length / input.shape[0];
  const n = Math.min(batch, input.shape[0]);
  const data = input.data.slice(0, n * per);
  const runs = new Map<WeightStorage, Awaited<ReturnType<PatnetModel['runTraced']>>>();
  const bytes = new Map<WeightStorage, number>();
  for (const s of ['f32', 'f16'] as const) {
    const model = await loadPatnet({ variant: 't0', weights, device, weightStorage: s });
    runs.set(s, await model.runTraced({ data, shape: [n, 3, 224, 224] }));
    bytes.set(s, model.weightBytes);
    model.destroy();
  }
  console.log(`\n### ${fixture} on ${label}, batch ${n}`);
  console.log(`weights on the device: f32 ${bytes.get('f32')} B, f16 ${bytes.get('f16')} B`);
  console.log('| tensor | d | f32 err/(1+max) | f16 err/(1+max) | f16 in u | f16 / (u sqrt d) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const [name, ref] of io) {
    if (name === 'input') continue;
    const refData = ref.data.slice(0, (ref.data.length / ref.shape[0]) * n);
    const e32 = normErr(runs.get('f32')!.trace.get(name)!.data, refData);
    const e16 = normErr(runs.get('f16')!.trace.get(name)!.data, refData);
    const d = weightDepth(name, [1, 2, 8, 2], fixture.endsWith('patsp'));
    console.log(
      `| ${name} | ${d} | ${e32.toExponential(2)} | ${e16.toExponential(2)} | ${(e16 / U).toFixed(3)} | ${(e16 / U / Math.sqrt(d)).toFixed(3)} |`,
    );
  }
  const ref = io.get('logits')!.data;
  for (let r = 0; r < n; r++) {
    const want = topk(ref.subarray(r * 1000, (r + 1) * 1000), 5);
    const got = topk(runs.get('f16')!.data.subarray(r * 1000, (r + 1) * 1000), 5);
    const refRow = ref.subarray(r * 1000, (r + 1) * 1000);
    const gap = refRow[want[4]] - refRow[topk(refRow, 6)[5]];
    console.log(
      `image ${r}: reference top-5 ${want.join(',')}, f16 top-5 ${got.join(',')}` +
        ` (argmax ${got[0] === want[0] ? 'same' : 'DIFFERS'}, top-5 ${String(got) === String(want) ? 'same order' : 'differs'}; reference gap 5th-6th ${gap.toExponential(2)})`,
    );
  }
}

/** f32 vs f16 storage latency on `device` (WebGPU on SwiftShader: seconds a forward, so 3 rounds). */
async function timing(device: WasmDevice | WebGpuDevice, label: string) {
  const weights = read('patnet_t0.weights.safetensors');
  const image = read('patnet_t0.io.safetensors')
    .get('input')!
    .data.slice(0, 3 * 224 * 224);
  const gpu = device.backend === 'webgpu';
  const models = await Promise.all(
    (['f32', 'f16'] as const).map((s) => loadPatnet({ variant: 't0', weights, device, weightStorage: s })),
  );
  const res = await measure(
    models.map((m) => ({
      name: m.weightStorage,
      run: async () => {
        await m.run({ data: image, shape: [1, 3, 224, 224] });
      },
    })),
    gpu ? { warmupMs: 0, reps: 3, budgetMs: 0 } : { warmupMs: 3000, reps: 40, budgetMs: 20000 },
  );
  const [a, b] = res;
  console.log(
    `\n${label}, T0 batch 1: f32 storage ${a.median.toFixed(1)} ms (p10 ${a.p10.toFixed(1)}), ` +
      `f16 storage ${b.median.toFixed(1)} ms (p10 ${b.p10.toFixed(1)}); f16/f32 ${(b.median / a.median).toFixed(3)}, ${a.samples} rounds`,
  );
  for (const m of models) m.destroy();
}

const device = await createDevice({ backend: 'wasm' });
for (const f of ['patnet_t0', 'patnet_t0_patsp']) await errors(device, f, 2, 'WASM');
device.destroy();
if (argv.includes('--webgpu')) {
  const gpu = await createDevice({ backend: 'webgpu' });
  await errors(gpu, 'patnet_t0', 1, `WebGPU (${gpu.backend})`);
  if (!argv.includes('--no-time')) await timing(gpu, 'WebGPU');
  gpu.destroy();
}
if (!argv.includes('--no-time')) {
  for (const t of threads) {
    const wasm = await createDevice({ backend: 'wasm', threads: t });
    await timing(wasm, `WASM ${t} thread(s)`);
    wasm.destroy();
  }
}
