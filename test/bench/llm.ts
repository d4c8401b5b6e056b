// LLM decode GEMV (one activation row) on quantized weights: tilevm's llm/ kernels through
// quantizedMatmul (float path and int8-activation path) against onnxruntime-web's wasm MatMulNBits,
// onnxruntime-node's native MatMulNBits and llama.cpp's Q4_0 (node-llama-cpp, a decode step of a
// synthetic GGUF model). Shapes: K = N = 4096 and Llama-3-8B's projections. Weights rotate through
// enough matrices (> 32 MB) that every call streams them from DRAM. A second table runs every
// weight type at 4096x4096 (1 thread): weight GB/s, time relative to u4, and the kernel's error
// against the float64 reference of the dequantized weights.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dt from '../../dsl/dtype.js';
import { type DType, f16, f32, Tensor } from '../../dsl/index.js';
import { writeSyntheticLlama } from '../../llm/gguf/llama.js';
import { integerWeights } from '../../llm/kernels/spec.js';
import {
  destroyQuantizedMatrix,
  type MatmulPath,
  quantizedMatmul,
  uploadQuantizedMatrix,
} from '../../llm/matmul.js';
import type { QuantFormat, QuantizedMatrix } from '../../llm/quantized-matrix.js';
import type { WasmDevice, WasmTensor } from '../../runtime/index.js';
import { dequantizeF64 } from '../llm/kernels-fixtures.js';
import {
  type BenchOptions,
  fmtMs,
  type Row,
  randomBytes,
  randomF32,
  relErr,
  toRows,
  withDevices,
} from './common.js';
import { matmulNBitsModel } from './onnx.js';
import { ortNodeVariants, ortWebVariants, tryPeer } from './peers.js';
import { measure, type Variant } from './timing.js';

/** [name, K, N] */
const SHAPES: [string, number, number][] = [
  ['4096x4096', 4096, 4096],
  ['4096->14336', 4096, 14336],
  ['14336->4096', 14336, 4096],
  ['4096->1024', 4096, 1024],
];

/** A random n x k matrix in `format` built from random bytes (zero points 8 for u4, as MatMulNBits). */
function randomMatrix(format: QuantFormat, n: number, k: number, seed: number): QuantizedMatrix {
  const w = format.weight;
  const groups = Math.ceil(k / format.group);
  const bytes = randomBytes(Math.ceil((n * k * w.bits) / 8), seed);
  // 8-bit floats: clear the second-highest bit of each code so no NaN/Inf patterns occur (the
  // smaller formats have none).
  if (w.kind === 'float' && w.bits === 8) for (let i = 0; i < bytes.length; i++) bytes[i]! &= 0xbf;
  const scales = Tensor.fromArray(
    f16,
    [n, groups],
    randomF32(n * groups, seed + 1).map((v) => 0.002 + 0.004 * (v + 0.5)),
  );
  const unsigned = w.kind === 'int' && !w.signed;
  const zeros = unsigned
    ? Tensor.fromBytes(
        w,
        [n, groups],
        new Uint8Array(Math.ceil((n * groups * w.bits) / 8)).fill(w.bits === 4 ? 0x88 : 0x55),
      )
    : undefined;
  return {
    format,
    n,
    k,
    weights: Tensor.fromBytes(w, [n, k], bytes),
    scales,
    ...(zeros ? { zeros } : {}),
  };
}

/** The first `rows` rows of a matrix (rows * k * bits must be whole bytes). */
function cropRows(qm: QuantizedMatrix, rows: number): QuantizedMatrix {
  const crop = (t: Tensor, cols: number) =>
    Tensor.fromBytes(t.dtype, [rows, cols], t.data.subarray(0, Math.ceil((rows * cols * t.dtype.bits) / 8)));
  const groups = qm.scales.shape[1] as number;
  return {
    ...qm,
    n: rows,
    weights: crop(qm.weights, qm.k),
    scales: crop(qm.scales, groups),
    ...(qm.zeros ? { zeros: crop(qm.zeros, groups) } : {}),
  };
}

/** Max |y - ref| / max |ref| over the first 64 outputs, ref in float64. */
function errorVsF64(qm: QuantizedMatrix, x: Float32Array, y: Float32Array): number {
  const rows = 64;
  const { w } = dequantizeF64(cropRows(qm, rows));
  const ref = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < qm.k; c++) s += w[r * qm.k + c]! * x[c]!;
    ref[r] = s;
  }
  return relErr(y.subarray(0, rows), ref);
}

interface TilevmVariant {
  readonly name: string;
  readonly run: () => Promise<void>;
  readonly y: () => Promise<Float32Array>;
  readonly destroy: () => void;
}

