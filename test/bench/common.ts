// What every benchmark shares: options, result rows, random data, a tilevm device per thread count.
import {
  createDevice,
  createWasmDevice,
  f32,
  Tensor,
  type WasmDevice,
  type WebGpuDevice,
} from '../../runtime/index.js';
import type { TimingOptions } from './timing.js';

export interface BenchOptions {
  readonly quick: boolean;
  readonly threads: readonly number[];
  readonly timing: TimingOptions;
  /** How many weight matrices each GEMV rotates through. */
  readonly rotate: number;
}

/** A markdown table a benchmark adds to the report besides its rows (e.g. the LLM table by format). */
export interface ExtraTable {
  readonly title: string;
  readonly markdown: string;
}

/** What a benchmark returns: rows for the main table, and optional tables of its own. */
export interface BenchResult {
  readonly rows: Row[];
  readonly tables?: readonly ExtraTable[];
}

export interface Row {
  readonly bench: string;
  readonly impl: string;
  readonly threads: number;
  readonly median: number;
  readonly p10: number;
  readonly samples: number;
  /** Extra figure, e.g. GB/s or GFLOP/s. */
  readonly rate?: string;
}

/** Deterministic uniform floats in [-0.5, 0.5). */
export function randomF32(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 4294967296 - 0.5;
  }
  return out;
}

export function randomBytes(n: number, seed: number): Uint8Array {
  const f = randomF32(Math.ceil(n / 4), seed);
  return new Uint8Array(f.buffer, 0, n).map((_, i) => ((f[i >> 2]! + 0.5) * 2 ** (8 * ((i & 3) + 1))) & 255);
}

export function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function hostF32(shape: readonly number[], data: Float32Array): Tensor<typeof f32> {
  return Tensor.fromBytes(f32, shape, bytesOf(data));
}

/** Transposes a rows x cols row-major matrix. */
export function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c]!;
  }
  return out;
}

/** Max |a - b| / max |b|. */
export function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < b.length; i++) {
    num = Math.max(num, Math.abs(a[i]! - b[i]!));
    den = Math.max(den, Math.abs(b[i]!));
  }
  return num / (den || 1);
}

export async function withDevices<T>(
  threads: readonly number[],
  f: (devices: { threads: number; device: WasmDevice; impl: string }[]) => Promise<T>,
  options: { relaxed?: boolean } = {},
): Promise<T> {
  // 'tilevm-wasm' rows run the baseline (SIMD128) modules; with `relaxed`, one more single-thread
  // device runs the relaxed-SIMD variants ('tilevm-wasm relaxed'), where the engine has relaxed SIMD
  // (run.ts turns V8's flag on).
  const devices = await Promise.all(
    threads.map(async (t) => ({
      threads: t,
      device: await createWasmDevice({ threads: t, relaxedSimd: false }),
      impl: 'tilevm-wasm',
    })),
  );
  if (options.relaxed) {
    const device = await createWasmDevice({ threads: 1 });
    if (device.relaxedSimd) devices.push({ threads: 1, device, impl: 'tilevm-wasm relaxed' });
    else device.destroy();
  }
  try {
    return await f(devices);
  } finally {
    for (const d of devices) d.device.destroy();
  }
}

/** withDevices with a 'tilevm-wasm relaxed' device (one thread) where the engine has relaxed SIMD. */
export function withRelaxedDevices<T>(
  threads: readonly number[],
  f: (devices: { threads: number; device: WasmDevice; impl: string }[]) => Promise<T>,
): Promise<T> {
  return withDevices(threads, f, { relaxed: true });
}

/**
 * Runs `f` on a WebGPU device (SwiftShader in Node here). Where no adapter exists (or the device
 * cannot be made), prints why and returns undefined: the WebGPU rows are skipped, the bench goes on.
 */
export async function withWebGpu<T>(
  what: string,
  f: (device: WebGpuDevice) => Promise<T>,
): Promise<T | undefined> {
  let device: WebGpuDevice;
  try {
    device = await createDevice({ backend: 'webgpu' });
  } catch (e) {
    console.log(`  [skip] ${what} on WebGPU: no device (${(e as Error).message.split('\n')[0]})`);
    return undefined;
  }
  try {
    return await f(device);
  } finally {
    device.destroy();
  }
}

/** Formats a markdown table; `align` has one 'l' or 'r' per column. */
export function markdownTable(header: readonly string[], align: string, rows: readonly string[][]): string {
  const sep = [...align].map((a) => (a === 'r' ? '---:' : '---'));
  return [header, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

export function fmtMs(ms: number): string {
  return ms >= 10 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(3);
}

/** Timings named `impl|threads` to rows; `rate` turns a median (ms) into a figure. */
export function toRows(
  bench: string,
  timings: readonly { name: string; median: number; p10: number; samples: number }[],
  rate?: (ms: number) => string,
): Row[] {
  return timings.map((t) => {
    const [impl, th] = t.name.split('|');
    return {
      bench,
      impl: impl!,
      threads: Number(th),
      median: t.median,
      p10: t.p10,
      samples: t.samples,
      ...(rate ? { rate: rate(t.median) } : {}),
    };
  });
}
