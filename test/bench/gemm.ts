// f32 GEMM 256^3: tilevm's tiled matmul (test/lang/kernels/matmul.ts, default consts) against
// onnxruntime-web MatMul and tfjs-wasm matMul. Small enough to stay in cache: compute-bound.
import { f32 } from '../../dsl/index.js';
import { matmul } from '../lang/kernels/matmul.js';
import { type BenchOptions, hostF32, type Row, randomF32, toRows, withRelaxedDevices } from './common.js';
import { checkOutputs } from './gemv-f32.js';
import { matmulModel } from './onnx.js';
import { ortWebVariants, type PeerVariant, tfjsVariant } from './peers.js';
import { measure, type Variant } from './timing.js';

export async function benchGemm(opts: BenchOptions): Promise<Row[]> {
  const S = 256;
  const a = randomF32(S * S, 11);
  const b = randomF32(S * S, 12);
  const variants: Variant[] = [];
  const outputs: { name: string; y: () => Promise<Float32Array> }[] = [];
  return withRelaxedDevices(opts.threads, async (devices) => {
    for (const { threads, device, impl } of devices) {
      const da = device.upload(hostF32([S, S], a));
      const db = device.upload(hostF32([S, S], b));
      const dc = device.tensor(f32, [S, S]);
      const run = () => matmul.launch(device, { a: da, b: db, c: dc });
      variants.push({ name: `${impl}|${threads}`, run });
      outputs.push({
        name: `${impl}|${threads}`,
        y: async () => {
          await run();
          return (await device.read(dc)).toFloat32Array();
        },
      });
    }
    const web = await ortWebVariants(opts.threads, () => [matmulModel(S, S, S, b)], a, [S, S]);
    const tf = await tfjsVariant(a, [S, S], () => [b], [S, S]);
    const peers: PeerVariant[] = [...web.variants, ...(tf ? [tf.variant] : [])];
    try {
      await checkOutputs('gemm f32', outputs, peers);
      variants.push(...peers);
      const timings = await measure(variants, opts.timing);
      return toRows('GEMM f32 256^3', timings, (ms) => `${((2 * S * S * S) / ms / 1e6).toFixed(1)} GFLOP/s`);
    } finally {
      tf?.close();
      await web.close();
    }
  });
}
