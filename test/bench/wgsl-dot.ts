// GFLOP/s of `dot` on WebGPU (SwiftShader here): the corpus matmul (256^3, 16 x 16 x 8 tiles) and
// PATNet's 1x1-conv GEMM at a PATNet-T0 stage shape (M = 128 channels, K = 64, 3136 tokens). Not a
// test: `XDG_RUNTIME_DIR=/tmp/xdg npx tsx test/bench/wgsl-dot.ts` (docs/wgsl-backend.md,
// "Dot performance", records the figures).
import { f32 } from '../../dsl/dtype.js';
import { Tensor } from '../../dsl/tensor.js';
import { gemmKernel } from '../../patnet/kernels/gemm.js';
import { createDevice } from '../../runtime/webgpu/device.js';
import { matmul } from '../lang/kernels/matmul.js';

const device = await createDevice();

/** Deterministic values in [-0.5, 0.5): the timing does not depend on them. */
function values(shape: readonly number[]): Tensor<typeof f32> {
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromArray(
    f32,
    shape,
    Array.from({ length: n }, (_, i) => ((i * 7919) % 97) / 97 - 0.5),
  );
}

/** Runs `launch` (after one warm-up) for at least 3 s and prints ms per run and GFLOP/s. */
async function time(label: string, flops: number, launch: () => Promise<void>): Promise<void> {
  await launch();
  await device.flush();
  let runs = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 3000 || runs < 2) {
    await launch();
    await device.flush();
    runs++;
  }
  const s = (performance.now() - t0) / 1000 / runs;
  console.log(`${label}: ${(s * 1000).toFixed(1)} ms, ${(flops / s / 1e9).toFixed(3)} GFLOP/s`);
}

{
  const [M, K, N] = [256, 256, 256];
  const a = device.upload(values([M, K]));
  const b = device.upload(values([K, N]));
  const c = device.tensor(f32, [M, N]);
  const consts = { BM: 16, BN: 16, BK: 8 } as const;
  await time('corpus matmul 256^3 (BM 16, BN 16, BK 8)', 2 * M * N * K, () =>
    matmul.launch(device, { a, b, c }, { consts }),
  );
}
{
  const [M, K, P] = [128, 64, 3136];
  const gemm = gemmKernel({ BM: 32, BP: 64, BK: 16 });
  const x = device.upload(values([1, K, P]));
  const w = device.upload(values([M, K]));
  const bias = device.upload(values([M]));
  const y = device.tensor(f32, [1, M, P]);
  await time('patnet gemm M 128, K 64, P 3136 (BM 32, BP 64, BK 16)', 2 * M * K * P, () =>
    gemm.launch(device, { x, w, bias, r: x, y, xc0: 0, rc0: 0, yc0: 0, act: 0, residual: 0 }),
  );
}
device.destroy();
