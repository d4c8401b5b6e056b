// The bandwidth reference: y = x over 64 MB of f32 with a tilevm copy kernel; GB/s counts the bytes
// read plus the bytes written.
import { f32, global, kernel } from '../../dsl/index.js';
import { type BenchOptions, hostF32, type Row, randomF32, toRows, withDevices } from './common.js';
import { measure } from './timing.js';

export const copyKernel = kernel({
  name: 'copy_f32',
  params: { x: global(f32, ['N']), y: global(f32, ['N'], 'write') },
  consts: { BN: 4096 },
})`
  grid(cdiv(N, BN));
  threads(64);
  const off = blockIdx.x * BN;
  store(y, [off], load(x, [off], [BN]));
`;

export async function benchCopy(opts: BenchOptions): Promise<Row[]> {
  const N = 16 * 1024 * 1024;
  const data = randomF32(N, 1);
  const host = hostF32([N], data);
  return withDevices(opts.threads, async (devices) => {
    const variants = [];
    for (const { threads, device } of devices) {
      const x = device.upload(host);
      const y = device.tensor(f32, [N]);
      await copyKernel.launch(device, { x, y });
      const got = (await device.read(y)).toFloat32Array();
      if (got[N - 1] !== data[N - 1] || got[12345] !== data[12345]) throw new Error('copy: wrong result');
      variants.push({ name: `tilevm-wasm|${threads}`, run: () => copyKernel.launch(device, { x, y }) });
    }
    const timings = await measure(variants, opts.timing);
    return toRows('copy 64 MB f32', timings, (ms) => `${((8 * N) / ms / 1e6).toFixed(1)} GB/s`);
  });
}
