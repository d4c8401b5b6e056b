// The LLM decode GEMV of llm.ts (u4, group 128, f16 scales, 1x4096 by 4096x4096, one thread,
// weights rotating past 40 MB) inside headless Chromium, the engine the product targets: esbuild
// bundles browser-llm-page.ts for the browser (binaryen external, served once and shared through an
// import map), a local server serves it cross-origin isolated (COOP/COEP) from http://127.0.0.1,
// and the page JIT-compiles and times, interleaved (timing.ts `measure`): the int8 path on baseline
// SIMD, on relaxed SIMD with the default lowering (the relaxed nibble dot of dot-subbyte.ts) and
// without the nibble dot (`relaxedSubbyte.enabled = false`), the float path, our f32 GEMV and onnxruntime-web's MatMulNBits. Between
// them it times the same int8 GEMV in this Node process (baseline and relaxed SIMD, the
// "(Node, same run)" rows, run through a request to the server), so the two engines are compared
// under the same machine load. Before the timings count, the int8 variants (Node's too) must agree
// bit for bit, every variant must be within its error bound of the float64 product, the baseline
// variant must have run no relaxed module and the nibble one the relaxed dot.
// Chromium is /usr/bin/chromium or $TILEVM_CHROMIUM; without it the bench prints why and is skipped.
import { existsSync, readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as dt from '../../dsl/dtype.js';
import { f32, Tensor } from '../../dsl/index.js';
import { quantizedMatmul, uploadQuantizedMatrix } from '../../llm/matmul.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { CHROMIUM, HTML_TYPE, JS_TYPE, serveIsolated, withTimeout } from '../helpers/isolated-server.js';
import type {
  BrowserLlmApi,
  BrowserLlmConfig,
  BrowserLlmResult,
  LaunchedModule,
} from './browser-llm-page.js';
import { type BenchOptions, fmtMs, type Row, randomF32, relErr, toRows } from './common.js';
import { errorVsF64, GEMV_SEQUENCE, GEMV_WARM, randomMatrix } from './llm-matrix.js';

/** The page entry next to this file (run.ts's bundle sits in test/bench/ too), else from the repo root. */
const ENTRY = [
  fileURLToPath(new URL('./browser-llm-page.ts', import.meta.url)),
  'test/bench/browser-llm-page.ts',
].find((p) => existsSync(p));
/** Headless, quiet, offline; no GPU needed (the variants are WASM). */
const CHROMIUM_FLAGS: readonly string[] = [
  '--headless=new',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-background-timer-throttling',
  '--disable-renderer-backgrounding',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const N = 4096;
const K = 4096;
const GROUP = 128;
/**
 * Error bounds against the float64 product of the dequantized weights (max |y - ref| / max |ref|
 * over 64 outputs). The float path measures ~3e-7 and the int8 path ~3e-3 (its activation rounding,
 * docs/llm.md) in Node's by-format table; the bounds leave room for summation order and fused
 * multiply-adds, and fail a variant that computes something else.
 */
const FLOAT_BOUND = 1e-5;
const INT8_BOUND = 1e-2;

const NAMES = {
  base: 'tilevm-wasm (Chromium)|1',
  relaxed: 'tilevm-wasm relaxed, no nibble dot (Chromium)|1',
  nibble: 'tilevm-wasm relaxed (Chromium)|1',
  float: 'tilevm-wasm float (Chromium)|1',
  f32: 'f32 GEMV (Chromium)|1',
  ort: 'onnxruntime-web MatMulNBits (Chromium)|1',
  nodeBase: 'tilevm-wasm (Node, same run)|1',
  nodeRelaxed: 'tilevm-wasm relaxed (Node, same run)|1',
} as const;

/** A variant the Node side runs for the page (browser-llm-page.ts `node`). */
interface NodeVariant {
  readonly name: string;
  /** `warm` untimed calls, then `sequence` timed ones: their time in ms. */
  readonly run: () => Promise<number>;
  /** y for the first matrix. */
  readonly y: () => Promise<Float32Array>;
}

/**
 * The int8 GEMV in this Node process on the page's matrices and x (the same seeds and rotation),
 * baseline SIMD and, where this V8 validates it (run.ts turns it on in Node 20), relaxed SIMD with
 * the default lowering: the page times them between its own variants, so the Node and Chromium
 * rows see the same load. (Node rows from llm.ts ran minutes earlier; on this shared 2-core
 * machine the load of that other moment moved the comparison by up to 1.4x, docs/benchmarks.md.)
 */
async function nodeVariants(
  config: BrowserLlmConfig,
): Promise<{ variants: NodeVariant[]; destroy: () => void }> {
  const { n, k, group } = config;
  const format = { weight: dt.u4, group, scale: 'f16' as const };
  const count = Math.max(2, Math.ceil(config.rotateBytes / ((n * k) / 2)));
  const mats = Array.from({ length: count }, (_, r) => randomMatrix(format, n, k, config.matrixSeed + r));
  const x = Tensor.fromArray(f32, [1, k], randomF32(k, config.xSeed));
  const devices: WasmDevice[] = [];
  const variants: NodeVariant[] = [];
  for (const [name, relaxedSimd] of [
    [NAMES.nodeBase, false],
    [NAMES.nodeRelaxed, true],
  ] as const) {
    const d = await createWasmDevice({ threads: 1, relaxedSimd });
    devices.push(d);
    if (relaxedSimd && !d.relaxedSimd) {
      console.log(`  [skip] ${name.split('|')[0]}: this Node does not validate relaxed SIMD`);
      continue;
    }
    const dx = d.upload(x);
    const out = d.tensor(f32, [1, n]);
    const dms = await Promise.all(mats.map((m) => uploadQuantizedMatrix(d, m)));
    const opts = { path: 'int8' as const, out, threads: 1 };
    let r = 0;
    const call = () => quantizedMatmul(d, dx, dms[r++ % dms.length]!, opts);
    variants.push({
      name,
      run: async () => {
        for (let i = 0; i < config.warm; i++) await call();
        const t0 = performance.now();
        for (let i = 0; i < config.sequence; i++) await call();
        return performance.now() - t0;
      },
      y: async () => {
        await quantizedMatmul(d, dx, dms[0]!, opts);
        return (await d.read(out)).toFloat32Array();
      },
    });
  }
  return {
    variants,
    destroy: () => {
      for (const d of devices) d.destroy();
    },
  };
}

const HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>tilevm browser LLM bench</title>
<script type="importmap">{"imports":{"binaryen":"/binaryen.js"}}</script></head>
<body><script type="module" src="/bench.js"></script></body></html>`;

async function bundlePage(): Promise<string> {
  const { build } = await import('esbuild');
  if (!ENTRY)
    throw new Error('browser: test/bench/browser-llm-page.ts not found; run from the repository root');
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    // One binaryen for both copies of the bundle (browser-llm-page.ts): the page's import map.
    external: ['binaryen'],
    write: false,
    logLevel: 'silent',
    outfile: 'bench.js',
  });
  return result.outputFiles[0]!.text;
}

/**
 * Serves the page, the bundle (any query: the nibble copy) and binaryen, cross-origin isolated;
 * `/node/<i>` runs Node variant i and answers its time (JSON ms).
 */
function serve(
  script: string,
  binaryen: Buffer,
  ortDir: string | undefined,
  node: readonly NodeVariant[],
): Promise<Server> {
  return serveIsolated(async (path) => {
    if (path === '/') return { type: HTML_TYPE, body: HTML };
    const nodeRun = /^\/node\/(\d+)$/.exec(path);
    if (nodeRun) {
      const v = node[Number(nodeRun[1])];
      return v ? { type: 'application/json', body: JSON.stringify(await v.run()) } : undefined;
    }
    if (path === '/bench.js') return { type: JS_TYPE, body: script };
    if (path === '/binaryen.js') return { type: JS_TYPE, body: binaryen };
    // onnxruntime-web's dist files, by plain name only.
    const ort = /^\/ort\/([\w.-]+\.(mjs|wasm))$/.exec(path);
    if (ortDir && ort && existsSync(join(ortDir, ort[1]!))) {
      return {
        type: ort[2] === 'wasm' ? 'application/wasm' : JS_TYPE,
        body: readFileSync(join(ortDir, ort[1]!)),
      };
    }
    return undefined;
  });
}

const require = createRequire(import.meta.url);

/** onnxruntime-web's dist folder, or undefined (and a printed reason) when it is not installed. */
function ortDist(): string | undefined {
  try {
    // The package's Node entry lies in dist/, next to the browser builds.
    return dirname(require.resolve('onnxruntime-web'));
  } catch (e) {
    console.log(`  [skip] onnxruntime-web in Chromium: ${(e as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

/** Runs the page's bench in Chromium; the page's errors come with a failure. */
async function runInChromium(
  config: BrowserLlmConfig,
  node: readonly NodeVariant[],
): Promise<BrowserLlmResult> {
  const server = await serve(await bundlePage(), readFileSync(require.resolve('binaryen')), ortDist(), node);
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [...CHROMIUM_FLAGS],
    timeout: 30_000,
  });
  const log: string[] = [];
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') log.push(`[${m.type()}] ${m.text()}`);
    });
    page.on('pageerror', (e) => log.push(`[pageerror] ${e.stack ?? e.message}`));
    page.on('crash', () => log.push('[crash] the page crashed'));
    const response = await page.goto(`${origin}/`, { waitUntil: 'load', timeout: 30_000 });
    if (!response?.ok()) throw new Error(`GET ${origin}/ answered ${response?.status()}`);
    await page.waitForFunction(() => 'tilevmBrowserLlm' in globalThis, null, { timeout: 60_000 });
    // Setup (matrices, compiles) takes seconds; the measured rounds stop at the budget.
    const limit = 180_000 + config.timing.warmupMs + 2 * config.timing.budgetMs;
    return await withTimeout(
      page.evaluate(
        (c) => (globalThis as unknown as { tilevmBrowserLlm: BrowserLlmApi }).tilevmBrowserLlm.run(c),
        config,
      ),
      limit,
      'the page bench',
    );
  } catch (e) {
    const detail = log.length > 0 ? `\npage console:\n  ${log.join('\n  ')}` : '';
    throw new Error(`${(e as Error).message}${detail}`, { cause: e });
  } finally {
    await browser.close().catch(() => {});
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/** Throws unless the variants agree and the relaxed ones ran what their names say. */
function check(
  result: BrowserLlmResult,
  config: BrowserLlmConfig,
  nodeOutputs: Readonly<Record<string, Float32Array>>,
): string[] {
  const lines: string[] = [];
  const y = (name: string) => {
    const v = nodeOutputs[name] ?? result.outputs[name];
    if (!v) throw new Error(`browser: no output for '${name}'`);
    return Float32Array.from(v);
  };
  const fail = (why: string): never => {
    throw new Error(`browser: ${why}`);
  };
  if (!result.crossOriginIsolated) fail('the page is not cross-origin isolated');
  // Relaxed SIMD: the engine validates it, the relaxed devices use it, and their int kernel is a
  // relaxed module; the nibble copy's has the relaxed dot, the other relaxed one's does not.
  if (!result.relaxedValidates) fail('this Chromium does not validate relaxed SIMD');
  for (const [name, d] of Object.entries(result.devices)) {
    const want = name.includes('relaxed');
    if (d.relaxedSimd !== want) fail(`'${name}' has relaxedSimd ${d.relaxedSimd}, expected ${want}`);
    const nibble = `${name}|1` === NAMES.nibble;
    if (d.nibbleDot !== nibble) fail(`'${name}' has relaxedSubbyte.enabled ${d.nibbleDot}`);
  }
  const dotOp = 'i16x8.relaxed_dot_i8x16_i7x16_s';
  const describe = (m: LaunchedModule) => {
    const ops = Object.entries(m.relaxedOps).map(([op, n]) => `${op} x${n}`);
    return `${m.kernel} [${m.features.join(', ')}]${ops.length > 0 ? ` ${ops.join(', ')}` : ''}`;
  };
  for (const name of [NAMES.base, NAMES.relaxed, NAMES.nibble]) {
    const ran = result.modules.filter((m) => `${m.variant}|1` === name);
    lines.push(`${name.split('|')[0]} ran: ${ran.map(describe).join('; ')}`);
    const m =
      ran.find((r) => r.kernel.startsWith('qmatmul_int')) ??
      fail(`no int8 kernel module recorded for '${name}'`);
    const dots = m.relaxedOps[dotOp] ?? 0;
    if (name === NAMES.base && ran.some((r) => r.features.includes('relaxed-simd'))) {
      fail('the baseline variant ran a relaxed module');
    }
    if (name === NAMES.nibble && !(m.features.includes('relaxed-simd') && dots > 0)) {
      fail(`the nibble variant's ${m.kernel} has no ${dotOp}`);
    }
    if (name === NAMES.relaxed && dots > 0) fail(`the no-nibble-dot relaxed variant has ${dotOp}`);
  }
  // Outputs: the int8 variants bit for bit, every variant against float64.
  const base = y(NAMES.base);
  // Node's runs of the same modules too: one engine's code must not compute something else.
  for (const name of [NAMES.relaxed, NAMES.nibble, ...Object.keys(nodeOutputs)]) {
    const other = y(name);
    const diff = other.findIndex((v, i) => !Object.is(v, base[i]));
    if (diff >= 0) fail(`${name} differs from ${NAMES.base} at y[${diff}]: ${other[diff]} vs ${base[diff]}`);
  }
  const x = randomF32(K, config.xSeed);
  const qm = randomMatrix({ weight: dt.u4, group: GROUP, scale: 'f16' }, N, K, config.matrixSeed);
  const errs: string[] = [];
  for (const [name, bound] of [
    [NAMES.base, INT8_BOUND],
    [NAMES.float, FLOAT_BOUND],
  ] as const) {
    const err = errorVsF64(qm, x, y(name));
    errs.push(`${name.split('|')[0]} ${err.toExponential(1)}`);
    if (!(err <= bound)) fail(`${name}: error ${err.toExponential(2)} against float64 exceeds ${bound}`);
  }
  if (config.f32Seed !== undefined) {
    const w = randomF32(64 * K, config.f32Seed);
    const ref = new Float64Array(64);
    for (let r = 0; r < 64; r++) for (let c = 0; c < K; c++) ref[r] += w[r * K + c]! * x[c]!;
    const err = relErr(y(NAMES.f32).subarray(0, 64), ref);
    errs.push(`f32 GEMV ${err.toExponential(1)}`);
    if (!(err <= FLOAT_BOUND)) fail(`${NAMES.f32}: error ${err.toExponential(2)} against float64`);
  }
  if (result.outputs[NAMES.ort]) {
    // MatMulNBits gets f32 copies of the f16 scales: the float path's bound.
    const err = errorVsF64(qm, x, y(NAMES.ort));
    errs.push(`onnxruntime-web ${err.toExponential(1)}`);
    if (!(err <= FLOAT_BOUND)) fail(`${NAMES.ort}: error ${err.toExponential(2)} against float64`);
  }
  lines.push(
    `int8 variants identical (in Chromium and Node); error vs float64 (64 rows): ${errs.join(', ')}`,
  );
  return lines;
}

export async function benchBrowserLlm(opts: BenchOptions): Promise<Row[]> {
  if (!existsSync(CHROMIUM)) {
    console.log(
      `  [skip] browser: no Chromium at ${CHROMIUM} (apt-get install chromium, or set TILEVM_CHROMIUM)`,
    );
    return [];
  }
  const config: BrowserLlmConfig = {
    n: N,
    k: K,
    group: GROUP,
    rotateBytes: 40 * 2 ** 20,
    // llm.ts's seeds: the same matrices and x as its g128 rows.
    matrixSeed: 100 * GROUP,
    xSeed: 11,
    f32Seed: 500,
    timing: opts.timing,
    sequence: GEMV_SEQUENCE,
    warm: GEMV_WARM,
    ort: { module: '/ort/ort.wasm.min.mjs', wasmPaths: '/ort/' },
  };
  const node = await nodeVariants(config);
  let result: BrowserLlmResult;
  const nodeOutputs: Record<string, Float32Array> = {};
  try {
    for (const v of node.variants) nodeOutputs[v.name] = await v.y();
    result = await runInChromium({ ...config, node: node.variants.map((v) => v.name) }, node.variants);
  } finally {
    node.destroy();
  }
  console.log(
    `  ${result.userAgent.match(/Chrome\/[\d.]+/)?.[0] ?? result.userAgent}, setup ${fmtMs(result.setupMs)} ms`,
  );
  if (result.ortError) console.log(`  [skip] onnxruntime-web in Chromium: ${result.ortError}`);
  for (const line of check(result, config, nodeOutputs)) console.log(`  check: ${line}`);
  // The engines side by side under the same load (the Node rows were timed between the page's).
  const median = (name: string) => result.timings.find((t) => t.name === name)?.median;
  for (const [chromium, nodeName] of [
    [NAMES.base, NAMES.nodeBase],
    [NAMES.nibble, NAMES.nodeRelaxed],
  ] as const) {
    const c = median(chromium);
    const nd = median(nodeName);
    if (c !== undefined && nd !== undefined) {
      console.log(`  ${chromium.split('|')[0]} / ${nodeName.split('|')[0]}: ${(c / nd).toFixed(2)}x`);
    }
  }
  // Weight bytes per second: u4 (plus nothing for scales, as llm.ts), or f32 for our f32 GEMV.
  const rate = (bytes: number, ms: number) => `${(bytes / ms / 1e6).toFixed(1)} GB/s`;
  return toRows(`GEMV u4 1x${K}x${N}, Chromium`, result.timings).map((r) => ({
    ...r,
    rate: rate(r.impl.startsWith('f32') ? 4 * N * K : (N * K) / 2, r.median),
  }));
}
