// The page side of browser-llm.ts: bundled by esbuild for the browser (binaryen left external and
// shared through the page's import map), it JIT-compiles the LLM kernels in the page (llm/matmul.ts
// quantizedMatmul, the dsl compiler, binaryen) and times the u4/g128 GEMV variants with timing.ts
// `measure`, interleaved. The bundle is loaded twice: once plainly (baseline SIMD, relaxed SIMD,
// float path, f32 GEMV, and onnxruntime-web's MatMulNBits when the Node side serves it) and once
// as `?copy=nibble`, which the browser treats as a separate module instance. That copy has its own `relaxedSubbyte` switch (dot-subbyte.ts, set before its kernels
// compile) and its own kernel caches, so the relaxed nibble dot runs next to the default lowering.
// The Node side calls `globalThis.tilevmBrowserLlm.run(config)` through page.evaluate (plain JSON),
// and serves `/node/<i>`: its own runs of the GEMV, which the page times between its variants.
import type { WasmArtifact } from '../../dsl/artifact.js';
import { relaxedSubbyte } from '../../dsl/backend/wasm/dot-subbyte.js';
import * as dt from '../../dsl/dtype.js';
import { f32, Tensor } from '../../dsl/index.js';
import { type MatmulPath, quantizedMatmul, uploadQuantizedMatrix } from '../../llm/matmul.js';
import type { QuantizedMatrix } from '../../llm/quantized-matrix.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { RELAXED_SIMD_PROBE } from '../../runtime/wasm/features.js';
import { pickWasmVariant } from '../../runtime/wasm/variant.js';
import { hostF32, randomF32 } from './common.js';
import { gemvF32 } from './gemv-f32-kernel.js';
import { randomMatrix } from './llm-matrix.js';
import { matmulNBitsModel } from './onnx.js';
import { inSequence, measure, perCall, type Timing, type TimingOptions, type Variant } from './timing.js';

export interface BrowserLlmConfig {
  readonly n: number;
  readonly k: number;
  readonly group: number;
  /** Bytes of u4 weights to rotate through (> the L3), as llm.ts. */
  readonly rotateBytes: number;
  /** Seeds of the rotated matrices (matrix r: seed + r) and of x (llm.ts: 12800 and 11). */
  readonly matrixSeed: number;
  readonly xSeed: number;
  /** Seed of our f32 GEMV's weights (llm.ts: 500); omitted: no f32 GEMV variant. */
  readonly f32Seed?: number;
  readonly timing: TimingOptions;
  /** Back-to-back calls per timed run, reported per call (llm-matrix.ts GEMV_SEQUENCE). */
  readonly sequence: number;
  /** Untimed calls before each timed run (llm-matrix.ts GEMV_WARM). */
  readonly warm: number;
  /** onnxruntime-web's ESM entry and its wasm folder (URLs); omitted: no onnxruntime-web variant. */
  readonly ort?: { readonly module: string; readonly wasmPaths: string };
  /**
   * Variants the Node side runs (names `impl|threads`): GET `/node/<index>` makes it run `warm`
   * untimed calls and `sequence` timed ones and answer their time in ms (Node's clock). The page
   * measures them between its own, so both engines' rows share the machine's load.
   */
  readonly node?: readonly string[];
}

/** A module a variant's device ran: the kernel, the variant the device chose and its relaxed ops. */
export interface LaunchedModule {
  readonly variant: string;
  readonly kernel: string;
  readonly features: readonly string[];
  readonly hash: string;
  /** Relaxed-SIMD opcodes found in the module's code (0xfd prefix, 0x100..0x113), by name. */
  readonly relaxedOps: Readonly<Record<string, number>>;
}

