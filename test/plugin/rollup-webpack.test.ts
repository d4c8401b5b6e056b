// The same example app built by rollup and by webpack with the plugin: both builds succeed, hold
// no compiler, and run in Node on the WASM device with the interpreter's results. (Neither bundler
// reads TypeScript by itself: a small esbuild step after the plugin strips the types.)
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { transform } from 'esbuild';
import { rollup } from 'rollup';
import { beforeAll, describe, expect, it } from 'vitest';
import webpack from 'webpack';
import tilevmRollup from '../../plugin/rollup.js';
import tilevmWebpack from '../../plugin/webpack.js';
import {
  APP_ENTRY,
  appInputs,
  expectMatchesReference,
  expectNoCompiler,
  outDir,
  ROOT,
  RUNTIME_ENTRY,
  reference,
} from './app-helpers.js';
import type { runApp } from './fixtures/app/main.js';

type App = { runApp: typeof runApp };
const built: Partial<Record<'rollup' | 'webpack', { file: string; app: App }>> = {};

async function buildRollup(): Promise<string> {
  const typescript = {
    name: 'typescript',
    resolveId(source: string, importer: string | undefined) {
      if (importer && source.startsWith('.') && source.endsWith('.js')) {
        const ts = resolve(dirname(importer), source.replace(/\.js$/, '.ts'));
        if (existsSync(ts)) return ts;
      }
      return source.startsWith('/') && existsSync(source) ? source : null;
    },
    async transform(code: string, id: string) {
      if (!id.endsWith('.ts')) return null;
      const r = await transform(code, { loader: 'ts', sourcemap: true, sourcefile: id });
      return { code: r.code, map: r.map };
    },
  };
  const bundle = await rollup({
    input: APP_ENTRY,
    plugins: [tilevmRollup({ runtimeModule: RUNTIME_ENTRY }), typescript],
    external: [/^node:/, 'webgpu'],
    onwarn: (w) => {
      throw new Error(`rollup warning: ${w.message}`);
    },
  });
  const file = join(outDir('rollup'), 'app.mjs');
  await bundle.write({ file, format: 'es' });
  await bundle.close();
  return file;
}

async function buildWebpack(): Promise<string> {
  const out = outDir('webpack');
  const compiler = webpack({
    mode: 'production',
    target: 'node',
    entry: APP_ENTRY,
    output: { path: out, filename: 'app.mjs', module: true, library: { type: 'module' } },
    experiments: { outputModule: true },
    resolve: { extensionAlias: { '.js': ['.ts', '.js'] } },
    module: { rules: [{ test: /\.ts$/, use: [join(ROOT, 'test/plugin/fixtures/esbuild-ts-loader.cjs')] }] },
    externalsType: 'module',
    externals: [{ webgpu: 'webgpu' }, /^node:/],
    plugins: [tilevmWebpack({ runtimeModule: RUNTIME_ENTRY })],
  });
  const stats = await new Promise<webpack.Stats>((done, fail) =>
    compiler.run((err, s) => (err || !s ? fail(err ?? new Error('no stats')) : done(s))),
  );
  await new Promise((done) => compiler.close(done));
  const info = stats.toJson({ all: false, errors: true, warnings: true });
  expect(info.errors ?? []).toEqual([]);
  return join(out, 'app.mjs');
}

beforeAll(async () => {
  for (const [name, build] of [
    ['rollup', buildRollup],
    ['webpack', buildWebpack],
  ] as const) {
    const file = await build();
    built[name] = { file, app: await import(pathToFileURL(file).href) };
  }
}, 300_000);

describe.each(['rollup', 'webpack'] as const)('the example app built by %s', (bundler) => {
  it('holds no compiler and runs on the WASM device with the interpreter results', async () => {
    const b = built[bundler];
    expect(b).toBeDefined();
    expectNoCompiler(readFileSync(b?.file ?? '', 'utf8'));
    const input = appInputs(bundler === 'rollup' ? 31 : 32);
    expectMatchesReference(await (b as { app: App }).app.runApp('wasm', input), reference(input));
  });
});
