// NCHW vs NHWC for PATNet's hot layers, measured (docs/patnet.md, "Layout"): the 3x3 partial conv
// (C/4 -> C/4 channels of a C-channel buffer) and the MLP's two 1x1 convs (C -> 2C with bias + GELU,
// 2C -> C with the residual add) at PATNet-T0's four stage shapes, batch 1, on the WASM device.
// NCHW runs the model's own kernels (patnet/kernels/gemm.ts, conv3x3.ts) with fixed tiles (those the
// model used for every layer before kernels/tiles.ts: 3x3 32x16 channels x 128 pixels, GEMM BM 32,
// BP 64, BK 16) and with the same small tile sweep as NHWC, whose kernels are below (same epilogues);
// per layout the best variant counts. Every NHWC output is first checked against the NCHW one.
//   npx esbuild test/bench/patnet-layout.ts --bundle --platform=node --format=esm --packages=external \
//     --outfile=.build/bench/patnet-layout.mjs && node .build/bench/patnet-layout.mjs [--threads=1,2]
import { f32, global, i32, kernel, Tensor } from '../../dsl/index.js';
import { ACT, pow2 } from '../../patnet/kernels/cache.js';
import { conv3x3Kernel } from '../../patnet/kernels/conv3x3.js';
import { fastGelu } from '../../patnet/kernels/gelu.js';
import { gemmKernel } from '../../patnet/kernels/gemm.js';
import { createDevice, type WasmDevice, type WasmTensor } from '../../runtime/index.js';
import { randomF32 } from './common.js';
import { measure, type Variant } from './timing.js';

type T = WasmTensor<typeof f32>;
type AnyKernel = { launch(d: WasmDevice, args: Record<string, T | number>): Promise<void> };

/** y[n, p, yc0 + m] = act(x[n, p, xc0 + :] . wt[:, m] + bias[m]) (+ r[n, p, rc0 + m]). */
function gemmNhwc(BP: number, BM: number, BK: number): AnyKernel {
  return kernel({
    name: 'nhwc_gemm',
    params: {
      x: global(f32, ['N', 'P', 'CX']),
      wt: global(f32, ['K', 'M']),
      bias: global(f32, ['M']),
      r: global(f32, ['N', 'P', 'CR']),
      y: global(f32, ['N', 'P', 'CY'], 'write'),
      xc0: i32,
      rc0: i32,
      yc0: i32,
      act: i32,
      residual: i32,
    },
  })`
    grid(cdiv(P, ${BP}), cdiv(M, ${BM}), N);
    threads(128);
    const p0 = blockIdx.x * ${BP};
    const m0 = blockIdx.y * ${BM};
    const n = blockIdx.z;
    let acc = zeros(f32, [${BP}, ${BM}]);
    for (let k = 0; k < K; k += ${BK}) {
      acc = dot(load(x, [n, p0, xc0 + k], [${BP}, ${BK}]), load(wt, [k, m0], [${BK}, ${BM}]), acc);
    }
    acc += load(bias, [m0], [${BM}]).unsqueeze(0);
    if (act == 1) { acc = ${fastGelu}(acc); } else if (act == 2) { acc = relu(acc); }
    if (residual != 0) { acc += load(r, [n, p0, rc0 + m0], [${BP}, ${BM}]); }
    const cols = (arange(${BM}, m0) < M).unsqueeze(0).broadcast(${BP}, ${BM});
    store(y, [n, p0, yc0 + m0], acc, { mask: cols });
  ` as unknown as AnyKernel;
}

/** 3x3, pad 1, channels [0, CI) of x into [0, CO) of y, NHWC; w is [9, CI, CO]. */
function conv3x3Nhwc(BP: number, BCO: number, BC: number): AnyKernel {
  return kernel({
    name: 'nhwc_pconv3x3',
    params: {
      x: global(f32, ['N', 'P', 'CX']),
      w: global(f32, [9, 'CI', 'CO']),
      y: global(f32, ['N', 'P', 'CY'], 'write'),
      width: i32,
    },
  })`
    grid(cdiv(P, ${BP}), cdiv(CO, ${BCO}), N);
    threads(128);
    const p0 = blockIdx.x * ${BP};
    const co = blockIdx.y * ${BCO};
    const n = blockIdx.z;
    const col = (arange(${BP}, p0) % width).unsqueeze(1);
    let acc = zeros(f32, [${BP}, ${BCO}]);
    for (let t = 0; t < 9; t++) {
      const dh = t / 3 - 1;
      const dw = t % 3 - 1;
      const inside = ((col + dw >= 0) & (col + dw < width)).broadcast(${BP}, ${BC});
      for (let ci = 0; ci < CI; ci += ${BC}) {
        const win = load(x, [n, p0 + dh * width + dw, ci], [${BP}, ${BC}], { mask: inside });
        acc = dot(win, load(w, [t, ci, co], [${BC}, ${BCO}]), acc);
      }
    }
    const cols = (arange(${BCO}, co) < CO).unsqueeze(0).broadcast(${BP}, ${BCO});
    store(y, [n, p0, co], acc, { mask: cols });
  ` as unknown as AnyKernel;
}