export interface BrowserLlmResult {
  readonly userAgent: string;
  readonly crossOriginIsolated: boolean;
  /** WebAssembly.validate of a module with i8x16.relaxed_swizzle. */
  readonly relaxedValidates: boolean;
  /** Per variant: the device's `relaxedSimd` and the page copy's `relaxedSubbyte.enabled`. */
  readonly devices: Readonly<Record<string, { relaxedSimd: boolean; nibbleDot: boolean }>>;
  readonly modules: readonly LaunchedModule[];
  /** Each variant's y for the first matrix (f32 values). */
  readonly outputs: Readonly<Record<string, number[]>>;
  readonly timings: readonly Timing[];
  readonly setupMs: number;
  /** Why onnxruntime-web is missing, when config.ort was given and it failed to load. */
  readonly ortError?: string;
}

export interface BrowserLlmApi {
  run(config: BrowserLlmConfig): Promise<BrowserLlmResult>;
}

/**
 * The Node side's variants as page variants: each timed run is one round trip whose answer is
 * Node's own time for `sequence` calls (after `warm` untimed ones); the warm-up calls it likewise.
 */
function nodeVariants(names: readonly string[]): Variant[] {
  return names.map((name, i) => {
    const timed = async (): Promise<number> => {
      const response = await fetch(`/node/${i}`);
      if (!response.ok) throw new Error(`GET /node/${i} (${name}) answered ${response.status}`);
      const ms = (await response.json()) as unknown;
      if (typeof ms !== 'number' || !(ms > 0)) throw new Error(`GET /node/${i} answered ${String(ms)}`);
      return ms;
    };
    return {
      name,
      run: async () => {
        await timed();
      },
      timed,
    };
  });
}

/** One measured variant in the page (its name is `impl|threads`, as common.ts toRows reads it). */
interface PageVariant extends Variant {
  readonly y: () => Promise<Float32Array>;
}

/** What a copy of this module builds for the page: variants on their own devices. */
interface Built {
  readonly variants: PageVariant[];
  readonly devices: Record<string, { relaxedSimd: boolean; nibbleDot: boolean }>;
  readonly modules: LaunchedModule[];
  readonly destroy: () => void;
  readonly ortError?: string;
}

/** The part of onnxruntime-web's API the page uses. */
interface Ort {
  readonly env: { wasm: { numThreads: number; wasmPaths: string; proxy: boolean } };
  readonly InferenceSession: {
    create(model: Uint8Array, options: object): Promise<OrtSession>;
  };
  readonly Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => unknown;
}
interface OrtSession {
  run(feeds: Record<string, unknown>): Promise<Record<string, { data: Float32Array }>>;
  release(): Promise<void>;
}

/**
 * onnxruntime-web's MatMulNBits (onnx.ts) on the same nibbles and scales (widened to f32, zero point
 * 8), one session per matrix, one thread, idle threads not spinning (as peers.ts in Node).
 */
async function ortVariant(
  urls: NonNullable<BrowserLlmConfig['ort']>,
  mats: readonly QuantizedMatrix[],
  x: Float32Array,
): Promise<{ variant: PageVariant; release: () => Promise<void> }> {
  const ort = (await import(/* @vite-ignore */ new URL(urls.module, location.href).href)) as Ort;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.proxy = false;
  ort.env.wasm.wasmPaths = new URL(urls.wasmPaths, location.href).href;
  const noSpin = { extra: { session: { intra_op: { allow_spinning: '0' } } } };
  const sessions: OrtSession[] = [];
  for (const m of mats) {
    const model = matmulNBitsModel(1, m.k, m.n, m.format.group, m.weights.data, m.scales.toFloat32Array());
    sessions.push(await ort.InferenceSession.create(model, noSpin));
  }
  const input = new ort.Tensor('float32', x, [1, x.length]);
  let r = 0;
  return {
    variant: {
      name: 'onnxruntime-web MatMulNBits (Chromium)|1',
      run: async () => {
        await sessions[r++ % sessions.length]!.run({ A: input });
      },
      y: async () => (await sessions[0]!.run({ A: input })).Y!.data,
    },
    release: async () => {
      for (const s of sessions) await s.release();
    },
  };
}

