// Integer dot i8 x u4 (cast to i8) into i32, 128x1024x256 in [16, 256] x [256, 16] tiles: the
// compute-bound case of the relaxed-SIMD integer dot (dsl/backend/wasm/relaxed.ts). Rows
// 'tilevm-wasm' (i32x4.dot_i16x8_s) and, where the engine has relaxed SIMD (run.ts sets V8's flag),
// 'tilevm-wasm relaxed' (i16x8.relaxed_dot_i8x16_i7x16_s); their ratio is the gain. No peers.
import { i8, i32, u4 } from '../../dsl/dtype.js';
import { global, kernel, Tensor } from '../../dsl/index.js';
import { type BenchOptions, type Row, randomBytes, toRows, withRelaxedDevices } from './common.js';
import { measure, type Variant } from './timing.js';

export const intDotGemm = kernel({
  name: 'int_dot_gemm',
  params: { a: global(i8, ['M', 'K']), b: global(u4, ['K', 'N']), c: global(i32, ['M', 'N'], 'write') },
  consts: { BM: 16, BN: 16, BK: 256 },
})`
  grid(cdiv(M, BM), cdiv(N, BN));
  threads(32);
  const m0 = blockIdx.x * BM;
  const n0 = blockIdx.y * BN;
  let acc = zeros(i32, [BM, BN]);
  for (let k = 0; k < K; k += BK) {
    acc = dot(load(a, [m0, k], [BM, BK]), load(b, [k, n0], [BK, BN]).to(i8), acc);
  }
  store(c, [m0, n0], acc);
`;

export async function benchIntDot(opts: BenchOptions): Promise<Row[]> {
  const [M, K, N] = [128, 1024, 256];
  const a = Tensor.fromBytes(i8, [M, K], randomBytes(M * K, 31));
  const b = Tensor.fromBytes(u4, [K, N], randomBytes((K * N) / 2, 32));
  return withRelaxedDevices([1], async (devices) => {
    const variants: Variant[] = [];
    const outputs: Int32Array[] = [];
    for (const { threads, device, impl } of devices) {
      const da = device.upload(a);
      const db = device.upload(b);
      const dc = device.tensor(i32, [M, N]);
      const run = () => intDotGemm.launch(device, { a: da, b: db, c: dc });
      await run();
      outputs.push(Int32Array.from((await device.read(dc)).toArray()));
      variants.push({ name: `${impl}|${threads}`, run });
    }
    // Integer dots are exact on both paths: the outputs must agree bit for bit.
    const differ = outputs.slice(1).some((o) => o.some((v, i) => v !== outputs[0]![i]));
    if (differ) throw new Error('int dot: the relaxed and baseline outputs differ');
    const timings = await measure(variants, opts.timing);
    return toRows(
      `int dot i8 x u4 ${M}x${K}x${N}`,
      timings,
      (ms) => `${((2 * M * K * N) / ms / 1e6).toFixed(1)} GOP/s`,
    );
  });
}
