// f32 GEMV y = W x, 1x4096 by 4096x4096 (64 MB of weights per matrix), rotating through several
// matrices so every call streams its weights from DRAM. tilevm holds W as N x K (one row per
// output); onnxruntime-web MatMul and tfjs-wasm matMul compute x @ B with B = W^T (K x N).
import { f32 } from '../../dsl/index.js';
import {
  type BenchOptions,
  hostF32,
  type Row,
  randomF32,
  relErr,
  toRows,
  transpose,
  withRelaxedDevices,
} from './common.js';
import { gemvF32 } from './gemv-f32-kernel.js';
import { matmulModel } from './onnx.js';
import { ortWebVariants, type PeerVariant, tfjsVariant } from './peers.js';
import { measure, type Variant } from './timing.js';

export { gemvF32 };

export async function benchGemvF32(opts: BenchOptions): Promise<Row[]> {
  const N = 4096;
  const K = 4096;
  const x = randomF32(K, 7);
  const ws = Array.from({ length: opts.rotate }, (_, r) => randomF32(N * K, 100 + r));
  const bs = () => ws.map((w) => transpose(w, N, K));
  const variants: Variant[] = [];
  const outputs: { name: string; y: () => Promise<Float32Array> }[] = [];
  return withRelaxedDevices(opts.threads, async (devices) => {
    for (const { threads, device, impl } of devices) {
      const dx = device.upload(hostF32([K], x));
      const dws = ws.map((w) => device.upload(hostF32([N, K], w)));
      const dy = device.tensor(f32, [N]);
      let r = 0;
      variants.push({
        name: `${impl}|${threads}`,
        run: () => gemvF32.launch(device, { x: dx, w: dws[r++ % dws.length]!, y: dy }),
      });
      outputs.push({
        name: `${impl}|${threads}`,
        y: async () => {
          await gemvF32.launch(device, { x: dx, w: dws[0]!, y: dy });
          return (await device.read(dy)).toFloat32Array();
        },
      });
    }
    const web = await ortWebVariants(opts.threads, () => bs().map((b) => matmulModel(1, K, N, b)), x, [1, K]);
    const tf = await tfjsVariant(x, [1, K], bs, [K, N]);
    const peers: PeerVariant[] = [...web.variants, ...(tf ? [tf.variant] : [])];
    try {
      await checkOutputs('gemv f32', outputs, peers);
      variants.push(...peers);
      const timings = await measure(variants, opts.timing);
      return toRows('GEMV f32 1x4096x4096', timings, (ms) => `${((4 * N * K) / ms / 1e6).toFixed(1)} GB/s`);
    } finally {
      tf?.close();
      await web.close();
    }
  });
}

/** Prints each output's relative error against the first tilevm output. */
export async function checkOutputs(
  what: string,
  tilevm: readonly { name: string; y: () => Promise<Float32Array> }[],
  peers: readonly PeerVariant[],
): Promise<void> {
  if (tilevm.length === 0) return;
  const ref = await tilevm[0]!.y();
  const parts: string[] = [];
  for (const t of tilevm.slice(1)) parts.push(`${t.name} ${relErr(await t.y(), ref).toExponential(1)}`);
  for (const p of peers) parts.push(`${p.name} ${relErr(await p.output(), ref).toExponential(1)}`);
  console.log(`  check ${what}: max rel. diff vs ${tilevm[0]!.name}: ${parts.join(', ')}`);
}