const RELAXED_OPS: Readonly<Record<number, string>> = {
  256: 'relaxed_swizzle',
  261: 'f32x4.relaxed_madd',
  262: 'f32x4.relaxed_nmadd',
  273: 'i16x8.relaxed_q15mulr_s',
  274: 'i16x8.relaxed_dot_i8x16_i7x16_s',
  275: 'i32x4.relaxed_dot_i8x16_i7x16_add_s',
};

/** Counts 0xfd-prefixed relaxed opcodes (two-byte LEB128 0x100..0x113) in a module's bytes. */
function relaxedOps(wasmBase64: string): Record<string, number> {
  const bin = atob(wasmBase64);
  const counts: Record<string, number> = {};
  for (let i = 0; i + 2 < bin.length; i++) {
    if (bin.charCodeAt(i) !== 0xfd || bin.charCodeAt(i + 2) !== 0x02) continue;
    const name = RELAXED_OPS[0x100 + (bin.charCodeAt(i + 1) & 0x7f)];
    if (name && bin.charCodeAt(i + 1) >= 0x80) counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

/** Records every distinct module `device` runs (the variant it picks), under the variant's name. */
function recordLaunches(device: WasmDevice, variant: string, into: LaunchedModule[]): void {
  const launch = device.launch.bind(device);
  const seen = new Set<string>();
  device.launch = (artifact: WasmArtifact, args) => {
    const ran = pickWasmVariant(artifact, device.relaxedSimd);
    if (!seen.has(ran.hash)) {
      seen.add(ran.hash);
      into.push({
        variant,
        kernel: ran.kernel,
        features: ran.features,
        hash: ran.hash,
        relaxedOps: relaxedOps(ran.wasm),
      });
    }
    return launch(artifact, args);
  };
}

/**
 * This copy's variants. `nibble`: turn on the relaxed nibble dot first (only the `?copy=nibble`
 * instance does, before any of its kernels compile) and build the relaxed int8 variant alone.
 */
export async function buildVariants(config: BrowserLlmConfig, nibble: boolean): Promise<Built> {
  relaxedSubbyte.enabled = nibble;
  const { n, k, group } = config;
  const format = { weight: dt.u4, group, scale: 'f16' as const };
  const count = Math.max(2, Math.ceil(config.rotateBytes / ((n * k) / 2)));
  const mats = Array.from({ length: count }, (_, r) => randomMatrix(format, n, k, config.matrixSeed + r));
  const x = Tensor.fromArray(f32, [1, k], randomF32(k, config.xSeed));
  const built: { variants: PageVariant[]; devices: Built['devices']; modules: LaunchedModule[] } = {
    variants: [],
    devices: {},
    modules: [],
  };
  const devices: WasmDevice[] = [];
  const device = async (name: string, relaxedSimd: boolean): Promise<WasmDevice> => {
    const d = await createWasmDevice({ threads: 1, relaxedSimd });
    devices.push(d);
    built.devices[name] = { relaxedSimd: d.relaxedSimd, nibbleDot: relaxedSubbyte.enabled };
    recordLaunches(d, name, built.modules);
    return d;
  };
  const quantized = async (name: string, d: WasmDevice, path: MatmulPath): Promise<PageVariant> => {
    const dx = d.upload(x);
    const out = d.tensor(f32, [1, n]);
    const dms = await Promise.all(mats.map((m) => uploadQuantizedMatrix(d, m)));
    const opts = { path, out, threads: 1 };
    let r = 0;
    return {
      name: `${name}|1`,
      run: async () => {
        await quantizedMatmul(d, dx, dms[r++ % dms.length]!, opts);
      },
      y: async () => {
        await quantizedMatmul(d, dx, dms[0]!, opts);
        return (await d.read(out)).toFloat32Array();
      },
    };
  };
  if (nibble) {
    const relaxed = await device('tilevm-wasm relaxed (Chromium)', true);
    built.variants.push(await quantized('tilevm-wasm relaxed (Chromium)', relaxed, 'int8'));
  } else {
    const base = await device('tilevm-wasm (Chromium)', false);
    built.variants.push(await quantized('tilevm-wasm (Chromium)', base, 'int8'));
    const relaxed = await device('tilevm-wasm relaxed, no nibble dot (Chromium)', true);
    built.variants.push(await quantized('tilevm-wasm relaxed, no nibble dot (Chromium)', relaxed, 'int8'));
    built.variants.push(await quantized('tilevm-wasm float (Chromium)', base, 'float'));
    built.devices['tilevm-wasm float (Chromium)'] = built.devices['tilevm-wasm (Chromium)']!;
    if (config.f32Seed !== undefined) {
      // Our f32 GEMV at the same shape, rotating past `rotateBytes` of f32 weights (llm.ts).
      const f32Count = Math.max(1, Math.ceil(config.rotateBytes / (4 * n * k)));
      const dx = base.upload(hostF32([k], x.toFloat32Array()));
      const dws = Array.from({ length: f32Count }, (_, r) =>
        base.upload(hostF32([n, k], randomF32(n * k, config.f32Seed! + r))),
      );
      const dy = base.tensor(f32, [n]);
      let r = 0;
      built.variants.push({
        name: 'f32 GEMV (Chromium)|1',
        run: () => gemvF32.launch(base, { x: dx, w: dws[r++ % dws.length]!, y: dy }),
        y: async () => {
          await gemvF32.launch(base, { x: dx, w: dws[0]!, y: dy });
          return (await base.read(dy)).toFloat32Array();
        },
      });
    }
  }
  let ort: Awaited<ReturnType<typeof ortVariant>> | undefined;
  let ortError: string | undefined;
  if (!nibble && config.ort) {
    try {
      ort = await ortVariant(config.ort, mats, x.toFloat32Array());
      built.variants.push(ort.variant);
    } catch (e) {
      ortError = (e as Error).message.split('\n')[0];
    }
  }
  return {
    ...built,
    ...(ortError ? { ortError } : {}),
    destroy: () => {
      for (const d of devices) d.destroy();
      void ort?.release();
    },
  };
}

const api: BrowserLlmApi = {
  async run(config) {
    const t0 = performance.now();
    const self = new URL(import.meta.url);
    self.search = '?copy=nibble';
    const nibbleCopy = (await import(/* @vite-ignore */ self.href)) as {
      buildVariants: typeof buildVariants;
    };
    const parts = [await buildVariants(config, false), await nibbleCopy.buildVariants(config, true)];
    try {
      const variants = parts.flatMap((p) => p.variants);
      // The first call of each variant compiles its kernels; the outputs come from the first matrix.
      const outputs: Record<string, number[]> = {};
      for (const v of variants) outputs[v.name] = [...(await v.y())];
      const setupMs = performance.now() - t0;
      // Back-to-back calls per timed run, as the Node rows (llm-matrix.ts GEMV_SEQUENCE); the
      // Node side's variants run their sequence there.
      const timings = (
        await measure(
          [
            ...variants.map((v) => inSequence(v, config.sequence, config.warm)),
            ...nodeVariants(config.node ?? []),
          ],
          config.timing,
        )
      ).map((t) => perCall(t, config.sequence));
      return {
        userAgent: navigator.userAgent,
        crossOriginIsolated: globalThis.crossOriginIsolated === true,
        relaxedValidates: WebAssembly.validate(RELAXED_SIMD_PROBE),
        devices: Object.assign({}, ...parts.map((p) => p.devices)),
        modules: parts.flatMap((p) => p.modules),
        outputs,
        timings,
        setupMs,
        ...(parts[0]!.ortError ? { ortError: parts[0]!.ortError } : {}),
      };
    } finally {
      for (const p of parts) p.destroy();
    }
  },
};

// Only the plainly loaded copy answers the Node side; the nibble copy just exports buildVariants.
if (new URL(import.meta.url).search === '') {
  (globalThis as { tilevmBrowserLlm?: BrowserLlmApi }).tilevmBrowserLlm = api;
}
