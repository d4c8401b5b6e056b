// u4 GEMV with group scales (g = 128), 1x4096 by 4096x4096, rotating through several weight
// matrices (8 MB of nibbles each). tilevm runs gemvGrouped of test/lang/kernels/gemv.ts
// (zero point 8, f16 scales); onnxruntime-web and onnxruntime-node run com.microsoft MatMulNBits on
// the same nibbles (same packing: low nibble first) with the same scales widened to f32.
import { f16, f32, Tensor, u4 } from '../../dsl/index.js';
import { gemvGrouped } from '../lang/kernels/gemv.js';
import {
  type BenchOptions,
  hostF32,
  type Row,
  randomBytes,
  randomF32,
  toRows,
  withRelaxedDevices,
} from './common.js';
import { checkOutputs } from './gemv-f32.js';
import { matmulNBitsModel } from './onnx.js';
import { ortNodeVariants, ortWebVariants } from './peers.js';
import { measure, type Variant } from './timing.js';

const G = 128;
const gemvU4 = gemvGrouped(u4, G, 8); // zero point and scale applied once per group

export async function benchGemvU4(opts: BenchOptions): Promise<Row[]> {
  const N = 4096;
  const K = 4096;
  const count = Math.max(opts.rotate * 2, 4);
  const x = randomF32(K, 21);
  const ws = Array.from({ length: count }, (_, r) => randomBytes((N * K) / 2, 200 + r));
  const scales = Array.from({ length: count }, (_, r) =>
    Tensor.fromArray(
      f16,
      [N, K / G],
      randomF32((N * K) / G, 300 + r).map((v) => 0.01 + 0.01 * v),
    ),
  );
  const models = () => ws.map((w, r) => matmulNBitsModel(1, K, N, G, w, scales[r]!.toFloat32Array()));
  const variants: Variant[] = [];
  const outputs: { name: string; y: () => Promise<Float32Array> }[] = [];
  return withRelaxedDevices(opts.threads, async (devices) => {
    for (const { threads, device, impl } of devices) {
      const dx = device.upload(hostF32([K], x));
      const dws = ws.map((w) => device.upload(Tensor.fromBytes(u4, [N, K], w)));
      const dss = scales.map((s) => device.upload(s));
      const dy = device.tensor(f32, [N]);
      let r = 0;
      variants.push({
        name: `${impl}|${threads}`,
        run: () => {
          const i = r++ % count;
          return gemvU4.launch(device, { x: dx, w: dws[i]!, s: dss[i]!, y: dy });
        },
      });
      outputs.push({
        name: `${impl}|${threads}`,
        y: async () => {
          await gemvU4.launch(device, { x: dx, w: dws[0]!, s: dss[0]!, y: dy });
          return (await device.read(dy)).toFloat32Array();
        },
      });
    }
    const web = await ortWebVariants(opts.threads, models, x, [1, K]);
    const native = await ortNodeVariants(opts.threads, models, x, [1, K]);
    const peers = [...web.variants, ...native];
    try {
      await checkOutputs('gemv u4', outputs, peers);
      variants.push(...peers);
      const timings = await measure(variants, opts.timing);
      return toRows(
        'GEMV u4/g128 1x4096x4096',
        timings,
        (ms) => `${((N * K) / 2 / ms / 1e6).toFixed(1)} GB/s`,
      );
    } finally {
      await web.close();
    }
  });
}
