// The runtime in a real browser: esbuild bundles test/browser/page-entry.ts (which imports only
// runtime/index.ts) for the browser, a local http server serves it cross-origin isolated, and
// headless Chromium (playwright-core) runs WGSL artifacts through navigator.gpu on SwiftShader,
// Chromium's CPU Vulkan driver. Results come back through page.evaluate and are checked against
// references computed here in Node. Hand-written artifacts need nothing from the compiler; the
// compiled cases build real kernels (test/lang/kernels) with compileWgsl in Node and ship them to
// the page as JSON, as an app would.
//
// Chromium is /usr/bin/chromium (Debian: apt-get install chromium) or $TILEVM_CHROMIUM. Without it
// the suite is skipped, except under CI, where a missing browser or adapter fails.
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { compileWgsl } from '../../dsl/backend/wgsl/index.js';
import { dtypeByName, f16, f32, i3, Tensor, u4, u32, type WgslArtifact } from '../../runtime/index.js';
import { CHROMIUM, HTML_TYPE, JS_TYPE, serveIsolated, withTimeout } from '../helpers/isolated-server.js';
import { randomInt, rng } from '../helpers/random.js';
import {
  axpb,
  COORDS,
  GRID_FIELDS,
  handWrittenArtifact,
  U4_INC,
  UNFOLD,
  uniformStruct,
} from '../helpers/wgsl-artifacts.js';
import { gemv } from '../lang/kernels/gemv.js';
import { softmax } from '../lang/kernels/softmax.js';
import type { Job, PageApi, PageInfo, TensorData } from './page-entry.js';

const CI = Boolean(process.env.CI);
const ENTRY = fileURLToPath(new URL('./page-entry.ts', import.meta.url));

/**
 * Chromium flags for WebGPU on SwiftShader, headless. Only --enable-unsafe-webgpu is required on
 * Linux without a GPU (Chromium 156 then finds SwiftShader by itself; playwright adds --no-sandbox,
 * which running as root needs); the Vulkan/SwiftShader flags pin the adapter to SwiftShader on
 * machines with a GPU too, and the rest keep the browser quiet and offline.
 */