/** [rows, cols] -> [cols, rows]. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

function maxRelErr(a: Float32Array, b: Float32Array): number {
  let err = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    err = Math.max(err, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return err / (1 + scale);
}

/** Runs `run`, then reads the output. */
const then =
  (run: () => Promise<void>, get: () => Promise<Float32Array>) => async (): Promise<Float32Array> => {
    await run();
    return get();
  };

interface Layer {
  readonly name: string;
  /** How many times a T0 forward runs it. */
  readonly count: number;
  readonly variants: { name: string; run: () => Promise<void>; out: () => Promise<Float32Array> }[];
}

const STAGES = [
  { c: 32, w: 56, depth: 1 },
  { c: 64, w: 28, depth: 2 },
  { c: 128, w: 14, depth: 8 },
  { c: 256, w: 7, depth: 2 },
];

function layers(device: WasmDevice): Layer[] {
  const up = (data: Float32Array, shape: number[]): T =>
    device.upload(Tensor.fromBytes(f32, shape, new Uint8Array(data.buffer))) as T;
  const read = async (t: T) => (await device.read(t)).toFloat32Array();
  const out: Layer[] = [];
  let seed = 1;
  for (const { c, w: width, depth } of STAGES) {
    const p = width * width;
    const cp = c / 4;
    const xNchw = randomF32(c * p, seed++);
    const xNhwc = transpose(xNchw, c, p);
    const xc = up(xNchw, [1, c, p]);
    const xh = up(xNhwc, [1, p, c]);
    const yc = device.tensor(f32, [1, c, p]) as T;
    const yh = device.tensor(f32, [1, p, c]) as T;
    // NHWC outputs are compared as NCHW: transposed back on the host.
    const backC = (rows: number, cols: number) => async (t: T) => transpose(await read(t), rows, cols);

    // 3x3 partial conv.
    const w3 = randomF32(9 * cp * cp, seed++).map((v) => v * 0.3);
    const w3c = up(w3, [9, cp, cp]);
    const w3h = up(
      Float32Array.from({ length: 9 * cp * cp }, (_, i) => {
        const t = Math.floor(i / (cp * cp));
        const ci = Math.floor((i % (cp * cp)) / cp);
        const co = i % cp;
        return w3[t * cp * cp + co * cp + ci];
      }),
      [9, cp, cp],
    );
    const convVariants: Layer['variants'] = [];
    const nchwConv = (name: string, spec: { BCO: number; BC: number; BP: number }) => {
      const k = conv3x3Kernel({ ...spec, residual: false }) as unknown as AnyKernel;
      const run = () => k.launch(device, { x: xc, w: w3c, y: yc, width });
      convVariants.push({ name, run, out: then(run, () => read(yc)) });
    };
    nchwConv('NCHW fixed tiles', { BCO: 32, BC: 16, BP: 128 });
    for (const bp of [32, 64, 128]) {
      nchwConv(`NCHW BP=${bp}`, { BCO: Math.min(32, pow2(cp)), BC: Math.min(16, pow2(cp)), BP: bp });
    }
    for (const bp of [32, 64, 128]) {
      const k = conv3x3Nhwc(bp, Math.min(32, pow2(cp)), Math.min(16, pow2(cp)));
      const run = () => k.launch(device, { x: xh, w: w3h, y: yh, width });
      convVariants.push({ name: `NHWC BP=${bp}`, run, out: then(run, () => backC(p, c)(yh)) });
    }
    out.push({
      name: `pconv 3x3 ${cp}->${cp} @${width}x${width} (C=${c})`,
      count: depth,
      variants: convVariants,
    });

    // MLP 1x1 convs: C -> 2C (+bias, GELU), 2C -> C (+residual).
    for (const [k, m, act, residual] of [
      [c, 2 * c, ACT.gelu, 0],
      [2 * c, c, ACT.none, 1],
    ] as const) {
      const xin =
        k === c
          ? { c: xc, h: xh }
          : (() => {
              const d = randomF32(k * p, seed++);
              return { c: up(d, [1, k, p]), h: up(transpose(d, k, p), [1, p, k]) };
            })();
      const wData = randomF32(m * k, seed++).map((v) => v / Math.sqrt(k));
      const bias = up(randomF32(m, seed++), [m]);
      const wc = up(wData, [m, k]);
      const wh = up(transpose(wData, m, k), [k, m]);
      const yOutC = device.tensor(f32, [1, m, p]) as T;
      const yOutH = device.tensor(f32, [1, p, m]) as T;
      const common = { bias, xc0: 0, rc0: 0, yc0: 0, act, residual };
      const vs: Layer['variants'] = [];
      const nchw = (name: string, tiles: { BM: number; BP: number; BK: number }) => {
        const kern = gemmKernel(tiles) as unknown as AnyKernel;
        const run = () => kern.launch(device, { ...common, x: xin.c, w: wc, r: xc, y: yOutC });
        vs.push({ name, run, out: then(run, () => read(yOutC)) });
      };
      const model = { BM: Math.min(32, pow2(m)), BP: Math.min(64, pow2(p)), BK: Math.min(16, pow2(k)) };
      nchw('NCHW fixed tiles', model);
      // The same tile sweep for both layouts (block = BP pixels x BM output channels, BK deep).
      const sweep = [
        [64, 32, 16],
        [32, 64, 16],
        [16, 64, 32],
      ] as const;
      for (const [bp, bm, bk] of sweep) {
        const tiles = { BP: Math.min(bp, pow2(p)), BM: Math.min(bm, pow2(m)), BK: Math.min(bk, pow2(k)) };
        nchw(`NCHW ${bp}x${bm}x${bk}`, tiles);
      }
      for (const [bp, bm, bk] of sweep) {
        const kern = gemmNhwc(Math.min(bp, pow2(p)), Math.min(bm, pow2(m)), Math.min(bk, pow2(k)));
        const run = () => kern.launch(device, { ...common, x: xin.h, wt: wh, r: xh, y: yOutH });
        vs.push({ name: `NHWC ${bp}x${bm}x${bk}`, run, out: then(run, () => backC(p, m)(yOutH)) });
      }
      const what = act === ACT.gelu ? 'bias+GELU' : 'residual';
      out.push({ name: `1x1 ${k}->${m} ${what} @${width}x${width}`, count: depth, variants: vs });
    }
  }
  return out;
}

