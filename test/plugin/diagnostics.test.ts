// Build-time diagnostics: a kernel error fails the build at the .ts file's line:column of the
// offending token (in a kernel and inside a device function), in esbuild's native `errors` with a
// `location`, in rollup's with `loc` and `id`, and in webpack's module errors (position in the
// message); non-static kernels stay JIT with a warning (an error with `strict`); a local function
// named `kernel` is not touched.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { rollup } from 'rollup';
import { describe, expect, it } from 'vitest';
import webpack from 'webpack';
import { KernelTransformer } from '../../plugin/core/transform.js';
import tilevmEsbuild from '../../plugin/esbuild.js';
import tilevmRollup from '../../plugin/rollup.js';
import tilevmWebpack from '../../plugin/webpack.js';
import { outDir, ROOT, RUNTIME_ENTRY } from './app-helpers.js';

const fixture = (name: string) => join(ROOT, 'test/plugin/fixtures', name);

/** 1-based line and column of the first occurrence of `token` in a file. */
function positionOf(file: string, token: string): { line: number; column: number } {
  const text = readFileSync(file, 'utf8');
  const at = text.indexOf(token);
  expect(at, `'${token}' in ${file}`).toBeGreaterThan(0);
  const before = text.slice(0, at).split('\n');
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

function transform(name: string, options = {}) {
  const file = fixture(name);
  return new KernelTransformer({ runtimeModule: RUNTIME_ENTRY, ...options }).transform(
    file,
    readFileSync(file, 'utf8'),
  );
}

describe('kernel errors', () => {
  it('point at the offending token of a kernel', () => {
    const result = transform('errors/bad-kernel.ts');
    expect(result.kernels).toEqual([]);
    expect(result.errors).toHaveLength(1);
    const [e] = result.errors;
    expect(e.code).toBe('TV2005');
    expect({ line: e.line, column: e.column }).toEqual(positionOf(fixture('errors/bad-kernel.ts'), 't * 2'));
    expect(e.file).toBe(fixture('errors/bad-kernel.ts'));
  });

  it('point into a device function, after an interpolation', () => {
    const result = transform('errors/bad-fn.ts');
    const e = result.errors.find((d) => d.code === 'TV2001');
    expect(e, JSON.stringify(result.errors)).toBeDefined();
    expect({ line: e?.line, column: e?.column }).toEqual(
      positionOf(fixture('errors/bad-fn.ts'), 'undefinedName'),
    );
  });

  it('fail an esbuild build with errors that carry a location', async () => {
    const failure = await build({
      entryPoints: [fixture('errors/bad-kernel.ts')],
      bundle: true,
      write: false,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      logLevel: 'silent',
      plugins: [tilevmEsbuild({ runtimeModule: RUNTIME_ENTRY })],
    }).then(
      () => undefined,
      (e: { errors: { text: string; location: { file: string; line: number; column: number } | null }[] }) =>
        e,
    );
    expect(failure).toBeDefined();
    const [error] = failure?.errors ?? [];
    const want = positionOf(fixture('errors/bad-kernel.ts'), 't * 2');
    expect(error.text).toContain(`bad-kernel.ts:${want.line}:${want.column} TV2005 error:`);
    expect(error.location?.file).toContain('bad-kernel.ts');
    // esbuild counts columns from 0.
    expect({ line: error.location?.line, column: (error.location?.column ?? -2) + 1 }).toEqual(want);
  });
  it('fail a rollup build with an error that carries loc and id', async () => {
    const failure = await rollup({
      input: fixture('errors/bad-kernel.ts'),
      plugins: [tilevmRollup({ runtimeModule: RUNTIME_ENTRY })],
      external: () => true,
    }).then(
      () => undefined,
      (e: { id?: string; loc?: { line: number; column: number }; message: string }) => e,
    );
    const want = positionOf(fixture('errors/bad-kernel.ts'), 't * 2');
    expect(failure?.message).toContain('TV2005');
    expect(failure?.id).toBe(fixture('errors/bad-kernel.ts'));
    // rollup counts columns from 0.
    expect({ line: failure?.loc?.line, column: (failure?.loc?.column ?? -2) + 1 }).toEqual(want);
  });

  it("fail a webpack build with a module error that names the file's line:column", async () => {
    const entry = fixture('errors/bad-kernel.ts');
    const compiler = webpack({
      mode: 'development',
      devtool: false,
      target: 'node',
      context: ROOT,
      entry,
      output: { path: outDir('diagnostics-webpack'), filename: 'bad.js' },
      resolve: { extensionAlias: { '.js': ['.ts', '.js'] } },
      module: { rules: [{ test: /\.ts$/, use: [join(ROOT, 'test/plugin/fixtures/esbuild-ts-loader.cjs')] }] },
      // Only the failing module matters: the compiler it imports is not bundled.
      externalsType: 'commonjs',
      externals: [/\/dsl\//],
      plugins: [tilevmWebpack({ runtimeModule: RUNTIME_ENTRY })],
    });
    const stats = await new Promise<webpack.Stats>((done, fail) =>
      compiler.run((err, s) => (err || !s ? fail(err ?? new Error('no stats')) : done(s))),
    );
    await new Promise((done) => compiler.close(done));
    expect(stats.hasErrors()).toBe(true);
    const errors = stats.toJson({ all: false, errors: true, moduleTrace: false }).errors ?? [];
    const error = errors.find((e) => e.message.includes('TV2005'));
    expect(error, JSON.stringify(errors)).toBeDefined();
    // webpack's ModuleError keeps only the message, so the position travels in its text.
    const want = positionOf(entry, 't * 2');
    expect(error?.moduleName).toBe('./test/plugin/fixtures/errors/bad-kernel.ts');
    expect(error?.message).toContain(
      `test/plugin/fixtures/errors/bad-kernel.ts:${want.line}:${want.column} TV2005 error:`,
    );
    expect(error?.message).toContain('store(y, [i],   t * 2);');
  });
});

describe('kernels that are not static', () => {
  it('stay JIT with a warning naming the reason and place; static ones are precompiled', () => {
    const result = transform('jit/mixed.ts');
    expect(result.errors).toEqual([]);
    expect(result.kernels.map((k) => k.name)).toEqual(['static_one']);
    expect(result.warnings).toHaveLength(1);
    const [w] = result.warnings;
    expect(w.code).toBe('TVP001');
    expect(w.message).toContain("'dtype' is a function parameter");
    expect(w.message).toContain("kernel 'scaled'");
    expect({ line: w.line, column: w.column }).toEqual(positionOf(fixture('jit/mixed.ts'), 'dtype, ['));
    // The JIT kernel and the local `kernel` function are left as written.
    expect(result.code).toContain('return tilevmKernel({');
    expect(result.code).toContain("kernel({ name: 'local' })`not a tilevm kernel`");
    expect(result.code).toContain('__tilevm_precompiled({"format":"tilevm-precompiled"');
  });

  it('are errors with strict: true', () => {
    const result = transform('jit/mixed.ts', { strict: true });
    expect(result.errors.map((e) => e.code)).toEqual(['TVP001']);
    expect(result.errors[0].severity).toBe('error');
  });
});