const CHROMIUM_FLAGS: readonly string[] = [
  '--enable-unsafe-webgpu',
  '--enable-features=Vulkan',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const LAUNCH_TIMEOUT_MS = 30_000;
const PAGE_TIMEOUT_MS = 15_000;
const EVALUATE_TIMEOUT_MS = 20_000;
const SETUP_TIMEOUT_MS = 55_000;

// Skipped only outside CI on a machine without Chromium (a plain `npm install` does not bring it);
// under CI=true it always runs, and a missing browser fails it (.ci/run installs chromium).
const haveBrowser = existsSync(CHROMIUM);
if (!haveBrowser && !CI) {
  console.warn(
    `test/browser: skipped, no Chromium at ${CHROMIUM} (apt-get install chromium, or set TILEVM_CHROMIUM)`,
  );
}

// ---------------------------------------------------------------------------------------------
// Node side: bundle, server, browser.

interface Bundle {
  readonly code: string;
  readonly inputs: readonly string[];
  /** Imports the output file still makes (a self-contained bundle makes none). */
  readonly imports: readonly string[];
  readonly warnings: readonly string[];
}

async function bundlePage(): Promise<Bundle> {
  const result = await build({
    entryPoints: [ENTRY],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
    outfile: 'page-entry.js',
  });
  const outputs = Object.values(result.metafile.outputs);
  return {
    code: result.outputFiles[0].text,
    inputs: Object.keys(result.metafile.inputs),
    imports: outputs.flatMap((o) => o.imports.map((i) => i.path)),
    warnings: result.warnings.map((w) => w.text),
  };
}

const HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>tilevm browser test</title></head>
<body><script type="module" src="/page-entry.js"></script></body></html>`;

function serve(script: string): Promise<Server> {
  return serveIsolated((path) => {
    if (path === '/' || path === '/index.html') return { type: HTML_TYPE, body: HTML };
    if (path === '/page-entry.js') return { type: JS_TYPE, body: script };
    return undefined;
  });
}

let bundle: Bundle;
let server: Server | undefined;
let browser: Browser | undefined;
let page: Page;
let info: PageInfo;
let origin = '';
/** The page's console errors and warnings, uncaught errors and crashes, printed on failure. */
const pageLog: string[] = [];
const timings: Record<string, number> = {};

async function timed<T>(name: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  try {
    return await f();
  } finally {
    timings[name] = Math.round(performance.now() - t0);
  }
}

function logText(): string {
  return pageLog.length > 0 ? `page console:\n  ${pageLog.join('\n  ')}` : 'page console: (no errors)';
}

function printLog(): void {
  console.error(`test/browser: ${logText()}`);
}

/** A page.evaluate call with a deadline, failing with the page's console log. */
async function evaluate<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await withTimeout(run(), EVALUATE_TIMEOUT_MS, what);
  } catch (e) {
    throw new Error(`${what} failed in the browser: ${(e as Error).message}\n${logText()}`, { cause: e });
  }
}

/** What page-entry.ts puts on the page's globalThis (page.evaluate callbacks run there, not here). */
type PageGlobal = { tilevmPage: PageApi };

async function setUp(): Promise<void> {
  bundle = await timed('bundle', bundlePage);
  server = await serve(bundle.code);
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM} (CI=${process.env.CI}): apt-get install chromium, or set TILEVM_CHROMIUM`,
    );
  }
  browser = await timed('launch', () =>
    chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_FLAGS], timeout: LAUNCH_TIMEOUT_MS }),
  );
  browser.on('disconnected', () => pageLog.push('[browser] disconnected'));
  page = await browser.newPage();
  page.setDefaultTimeout(PAGE_TIMEOUT_MS);
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') pageLog.push(`[${m.type()}] ${m.text()}`);
  });
  page.on('pageerror', (e) => pageLog.push(`[pageerror] ${e.stack ?? e.message}`));
  page.on('crash', () => pageLog.push('[crash] the page crashed'));
  page.on('requestfailed', (r) => pageLog.push(`[requestfailed] ${r.url()}: ${r.failure()?.errorText}`));
  await timed('page', async () => {
    const response = await page.goto(`${origin}/`, { waitUntil: 'load' });
    if (!response?.ok()) throw new Error(`GET ${origin}/ answered ${response?.status()}`);
    await page.waitForFunction(() => 'tilevmPage' in globalThis, null, { timeout: PAGE_TIMEOUT_MS });
  });
  info = await timed('adapter', () =>
    evaluate('tilevmPage.init()', () =>
      page.evaluate(() => (globalThis as unknown as PageGlobal).tilevmPage.init()),
    ),
  );
}

async function tearDown(): Promise<void> {
  if (browser?.isConnected()) {
    await withTimeout(
      page.evaluate(() => (globalThis as unknown as PageGlobal).tilevmPage.dispose()),
      5_000,
      'tilevmPage.dispose()',
    ).catch(() => {});
  }
  await withTimeout(browser?.close() ?? Promise.resolve(), 10_000, 'browser.close()').catch((e) =>
    console.error(`test/browser: ${(e as Error).message}`),
  );
  if (server) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server!.close(() => resolve()));
  }
  const summary = Object.entries(timings).map(([k, v]) => `${k} ${v} ms`);
  if (summary.length > 0) console.log(`test/browser timings: ${summary.join(', ')}`);
}

// ---------------------------------------------------------------------------------------------
// Jobs and references.

function tensorData(t: Tensor): TensorData {
  return { dtype: t.dtype.name, shape: t.shape, base64: Buffer.from(t.data).toString('base64') };
}

function hostTensor(d: TensorData): Tensor {
  const dtype = dtypeByName(d.dtype);
  if (!dtype) throw new TypeError(`unknown dtype '${d.dtype}' from the page`);
  return Tensor.fromBytes(dtype, d.shape, Buffer.from(d.base64, 'base64'));
}

