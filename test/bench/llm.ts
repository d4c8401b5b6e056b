// LLM decode GEMV (one activation row) on quantized weights: tilevm's llm/ kernels through
// quantizedMatmul (float path and int8-activation path) against onnxruntime-web's wasm MatMulNBits,
// onnxruntime-node's native MatMulNBits and llama.cpp's Q4_0 (node-llama-cpp, a decode step of a
// synthetic GGUF model). Shapes: K = N = 4096 and Llama-3-8B's projections. Weights rotate through
// enough matrices (> 32 MB) that every call streams them from DRAM.
// Then a table by weight format (every int width 1..8, signed and unsigned, and the float formats;
// --quick: 5 of them), WASM 1 thread at 4096x4096: weight bytes/s, time relative to u4 (same path)
// and to our f32 GEMV, int8 path against float path, error against the float64 reference of the
// dequantized weights, and the peers' u4 figures ("n/a" for formats they lack). The same table on
// WebGPU at 1x2048 by 512x2048 (SwiftShader here: relative figures only), skipped without an adapter.
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as dt from '../../dsl/dtype.js';
import { type DType, f16, f32, Tensor } from '../../dsl/index.js';
import { writeSyntheticLlama } from '../../llm/gguf/llama.js';
import { integerWeights } from '../../llm/kernels/spec.js';
import {
  destroyQuantizedMatrix,
  type LlmDevice,
  type LlmTensor,
  type MatmulPath,
  quantizedMatmul,
  uploadQuantizedMatrix,
} from '../../llm/matmul.js';
import type { QuantFormat, QuantizedMatrix } from '../../llm/quantized-matrix.js';
import { type WasmDevice, WebGpuDevice } from '../../runtime/index.js';
import {
  type BenchOptions,
  type BenchResult,
  type ExtraTable,
  fmtMs,
  hostF32,
  markdownTable,
  type Row,
  randomF32,
  relErr,
  toRows,
  withDevices,
  withRelaxedDevices,
  withWebGpu,
} from './common.js';
import { gemvF32 } from './gemv-f32.js';
import { errorVsF64, GEMV_SEQUENCE, GEMV_WARM, randomMatrix } from './llm-matrix.js';
import { matmulNBitsModel } from './onnx.js';
import { ortNodeVariants, ortWebVariants, tryPeer } from './peers.js';
import { inSequence, measure, perCall, type TimingOptions, type Variant } from './timing.js';

/** [name, K, N] */
const SHAPES: [string, number, number][] = [
  ['4096x4096', 4096, 4096],
  ['4096->14336', 4096, 14336],
  ['14336->4096', 14336, 4096],
  ['4096->1024', 4096, 1024],
];

interface TilevmVariant {
  readonly name: string;
  readonly run: () => Promise<void>;
  readonly y: () => Promise<Float32Array>;
  readonly destroy: () => void;
}

/** Reads an f32 device tensor back, on either backend. */
async function readF32(device: LlmDevice, t: LlmTensor): Promise<Float32Array> {
  const host = await (device as { read(t: LlmTensor): Promise<Tensor> }).read(t);
  return host.toFloat32Array();
}

/**
 * tilevm GEMV variants on one device, rotating over `mats`. On WebGPU a call also flushes, so it
 * ends when the GPU has finished (a WASM launch already resolves when the kernel is done).
 */
async function tilevmVariant(
  name: string,
  device: LlmDevice,
  threads: number,
  mats: readonly QuantizedMatrix[],
  x: Tensor,
  path: MatmulPath,
): Promise<TilevmVariant> {
  const dx = (device as WasmDevice).upload(x) as LlmTensor;
  const out = (device as WasmDevice).tensor(f32, [1, mats[0]!.n]) as LlmTensor;
  const dms = await Promise.all(mats.map((m) => uploadQuantizedMatrix(device, m)));
  const gpu = device instanceof WebGpuDevice ? device : undefined;
  let r = 0;
  const opts = { path, out, threads };
  return {
    name: `${name}|${threads}`,
    run: async () => {
      await quantizedMatmul(device, dx, dms[r++ % dms.length]!, opts);
      if (gpu) await gpu.flush();
    },
    y: async () => {
      await quantizedMatmul(device, dx, dms[0]!, opts);
      return readF32(device, out);
    },
    destroy: () => {
      for (const d of dms) destroyQuantizedMatrix(d);
      dx.destroy();
      out.destroy();
    },
  };
}

