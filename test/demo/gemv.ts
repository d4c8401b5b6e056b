// The first part of `npm run demo`: a u4 GEMV with f16 group scales written in the kernel language,
// run on the reference interpreter, the WASM-SIMD device and (where a WebGPU adapter exists) the
// WebGPU device, each printed next to a plain TypeScript loop computing the same thing.
import { cdiv, f16, f32, global, kernel, printProgram, Tensor, u4 } from '../../dsl/index.js';
import { createDevice, createWasmDevice } from '../../runtime/index.js';

const [N, K, G] = [300, 1000, 128];

const gemvU4 = kernel({
  name: 'gemv_u4',
  params: {
    x: global(f32, ['K']),
    w: global(u4, ['N', 'K']),
    s: global(f16, ['N', 'cdiv(K, 128)']),
    y: global(f32, ['N'], 'write'),
  },
  consts: { BN: 8, BK: 256 },
})`
  grid(cdiv(N, BN));
  threads(64);
  let acc = zeros(f32, [BN, BK]);
  for (let k = 0; k < K; k += BK) {
    const wt = load(w, [blockIdx.x * BN, k], [BN, BK]).to(f32);          // edge tiles read 0
    const st = load(s, [blockIdx.x * BN, k / 128], [BN, BK / 128]).to(f32);
    acc += wt * st.repeat(1, 128) * load(x, [k], [BK]).unsqueeze(0);
  }
  store(y, [blockIdx.x * BN], acc.sum(1));                                 // edge rows are dropped
`;

/** Runs the GEMV everywhere; throws when a device that exists disagrees with the reference. */
export async function demoGemv(): Promise<void> {
  // A small deterministic generator, so every run prints the same numbers.
  let seed = 20261128;
  const random = () => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };

  // One string argument: the VM text holds `%s.3`-like names that console.log would read as formats.
  const listing = printProgram(gemvU4.compile().program).split('\n').slice(0, 12).join('\n');
  console.log(`${listing}\n  …\n`);
  const x = Tensor.fromArray(
    f32,
    [K],
    Array.from({ length: K }, () => random() * 2 - 1),
  );
  const w = Tensor.fromArray(
    u4,
    [N, K],
    Array.from({ length: N * K }, () => Math.floor(random() * 16)),
  );
  const groups = cdiv(K, G);
  const s = Tensor.fromArray(
    f16,
    [N, groups],
    Array.from({ length: N * groups }, () => 0.01 + random() * 0.02),
  );

  const reference = Array.from({ length: N }, (_, n) => {
    let sum = 0;
    for (let k = 0; k < K; k++) sum += x.get(k) * w.get([n, k]) * s.get([n, Math.floor(k / G)]);
    return sum;
  });

  const rows: { device: string; y?: number[]; ms?: number; note?: string }[] = [];

  async function timed(device: string, run: () => Promise<number[]>): Promise<void> {
    try {
      const t0 = performance.now();
      const y = await run();
      rows.push({ device, y, ms: performance.now() - t0 });
    } catch (e) {
      rows.push({ device, note: (e as Error).message.split('\n')[0] });
    }
  }

  await timed('interpreter', async () => {
    const y = Tensor.zeros(f32, [N]).fill(Number.NaN);
    await gemvU4.interpret({ x, w, s, y });
    return y.toArray();
  });

  await timed('wasm-simd', async () => {
    const device = await createWasmDevice();
    try {
      const y = device.tensor(f32, [N]);
      await gemvU4.launch(device, { x: device.upload(x), w: device.upload(w), s: device.upload(s), y });
      return (await device.read(y)).toArray();
    } finally {
      device.destroy();
    }
  });

  await timed('webgpu', async () => {
    const device = await createDevice();
    try {
      const y = device.tensor(f32, [N]);
      await gemvU4.launch(device, { x: device.upload(x), w: device.upload(w), s: device.upload(s), y });
      return (await device.read(y)).toArray();
    } finally {
      device.destroy();
    }
  });

  console.log(`y = W(u4, f16 scales per ${G}) · x   with N=${N}, K=${K} (edge tiles in N and K)\n`);
  console.log(
    'device        y[0]         y[1]         y[N-1]       max |error| vs f64 loop   time (incl. compile)',
  );
  console.log(
    `TypeScript    ${[reference[0], reference[1], reference[N - 1]].map((v) => v.toFixed(6).padStart(11)).join('  ')}`,
  );
  let failed = false;
  for (const r of rows) {
    if (!r.y) {
      console.log(`${r.device.padEnd(12)}  not available: ${r.note}`);
      if (r.device !== 'webgpu') failed = true;
      continue;
    }
    const y = r.y;
    const err = Math.max(...y.map((v, i) => Math.abs(v - reference[i])));
    if (!(err < 1e-3)) failed = true;
    const picks = [y[0], y[1], y[N - 1]].map((v) => v.toFixed(6).padStart(11)).join('  ');
    console.log(
      `${r.device.padEnd(12)}  ${picks}   ${err.toExponential(2).padStart(10)}                ${r.ms?.toFixed(0)} ms`,
    );
  }
  if (failed) throw new Error('kernel-language GEMV: a device disagrees with the reference');
}
