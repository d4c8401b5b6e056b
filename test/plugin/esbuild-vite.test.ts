// The example app (test/plugin/fixtures/app, four kernels, five const variants) built with the
// plugin by esbuild and by vite (production): the bundles hold precompiled kernels and no compiler,
// stay within the size budget, and run in Node on the WASM device (and WebGPU where there is an
// adapter) with the interpreter's results.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build as esbuild } from 'esbuild';
import { build as viteBuild } from 'vite';
import { beforeAll, describe, expect, it } from 'vitest';
import tilevmEsbuild from '../../plugin/esbuild.js';
import tilevmVite from '../../plugin/vite.js';
import { describeWebGpu } from '../helpers/webgpu.js';
import {
  APP_BUNDLE_BUDGET_BYTES,
  APP_ENTRY,
  appInputs,
  expectMatchesReference,
  expectNoCompiler,
  outDir,
  RUNTIME_ENTRY,
  reference,
} from './app-helpers.js';
import type { AppOutputs, runApp } from './fixtures/app/main.js';

type App = { runApp: typeof runApp };
const built: Record<'esbuild' | 'vite', { file: string; app: App; kernels: string[] }> = {} as never;

beforeAll(async () => {
  const esbuildOut = join(outDir('esbuild'), 'app.mjs');
  const esbuildKernels: string[] = [];
  const result = await esbuild({
    entryPoints: [APP_ENTRY],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    minify: true,
    outfile: esbuildOut,
    logLevel: 'silent',
    plugins: [tilevmEsbuild({ runtimeModule: RUNTIME_ENTRY, onKernel: (k) => esbuildKernels.push(k.name) })],
  });
  expect(result.errors).toEqual([]);
  expect(result.warnings).toEqual([]);

  const viteOut = outDir('vite');
  const viteKernels: string[] = [];
  await viteBuild({
    configFile: false,
    logLevel: 'silent',
    plugins: [tilevmVite({ runtimeModule: RUNTIME_ENTRY, onKernel: (k) => viteKernels.push(k.name) })],
    build: {
      outDir: viteOut,
      emptyOutDir: true,
      minify: true,
      lib: { entry: APP_ENTRY, formats: ['es'], fileName: () => 'app.mjs' },
      rollupOptions: { external: [/^node:/, 'webgpu'] },
    },
  });
  const viteFile = join(viteOut, 'app.mjs');
  built.esbuild = {
    file: esbuildOut,
    app: await import(pathToFileURL(esbuildOut).href),
    kernels: esbuildKernels,
  };
  built.vite = { file: viteFile, app: await import(pathToFileURL(viteFile).href), kernels: viteKernels };
}, 300_000);

describe.each(['esbuild', 'vite'] as const)('the example app built by %s', (bundler) => {
  it('precompiles every kernel and ships no parser, compiler or binaryen', () => {
    expect(built[bundler].kernels.sort()).toEqual(['dequant_u4', 'row_sum', 'scale_act', 'vector_add']);
    const text = readFileSync(built[bundler].file, 'utf8');
    expectNoCompiler(text);
    expect(text).toContain('tilevm-precompiled');
    expect(statSync(built[bundler].file).size).toBeLessThanOrEqual(APP_BUNDLE_BUDGET_BYTES);
  });

  it('runs on the WASM device with the interpreter results', async () => {
    const input = appInputs(bundler === 'esbuild' ? 11 : 12);
    const got: AppOutputs = await built[bundler].app.runApp('wasm', input);
    expectMatchesReference(got, reference(input));
  });
});

describeWebGpu('the example app on WebGPU', () => {
  it.each(['esbuild', 'vite'] as const)('built by %s matches the interpreter', async (bundler) => {
    const input = appInputs(bundler === 'esbuild' ? 21 : 22);
    const got = await built[bundler].app.runApp('webgpu', input);
    expectMatchesReference(got, reference(input));
  });
});