/** Our f32 GEMV (test/bench/gemv-f32.ts) on N x K f32 weights, rotating over `count` matrices. */
function f32Variant(device: LlmDevice, n: number, k: number, count: number, x: Float32Array): TilevmVariant {
  const dev = device as WasmDevice;
  const dx = dev.upload(hostF32([k], x));
  const dws = Array.from({ length: count }, (_, r) => dev.upload(hostF32([n, k], randomF32(n * k, 500 + r))));
  const dy = dev.tensor(f32, [n]);
  const gpu = device instanceof WebGpuDevice ? device : undefined;
  let r = 0;
  return {
    name: 'f32 GEMV|1',
    run: async () => {
      await gemvF32.launch(dev, { x: dx, w: dws[r++ % dws.length]!, y: dy });
      if (gpu) await gpu.flush();
    },
    y: async () => {
      await gemvF32.launch(dev, { x: dx, w: dws[0]!, y: dy });
      return readF32(device, dy as LlmTensor);
    },
    destroy: () => {
      for (const d of dws) d.destroy();
      dx.destroy();
      dy.destroy();
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
  await withRelaxedDevices(opts.threads, async (devices) => {
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
      for (const { threads, device, impl } of devices) {
        for (const g of [128, 32]) {
          // The relaxed-SIMD device: the int8 path at g128 only.
          if (impl !== 'tilevm-wasm' && g !== 128) continue;
          variants.push(
            await tilevmVariant(`${impl}${g === 128 ? '' : ' g32'}`, device, threads, mats[g]!, hx, 'int8'),
          );
          if (impl !== 'tilevm-wasm') continue;
          variants.push(
            await tilevmVariant(
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
          [
            ...[...variants, ...web.variants, ...native].map((v) => inSequence(v, GEMV_SEQUENCE, GEMV_WARM)),
            ...llama.variants.map((v) => inSequence(v, 1, 1)),
          ],
          opts.timing,
        );
        const perMatmul = timings.map((t) =>
          perCall(t, t.name.startsWith('llama.cpp') ? LLAMA_MATMULS : GEMV_SEQUENCE),
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
const QUICK_TYPES: DType[] = [dt.u2, dt.u4, dt.i3, dt.u8, dt.f4e2m1];

/** One measured variant of the by-format table. */
interface FormatTiming {
  readonly type: DType | undefined; // undefined: our f32 GEMV
  readonly path: MatmulPath;
  readonly median: number;
  readonly p10: number;
  readonly weightBytes: number;
  readonly err: number;
}

/**
 * Every weight type (group 128, f16 scales) and our f32 GEMV at n x k on one device, one thread:
 * the float path and, where the format has an integer form, the int8-activation path, each with
 * its error against the float64 reference of the dequantized weights (`only`: that path alone).
 */
async function measureFormats(
  device: LlmDevice,
  n: number,
  k: number,
  types: readonly DType[],
  timing: TimingOptions,
  rotateBytes: number,
  sequence: number,
  only?: MatmulPath,
): Promise<FormatTiming[]> {
  const x = randomF32(k, 12);
  const hx = Tensor.fromArray(f32, [1, k], x);
  const variants: TilevmVariant[] = [];
  const meta = new Map<string, Omit<FormatTiming, 'median' | 'p10'>>();
  try {
    const f32Bytes = 4 * n * k;
    const fv = f32Variant(device, n, k, Math.max(1, Math.ceil(rotateBytes / f32Bytes)), x);
    variants.push(fv);
    const y = await fv.y();
    const ref = new Float64Array(64);
    // The f32 GEMV's reference: its own weights (seed 500) in float64.
    const w0 = randomF32(64 * k, 500);
    for (let r = 0; r < 64; r++) {
      let s = 0;
      for (let c = 0; c < k; c++) s += w0[r * k + c]! * x[c]!;
      ref[r] = s;
    }
    meta.set(fv.name, {
      type: undefined,
      path: 'float',
      weightBytes: f32Bytes,
      err: relErr(y.subarray(0, 64), ref),
    });
    for (const [i, w] of types.entries()) {
      const fmt: QuantFormat = { weight: w as QuantFormat['weight'], group: 128, scale: 'f16' };
      const paths = (
        integerWeights({ weight: w, scale: f16, act: f32, group: 128 }) ? ['float', 'int8'] : ['float']
      ).filter((p) => only === undefined || p === only) as MatmulPath[];
      if (paths.length === 0) continue;
      const perMatrix = (n * k * w.bits) / 8;
      const count = Math.max(1, Math.ceil(rotateBytes / perMatrix));
      const mats = Array.from({ length: count }, (_, r) => randomMatrix(fmt, n, k, 1000 * i + r));
      for (const path of paths) {
        try {
          const v = await tilevmVariant(`${w.name} ${path}`, device, 1, mats, hx, path);
          variants.push(v);
          meta.set(v.name, {
            type: w,
            path,
            weightBytes: perMatrix,
            err: errorVsF64(mats[0]!, x, await v.y()),
          });
        } catch (e) {
          console.log(`  [fail] ${w.name} ${path}: ${(e as Error).message.split('\n')[0]}`);
        }
      }
    }
    const measured = variants.filter((v) => meta.has(v.name));
    const timings = await measure(
      measured.map((v) => inSequence(v, sequence, sequence > 1 ? GEMV_WARM : 0)),
      timing,
    );
    return timings
      .map((t) => perCall(t, sequence))
      .map((t) => ({ ...meta.get(t.name)!, median: t.median, p10: t.p10 }));
  } finally {
    for (const v of variants) v.destroy();
  }
}

/** The peers' 1-thread u4 g128 4096x4096 figures (from the first table), for the u4 rows. */
interface PeerU4 {
  readonly name: string;
  readonly median?: number;
}

/** A rate in bytes per µs (= MB/s) as GB/s, or as MB/s below 1 GB/s (SwiftShader). */
function fmtRate(bytesPerUs: number): string {
  return bytesPerUs >= 1000 ? `${(bytesPerUs / 1000).toFixed(2)} GB/s` : `${bytesPerUs.toPrecision(3)} MB/s`;
}

function formatTable(results: readonly FormatTiming[], peers: readonly PeerU4[]): string {
  const find = (type: string | undefined, path: MatmulPath) =>
    results.find((r) => r.type?.name === type && r.path === path);
  const f32 = find(undefined, 'float');
  const rows = results.map((r) => {
    const u4 = find('u4', r.path);
    const float = r.type && r.path === 'int8' ? find(r.type.name, 'float') : undefined;
    const peerCells = peers.map((p) =>
      r.type?.name === 'u4' && p.median !== undefined
        ? `${fmtMs(p.median)} ms (tilevm ${(r.median / p.median).toFixed(2)}x)`
        : 'n/a',
    );
    return [
      r.type ? r.type.name : 'f32 (our f32 GEMV)',
      r.type ? String(r.type.bits) : '32',
      r.path,
      fmtMs(r.median),
      fmtMs(r.p10),
      fmtRate(r.weightBytes / r.median / 1e3),
      u4 ? `${(r.median / u4.median).toFixed(2)}x` : '',
      f32 ? `${(r.median / f32.median).toFixed(2)}x` : '',
      float ? `${(r.median / float.median).toFixed(2)}x` : '',
      r.err.toExponential(1),
      ...peerCells,
    ];
  });
  return markdownTable(
    [
      'weights',
      'bits',
      'path',
      'median ms',
      'p10 ms',
      'weight bytes/s',
      'time / u4 (same path)',
      'time / f32 GEMV',
      'int8 / float',
      'err vs f64',
      ...peers.map((p) => p.name),
    ],
    `lrlrrrrrrr${'r'.repeat(peers.length)}`,
    rows,
  );
}

/** Every weight type at 4096x4096 on WASM, one thread, rotating weights past the L3. */
async function wasmFormats(opts: BenchOptions, peerRows: readonly Row[]): Promise<ExtraTable> {
  const types = opts.quick ? QUICK_TYPES : ALL_TYPES;
  // A long warm-up: ~45 modules tier up from Liftoff to TurboFan in the background, on 2 cores,
  // while the main thread keeps running them; with 2 s the 1-bit kernels' medians were still
  // Liftoff's (u1 7.8 ms median, 1.5 ms p10).
  const timing = opts.quick ? opts.timing : { warmupMs: 8000, reps: 20, budgetMs: 25000 };
  const results = await withDevices([1], ([{ device }]) =>
    measureFormats(device, 4096, 4096, types, timing, 40 * 2 ** 20, GEMV_SEQUENCE),
  );
  const peer = (impl: string, label: string): PeerU4 => {
    const r = peerRows.find((p) => p.bench === 'GEMV u4 1x4096x4096' && p.impl === impl && p.threads === 1);
    return { name: `${label} x1`, ...(r ? { median: r.median } : {}) };
  };
  const peers = [
    peer('onnxruntime-web', 'onnxruntime-web MatMulNBits'),
    peer('onnxruntime-node', 'onnxruntime-node MatMulNBits'),
    peer('llama.cpp Q4_0 (per matmul)', 'llama.cpp Q4_0'),
  ];
  return {
    title: `LLM GEMV by weight format, WASM, 1 thread, 1x4096 by 4096x4096, group 128, f16 scales${opts.quick ? ' (quick: 5 formats)' : ''}`,
    markdown: formatTable(results, peers),
  };
}

/**
 * The int8 path of every int width at 4096x4096 on a relaxed-SIMD WASM device (what Chromium and
 * Node 22+ run by default), one thread. Only u4/i4 have a relaxed dot (dot-subbyte.ts); the other
 * widths run the baseline lowering, so this table shows what the relaxed nibble dot does to the
 * n / (n+1)-bit ratios. Undefined where this V8 does not validate relaxed SIMD.
 */
async function wasmRelaxedFormats(opts: BenchOptions): Promise<ExtraTable | undefined> {
  const types = (opts.quick ? QUICK_TYPES : ALL_TYPES).filter((t) => t.kind === 'int');
  const timing = opts.quick ? opts.timing : { warmupMs: 8000, reps: 20, budgetMs: 20000 };
  // No baseline devices: withRelaxedDevices adds the relaxed one only where V8 validates it.
  const results = await withRelaxedDevices([], async ([relaxed]) =>
    relaxed
      ? measureFormats(relaxed.device, 4096, 4096, types, timing, 40 * 2 ** 20, GEMV_SEQUENCE, 'int8')
      : undefined,
  );
  if (!results) {
    console.log('  [skip] LLM GEMV by format, relaxed SIMD: this V8 does not validate relaxed SIMD');
    return undefined;
  }
  return {
    title: `LLM GEMV by weight format, WASM relaxed SIMD, int8 path, 1 thread, 1x4096 by 4096x4096, group 128, f16 scales${opts.quick ? ' (quick)' : ''}`,
    markdown: formatTable(results, []),
  };
}

/**
 * WebGPU (SwiftShader here: relative figures only) at a modest shape, one matrix, no rotation.
 * SwiftShader took 0.5-3 s per call at 1024x4096 on the loaded 2-core machine, so 512x2048, one
 * warm-up call per variant (measure's first round) and 11 rounds (5 left the n/(n+1) ratios within
 * the rounds' noise: medians and p10 differed by 10-25%).
 */
async function webgpuFormats(opts: BenchOptions): Promise<ExtraTable | undefined> {
  const N = 512;
  const K = 2048;
  const types = opts.quick ? QUICK_TYPES : ALL_TYPES;
  const timing = opts.quick
    ? { warmupMs: 0, reps: 3, budgetMs: 1000 }
    : { warmupMs: 0, reps: 11, budgetMs: 70000 };
  const results = await withWebGpu('LLM GEMV by format', (device) =>
    measureFormats(device, N, K, types, timing, 0, 1),
  );
  if (!results) return undefined;
  return {
    title:
      `LLM GEMV by weight format, WebGPU (SwiftShader: relative figures only), 1x${K} by ${N}x${K}, ` +
      `group 128, f16 scales${opts.quick ? ' (quick: 5 formats)' : ''}`,
    markdown: formatTable(results, []),
  };
}

export async function benchLlm(opts: BenchOptions): Promise<BenchResult> {
  const rows = await benchPeers(opts);
  for (const r of rows)
    if (r.impl.startsWith('llama.cpp'))
      console.log(`  ${r.impl} x${r.threads}: ${fmtMs(r.median)} ms per matmul`);
  const tables: ExtraTable[] = [await wasmFormats(opts, rows)];
  console.log(`\n### ${tables[0]!.title}\n\n${tables[0]!.markdown}\n`);
  const relaxed = await wasmRelaxedFormats(opts);
  if (relaxed) {
    tables.push(relaxed);
    console.log(`\n### ${relaxed.title}\n\n${relaxed.markdown}\n`);
  }
  // A WebGPU failure is reported and leaves the WASM tables standing.
  const gpu = await webgpuFormats(opts).catch((e: unknown) => {
    console.log(`  [fail] LLM GEMV on WebGPU: ${(e as Error).message.split('\n')[0]}`);
    return undefined;
  });
  if (gpu) {
    tables.push(gpu);
    console.log(`\n### ${gpu.title}\n\n${gpu.markdown}\n`);
  }
  return { rows, tables };
}