/** Runs a job in the page; the tensors it read back, as host tensors. */
async function runJob(job: {
  tensors: Record<string, Tensor>;
  launches: { artifact: WgslArtifact; args: Record<string, string | number> }[];
  read: string[];
}): Promise<Record<string, Tensor>> {
  const spec: Job = {
    tensors: Object.fromEntries(Object.entries(job.tensors).map(([k, t]) => [k, tensorData(t)])),
    launches: job.launches.map((l) => ({ artifact: JSON.stringify(l.artifact), args: l.args })),
    read: job.read,
  };
  const names = job.launches.map((l) => l.artifact.kernel).join(', ') || 'round trip';
  const out = await timed(names, () =>
    evaluate(`job (${names})`, () =>
      page.evaluate((s) => (globalThis as unknown as PageGlobal).tilevmPage.run(s), spec),
    ),
  );
  return Object.fromEntries(Object.entries(out).map(([k, d]) => [k, hostTensor(d)]));
}

function randomPatterns(dtype: Tensor['dtype'], shape: number[], seed: number): Tensor {
  const r = rng(seed);
  const t = Tensor.zeros(dtype, shape);
  for (let i = 0; i < t.size; i++) t.setPattern(i, randomInt(r, 0, 2 ** dtype.bits - 1));
  return t;
}

function uniformF32(seed: number, n: number, lo: number, hi: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * r()));
}

/** |got - want| <= tol at every index (NaN fails); the first few failures. */
function closeFailures(
  got: readonly number[],
  want: readonly number[],
  tol: (i: number) => number,
): string[] {
  const failures: string[] = [];
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length && failures.length < 5; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol(i))) failures.push(`[${i}]: got ${got[i]}, want ${want[i]}`);
  }
  return failures;
}

// Hand-written artifacts (test/helpers/wgsl-artifacts.ts, shared with test/runtime/webgpu-device.test.ts).

const AXPB = axpb();

const DEQUANT_UNIFORMS: WgslArtifact['uniforms'] = [
  { name: 'N', source: 'symbol', type: 'u32' },
  { name: 'zero', source: 'scalar', type: 'i32' },
  { name: 'scale', source: 'scalar', type: 'f32' },
  ...GRID_FIELDS,
];

/** y[i] = (w[i] - zero) * scale: u4 weights, packed eight to a word, dequantized to f32. */
const U4_DEQUANT = handWrittenArtifact({
  kernel: 'u4_dequant',
  threads: 64,
  params: [
    { kind: 'global', name: 'w', dtype: 'u4', shape: ['N'], access: 'read', binding: 0 },
    { kind: 'global', name: 'y', dtype: 'f32', shape: ['N'], access: 'write', binding: 1 },
    { kind: 'scalar', name: 'zero', dtype: 'i32' },
    { kind: 'scalar', name: 'scale', dtype: 'f32' },
  ],
  grid: ['cdiv(N, 64)'],
  uniforms: DEQUANT_UNIFORMS,
  uniformBinding: 2,
  wgsl: `${uniformStruct(DEQUANT_UNIFORMS)}
@group(0) @binding(0) var<storage, read> w: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> u: Uniforms;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {${UNFOLD}
  let i = bx * 64u + lid;
  if (i >= u.N) { return; }
  let q = i32((w[i / 8u] >> (4u * (i % 8u))) & 15u);
  y[i] = f32(q - u.zero) * u.scale;
}`,
});

// ---------------------------------------------------------------------------------------------

