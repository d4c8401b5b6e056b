// The example app built by vite (production, for the browser) with the plugin runs in headless
// Chromium (playwright-core) on WebGPU (SwiftShader) with the interpreter's results, from a bundle
// with no compiler inside. Chromium is /usr/bin/chromium or $TILEVM_CHROMIUM; without it the suite
// is skipped with a notice, except under CI.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { build as viteBuild } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tilevmVite from '../../plugin/vite.js';
import {
  appInputs,
  expectMatchesReference,
  expectNoCompiler,
  outDir,
  ROOT,
  RUNTIME_ENTRY,
  reference,
} from './app-helpers.js';
import type { AppInputs, AppOutputs, runApp } from './fixtures/app/main.js';

const CHROMIUM = process.env.TILEVM_CHROMIUM ?? '/usr/bin/chromium';
// Skipped only outside CI on a machine without Chromium (a plain `npm install` does not bring it);
// under CI=true it always runs, and a missing browser fails it (.ci/run installs chromium).
const run = existsSync(CHROMIUM) || Boolean(process.env.CI);
if (!run)
  console.warn(`test/plugin/vite-browser: skipped, no Chromium at ${CHROMIUM} (apt-get install chromium)`);

const HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

let script = '';
let server: Server | undefined;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!run) return;
  const out = outDir('vite-browser');
  await viteBuild({
    configFile: false,
    logLevel: 'silent',
    plugins: [tilevmVite({ runtimeModule: RUNTIME_ENTRY })],
    build: {
      outDir: out,
      emptyOutDir: true,
      minify: true,
      target: 'es2022',
      lib: {
        entry: join(ROOT, 'test/plugin/fixtures/app/browser-entry.ts'),
        formats: ['es'],
        fileName: () => 'app.js',
      },
      // Node-only paths of the runtime (the `webgpu` package, worker_threads) never run in a page.
      rollupOptions: { external: [/^node:/, 'webgpu'] },
    },
  });
  script = readFileSync(join(out, 'app.js'), 'utf8');
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === '/app.js') {
      res.writeHead(200, { ...HEADERS, 'Content-Type': 'text/javascript; charset=utf-8' });
      res.end(script);
    } else if (path === '/') {
      res.writeHead(200, { ...HEADERS, 'Content-Type': 'text/html; charset=utf-8' });
      res.end('<!doctype html><meta charset="utf-8"><script type="module" src="/app.js"></script>');
    } else {
      res.writeHead(404, HEADERS);
      res.end();
    }
  });
  await new Promise<void>((done) => server?.listen(0, '127.0.0.1', done));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--enable-unsafe-webgpu',
      '--enable-features=Vulkan',
      '--use-vulkan=swiftshader',
      '--use-webgpu-adapter=swiftshader',
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu-sandbox',
      '--no-first-run',
    ],
    timeout: 30_000,
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await new Promise((done) => (server ? server.close(done) : done(undefined)));
});

describe.skipIf(!run)('the vite-built example app in Chromium', () => {
  it('ships no compiler and matches the interpreter on WebGPU', async () => {
    expectNoCompiler(script);
    const page = await (browser as Browser).newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    const address = (server as Server).address() as AddressInfo;
    await page.goto(`http://127.0.0.1:${address.port}/`, { waitUntil: 'load' });
    await page.waitForFunction(() => 'tilevmApp' in globalThis, null, { timeout: 15_000 });
    const input = appInputs(51);
    const got = await page.evaluate(
      (i: AppInputs) =>
        (globalThis as unknown as { tilevmApp: { runApp: typeof runApp } }).tilevmApp.runApp('webgpu', i),
      input,
    );
    expect(errors).toEqual([]);
    expectMatchesReference(got as AppOutputs, reference(input));
  });
});