/** tilevm GEMV variants on one device, rotating over `mats`. */
function tilevmVariant(
  name: string,
  device: WasmDevice,
  threads: number,
  mats: readonly QuantizedMatrix[],
  x: Tensor,
  path: MatmulPath,
): TilevmVariant {
  const dx = device.upload(x);
  const out = device.tensor(f32, [1, mats[0]!.n]);
  const dms = mats.map((m) => uploadQuantizedMatrix(device, m));
  let r = 0;
  const opts = { path, out, threads };
  return {
    name: `${name}|${threads}`,
    run: async () => {
      await quantizedMatmul(device, dx, dms[r++ % dms.length]!, opts);
    },
    y: async () => {
      await quantizedMatmul(device, dx, dms[0]!, opts);
      return (await device.read(out as WasmTensor)).toFloat32Array();
    },
    destroy: () => {
      for (const d of dms) destroyQuantizedMatrix(d);
      dx.destroy();
      out.destroy();
    },
  };
}

/** llama.cpp Q4_0 through node-llama-cpp: the time of one decode step divided by its 4096x4096 matmuls. */
async function llamaCppVariants(
  threads: readonly number[],
): Promise<{ variants: Variant[]; close: () => Promise<void> }> {
  const nLayer = 2;
  // Per layer: Q, K, V, O (4096x4096 each; nHeadKv = nHead) and a tiny FFN (nFf = 32); vocab 320.
  const file = join(tmpdir(), `tilevm-bench-q4_0-${process.pid}.gguf`);
  const variants: Variant[] = [];
  const closers: (() => Promise<void>)[] = [];
  const made = await tryPeer('node-llama-cpp', async () => {
    writeFileSync(
      file,
      writeSyntheticLlama({ nEmbd: 4096, nFf: 32, nHead: 32, nLayer, weightType: 'Q4_0', seed: 7 }),
    );
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
    const model = await llama.loadModel({ modelPath: file });
    closers.push(() => model.dispose());
    return model;
  });
  if (!made) return { variants, close: async () => {} };
  for (const t of threads) {
    const context = await made.createContext({ contextSize: 512, threads: t, batchSize: 8 });
    closers.unshift(() => context.dispose());
    const seq = context.getSequence();
    let steps = 0;
    variants.push({
      name: `llama.cpp Q4_0 (per matmul)|${t}`,
      run: async () => {
        if (++steps % 400 === 0) await seq.clearHistory();
        await seq.evaluateWithoutGeneratingNewTokens([(100 + (steps % 50)) as never]);
      },
    });
  }
  return {
    variants,
    close: async () => {
      for (const c of closers) await c();
    },
  };
}

/** llama.cpp's step time covers 4 * nLayer matmuls of 4096x4096 (plus a few small ones). */
const LLAMA_MATMULS = 8;

async function benchPeers(opts: BenchOptions): Promise<Row[]> {
  const rows: Row[] = [];
  const shapes = opts.quick ? SHAPES.slice(0, 1) : SHAPES;
  await withDevices(opts.threads, async (devices) => {
    for (const [label, K, N] of shapes) {
      const bytesPer = (N * K) / 2;
      const count = Math.max(2, Math.ceil((40 * 2 ** 20) / bytesPer), opts.quick ? 2 : 0);
      const x = randomF32(K, 11);
      const hx = Tensor.fromArray(f32, [1, K], x);
      const variants: TilevmVariant[] = [];
      const mats: Record<number, QuantizedMatrix[]> = {};
      for (const g of [128, 32]) {
        mats[g] = Array.from({ length: count }, (_, r) =>
          randomMatrix({ weight: dt.u4, group: g, scale: 'f16' }, N, K, 100 * g + r),
        );
      }
      for (const { threads, device } of devices) {
        for (const g of [128, 32]) {
          variants.push(
            tilevmVariant(`tilevm-wasm${g === 128 ? '' : ' g32'}`, device, threads, mats[g]!, hx, 'int8'),
          );
          variants.push(
            tilevmVariant(
              `tilevm-wasm float${g === 128 ? '' : ' g32'}`,
              device,
              threads,
              mats[g]!,
              hx,
              'float',
            ),
          );
        }
      }
      // The peers get the same nibbles and the same f16 scales widened to f32 (zero point 8).
      const models = () =>
        mats[128]!.map((m) => matmulNBitsModel(1, K, N, 128, m.weights.data, m.scales.toFloat32Array()));
      const web = await ortWebVariants(opts.threads, models, x, [1, K]);
      const native = await ortNodeVariants(opts.threads, models, x, [1, K]);
      const llama =
        label === '4096x4096'
          ? await llamaCppVariants(opts.threads)
          : { variants: [], close: async () => {} };
      try {
        // Each variant against the first tilevm variant on the same matrices (g128 or g32).
        const g128 = variants.filter((v) => !v.name.includes('g32'));
        const g32 = variants.filter((v) => v.name.includes('g32'));
        const parts: string[] = [];
        for (const [group, peers] of [
          [g128, [...web.variants, ...native]],
          [g32, []],
        ] as const) {
          const ref = await group[0]!.y();
          for (const v of group.slice(1))
            parts.push(`${v.name} ${relErr(await v.y(), ref).toExponential(1)}`);
          for (const p of peers) parts.push(`${p.name} ${relErr(await p.output(), ref).toExponential(1)}`);
          parts.push(`(vs ${group[0]!.name})`);
        }
        console.log(`  check ${label}: max rel. diff: ${parts.join(', ')}`);
        const timings = await measure(
          [...variants, ...web.variants, ...native, ...llama.variants],
          opts.timing,
        );
        const perMatmul = timings.map((t) =>
          t.name.startsWith('llama.cpp')
            ? { ...t, median: t.median / LLAMA_MATMULS, p10: t.p10 / LLAMA_MATMULS }
            : t,
        );
        rows.push(
          ...toRows(`GEMV u4 1x${label}`, perMatmul, (ms) => `${(bytesPer / ms / 1e6).toFixed(1)} GB/s`),
        );
      } finally {
        await web.close();
        await llama.close();
        for (const v of variants) v.destroy();
      }
    }
  });
  return rows;
}