const argv = process.argv.slice(2);
const threads = (argv.find((a) => a.startsWith('--threads='))?.slice(10) ?? '1').split(',').map(Number);
for (const t of threads) {
  const device = await createDevice({ backend: 'wasm', threads: t });
  console.log(`\n## WASM, ${t} thread(s)`);
  console.log('| layer (T0, batch 1) | x per forward | variant | median ms | p10 ms | / NCHW fixed |');
  console.log('| --- | ---: | --- | ---: | ---: | ---: |');
  const totals = new Map<string, number>();
  for (const layer of layers(device)) {
    const ref = await layer.variants[0].out();
    for (const v of layer.variants.slice(1)) {
      const e = maxRelErr(await v.out(), ref);
      if (!(e < 1e-5)) throw new Error(`${layer.name} ${v.name}: differs from NCHW by ${e}`);
    }
    const timed = await measure(layer.variants as Variant[], { warmupMs: 400, reps: 40, budgetMs: 2500 });
    const base = timed[0].median;
    // Per layout, the best variant counts towards the forward total.
    const best = new Map<string, number>();
    for (const r of timed) {
      const layout = r.name.slice(0, 4) + (r.name.includes('fixed') ? ' fixed' : ' best');
      best.set(layout, Math.min(best.get(layout) ?? Infinity, r.median));
      console.log(
        `| ${layer.name} | ${layer.count} | ${r.name} | ${r.median.toFixed(3)} | ${r.p10.toFixed(3)} | ${(r.median / base).toFixed(2)} |`,
      );
    }
    best.set('NCHW best', Math.min(best.get('NCHW best') ?? Infinity, best.get('NCHW fixed')!));
    for (const [k, v] of best) totals.set(k, (totals.get(k) ?? 0) + v * layer.count);
  }
  console.log(
    `\nweighted by count (these layers of one T0 forward): ${[...totals].map(([k, v]) => `${k} ${v.toFixed(2)} ms`).join(', ')}`,
  );
  device.destroy();
}