describe.skipIf(!haveBrowser && !CI)('the runtime in headless Chromium (WebGPU on SwiftShader)', () => {
  beforeAll(async () => {
    try {
      await setUp();
    } catch (e) {
      throw new Error(
        `browser setup failed (CI=${process.env.CI ?? ''}; Chromium ${CHROMIUM}, flags ${CHROMIUM_FLAGS.join(' ')}): ` +
          `${(e as Error).message}${(e as Error).message.includes('page console:') ? '' : `\n${logText()}`}`,
        { cause: e },
      );
    }
  }, SETUP_TIMEOUT_MS);

  afterAll(tearDown, 20_000);

  beforeEach(({ onTestFailed }) => {
    onTestFailed(printLog);
  });

  it('bundles the runtime for the browser without the webgpu package or the compiler', () => {
    expect(bundle.warnings).toEqual([]);
    expect(bundle.imports).toEqual([]); // self-contained: nothing left for the page to import
    expect(bundle.inputs).toContain('runtime/index.ts');
    const foreign = bundle.inputs.filter(
      (p) =>
        p.includes('node_modules') || /^dsl\/(lang|backend|interp)\//.test(p) || p.startsWith('test/lang'),
    );
    expect(foreign).toEqual([]);
    expect(bundle.code).not.toMatch(/dawn\.node|node_modules|require\(|from\s*["']webgpu["']/);
    expect(bundle.code.length).toBeLessThan(200_000);
  });

  it('runs in a cross-origin isolated page on a WebGPU adapter', () => {
    expect(info.href).toBe(`${origin}/`);
    expect(info.crossOriginIsolated).toBe(true);
    expect(info.secureContext).toBe(true); // 127.0.0.1 is potentially trustworthy
    expect(info.hasProcess).toBe(false); // the runtime took its navigator.gpu path
    expect(info.userAgent).toMatch(/Chrome\/\d+/);
    expect(info.adapter.architecture).toBe('swiftshader');
    expect(info.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
  });

  it('round trips low-bit tensors bit-exactly', async () => {
    const hosts = {
      a: randomPatterns(u4, [77], 1),
      b: randomPatterns(i3, [5, 13], 2),
      c: randomPatterns(f16, [9], 3),
    };
    const back = await runJob({ tensors: hosts, launches: [], read: ['a', 'b', 'c'] });
    for (const [k, t] of Object.entries(hosts)) {
      expect(back[k].dtype, k).toBe(t.dtype);
      expect(back[k].shape, k).toEqual(t.shape);
      expect(back[k].data, k).toEqual(t.data);
    }
  });

  it('runs hand-written artifacts: f32 with scalars, u4 in and out, chained launches, a folded grid', async () => {
    const n = 1000;
    const xs = Array.from({ length: n }, (_, i) => i * 0.25 - 100);
    const w = randomPatterns(u4, [333], 4);
    const [A, B, C] = [50, 40, 35]; // 70000 blocks: more than one dispatch dimension holds
    const out = await runJob({
      tensors: {
        x: Tensor.fromArray(f32, [n], xs),
        y: Tensor.zeros(f32, [n]),
        w,
        wf: Tensor.zeros(f32, [333]),
        w1: Tensor.zeros(u4, [333]),
        w2: Tensor.zeros(u4, [333]),
        coords: Tensor.zeros(u32, [C, B, A]),
      },
      launches: [
        { artifact: AXPB, args: { x: 'x', y: 'y', alpha: 1.5, bias: -2 } },
        { artifact: U4_DEQUANT, args: { w: 'w', y: 'wf', zero: 8, scale: 0.125 } },
        { artifact: U4_INC, args: { x: 'w', y: 'w1' } },
        { artifact: U4_INC, args: { x: 'w1', y: 'w2' } }, // reads what the launch before wrote
        { artifact: COORDS, args: { out: 'coords' } },
      ],
      read: ['y', 'wf', 'w2', 'coords'],
    });
    expect(out.y.toArray()).toEqual(xs.map((v) => Math.fround(Math.fround(v * 1.5) - 2)));
    const q = w.toArray();
    expect(new Set(q).size).toBe(16);
    expect(out.wf.toArray()).toEqual(q.map((v) => (v - 8) * 0.125));
    expect(out.w2.dtype).toBe(u4);
    expect(out.w2.toArray()).toEqual(q.map((v) => (v + 2) % 16));
    const coords = out.coords.toArray();
    let bad = 0;
    for (let z = 0; z < C; z++)
      for (let y = 0; y < B; y++)
        for (let x = 0; x < A; x++) if (coords[(z * B + y) * A + x] !== x + 100 * y + 10000 * z) bad++;
    expect(bad).toBe(0);
  });

  describe('kernels compiled in Node by compileWgsl, shipped to the page as JSON', () => {
    /** A kernel's artifact after a JSON round trip, which must lose nothing. */
    function shipped(program: Parameters<typeof compileWgsl>[0]): WgslArtifact {
      const a = compileWgsl(program, { features: new Set(info.features) });
      const json = JSON.stringify(a);
      expect(JSON.parse(json)).toEqual(a);
      return a;
    }

    it('u4 GEMV with f16 group scales and zero point 8 (test/lang/kernels/gemv.ts)', async () => {
      const [N, K, group, zero] = [21, 300, 32, 8]; // edge tiles in N and K, K ends mid-group
      const k = gemv(u4, group, zero);
      const artifact = await timed('compile gemv', async () => shipped(k.compile().program));
      const G = Math.ceil(K / group);
      const w = randomPatterns(u4, [N, K], 5);
      const s = Tensor.fromArray(
        f16,
        [N, G],
        uniformF32(6, N * G, 0.01, 0.2).map((v, i) => (i % 3 === 0 ? -v : v)),
      );
      const xv = uniformF32(7, K, -1, 1);
      const x = Tensor.fromArray(f32, [K], xv);
      const y = Tensor.zeros(f32, [N]).fill(Number.NaN);
      const out = await runJob({
        tensors: { x, w, s, y },
        launches: [{ artifact, args: { x: 'x', w: 'w', s: 's', y: 'y' } }],
        read: ['y'],
      });
      const got = out.y.toArray();
      // The reference interpreter, in Node: the staged reduction reproduces its sums bit for bit;
      // the subgroup reduction (chosen when the page's device has 'subgroups') reassociates the
      // f32 sum, which the float64 bound below covers.
      const ref = y.clone();
      k.interpret({ x, w, s, y: ref });
      if (!artifact.features.includes('subgroups')) expect(got).toEqual(ref.toArray());
      // And a float64 loop, within the rounding bound test/lang/kernels.test.ts derives.
      const [wv, sv] = [w.toArray(), s.toArray()];
      const want: number[] = [];
      const abs: number[] = [];
      for (let n = 0; n < N; n++) {
        let sum = 0;
        let mag = 0;
        for (let kk = 0; kk < K; kk++) {
          const term = (wv[n * K + kk] - zero) * sv[n * G + Math.floor(kk / group)] * xv[kk];
          sum += term;
          mag += Math.abs(term);
        }
        want.push(sum);
        abs.push(mag);
      }
      expect(closeFailures(got, want, (n) => (Math.ceil(K / 128) + 130) * 2 ** -24 * abs[n])).toEqual([]);
    });

    it('row softmax (test/lang/kernels/softmax.ts)', async () => {
      const [M, N] = [13, 50]; // 4-row blocks, the last one partial; 64-wide rows, 14 lanes masked
      const artifact = await timed('compile softmax', async () => shipped(softmax.compile().program));
      const xv = uniformF32(8, M * N, -4, 4);
      const x = Tensor.fromArray(f32, [M, N], xv);
      const out = await runJob({
        tensors: { x, y: Tensor.zeros(f32, [M, N]).fill(Number.NaN) },
        launches: [{ artifact, args: { x: 'x', y: 'y' } }],
        read: ['y'],
      });
      const got = out.y.toArray();
      const want: number[] = [];
      for (let m = 0; m < M; m++) {
        const row = xv.slice(m * N, (m + 1) * N);
        const mx = Math.max(...row);
        const e = row.map((v) => Math.exp(v - mx));
        const sum = e.reduce((p, v) => p + v, 0);
        want.push(...e.map((v) => v / sum));
      }
      // kernels.test.ts allows (N + 12) u relative for a correctly rounded exp; WGSL's f32 exp may be
      // off by 3 + 2|x| ulp, |x| <= 8 here, so 20 u more.
      expect(closeFailures(got, want, (i) => (N + 32) * 2 ** -24 * want[i])).toEqual([]);
    });
  });
});