const ALL_TYPES: DType[] = [
  ...[dt.u1, dt.u2, dt.u3, dt.u4, dt.u5, dt.u6, dt.u7, dt.u8],
  ...[dt.i1, dt.i2, dt.i3, dt.i4, dt.i5, dt.i6, dt.i7, dt.i8],
  ...[dt.f4e2m1, dt.f5e2m2, dt.f6e3m2, dt.f6e2m3, dt.f8e4m3, dt.f8e5m2],
];

/** Every weight type at 4096x4096, group 128, one thread: float path and (where it exists) int8 path. */
async function benchBitWidths(opts: BenchOptions): Promise<Row[]> {
  const K = 4096;
  const N = 4096;
  const types = opts.quick ? [dt.u2, dt.u4, dt.i3, dt.u8, dt.f4e2m1] : ALL_TYPES;
  const x = randomF32(K, 12);
  const hx = Tensor.fromArray(f32, [1, K], x);
  return withDevices([1], async ([{ device }]) => {
    const variants: TilevmVariant[] = [];
    const errors = new Map<string, number>();
    const bytes = new Map<string, number>();
    for (const [i, w] of types.entries()) {
      const fmt: QuantFormat = { weight: w as QuantFormat['weight'], group: 128, scale: 'f16' };
      const perMatrix = (N * K * w.bits) / 8;
      const count = Math.max(2, Math.ceil((40 * 2 ** 20) / perMatrix));
      const mats = Array.from({ length: count }, (_, r) => randomMatrix(fmt, N, K, 1000 * i + r));
      const paths: MatmulPath[] = integerWeights({ weight: w, scale: f16, act: f32, group: 128 })
        ? ['float', 'int8']
        : ['float'];
      for (const path of paths) {
        const v = tilevmVariant(`${w.name} ${path}`, device, 1, mats, hx, path);
        errors.set(v.name, errorVsF64(mats[0]!, x, await v.y()));
        bytes.set(v.name, perMatrix);
        variants.push(v);
      }
    }
    const timings = await measure(variants, { ...opts.timing, budgetMs: opts.timing.budgetMs * 2 });
    for (const v of variants) v.destroy();
    const u4 = timings.find((t) => t.name.startsWith('u4 int8'));
    return timings.map((t) => {
      const [impl] = t.name.split('|');
      const rel = u4 ? `, ${(t.median / u4.median).toFixed(2)}x u4 int8` : '';
      return {
        bench: 'GEMV 1x4096x4096 g128, by weight type',
        impl: `tilevm ${impl}`,
        threads: 1,
        median: t.median,
        p10: t.p10,
        samples: t.samples,
        rate: `${((bytes.get(t.name) ?? 0) / t.median / 1e6).toFixed(1)} GB/s${rel}, err ${(errors.get(t.name) ?? Number.NaN).toExponential(1)}`,
      };
    });
  });
}

export async function benchLlm(opts: BenchOptions): Promise<Row[]> {
  const rows = await benchPeers(opts);
  rows.push(...(await benchBitWidths(opts)));
  for (const r of rows)
    if (r.impl.startsWith('llama.cpp'))
      console.log(`  ${r.impl} x${r.threads}: ${fmtMs(r.median)} ms per matmul`);
  return rows;
}
