// Shared by the plugin suites: the example app's inputs, its interpreter reference (the kernels
// run unbundled, JIT, on the interpreter), the comparison, and the "no compiler" check of a bundle.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { f16, f32, i32, Tensor, u4 } from '../../dsl/index.js';
import { randomInt, rng } from '../helpers/random.js';
import { dequant, rowSum, scaleAct, vectorAdd } from './fixtures/app/kernels.js';
import type { AppInputs, AppOutputs } from './fixtures/app/main.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const APP_ENTRY = join(ROOT, 'test/plugin/fixtures/app/main.ts');
export const RUNTIME_ENTRY = join(ROOT, 'runtime/index.ts');

/** A fresh output folder under test/.generated (git-ignored). */
export function outDir(name: string): string {
  const dir = join(ROOT, 'test/.generated/plugin', name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Sizes that leave partial last tiles: n is not a multiple of 64 or 128, m not of 2 or 4. */
export function appInputs(seed: number): AppInputs {
  const r = rng(seed);
  const n = 300;
  const m = 7;
  const cols = 50;
  return {
    n,
    a: Array.from({ length: n }, () => (r() - 0.5) * 20),
    b: Array.from({ length: n }, () => (r() - 0.5) * 20),
    m,
    cols,
    rows: Array.from({ length: m * cols }, () => randomInt(r, -1000, 1000)),
    q: Array.from({ length: n }, () => randomInt(r, 0, 15)),
    scale: 0.25 + r(),
  };
}

/** The app's outputs computed by the reference interpreter from the unbundled kernels. */
export function reference(input: AppInputs): Omit<AppOutputs, 'kernels'> {
  const a = Tensor.fromArray(f32, [input.n], input.a);
  const b = Tensor.fromArray(f32, [input.n], input.b);
  const c = Tensor.fromArray(f32, [input.n], new Array(input.n).fill(Number.NaN));
  vectorAdd.interpret({ a, b, c });
  const half = Tensor.fromArray(f16, [input.n], new Array(input.n).fill(Number.NaN));
  scaleAct.interpret({ x: a, y: half });
  const x = Tensor.fromArray(i32, [input.m, input.cols], input.rows);
  const rows: Record<string, number[]> = {};
  for (const consts of rowSum.variants()) {
    const y = Tensor.fromArray(i32, [input.m], new Array(input.m).fill(-7777));
    rowSum.interpret({ x, y }, { consts });
    rows[JSON.stringify(consts)] = y.toArray();
  }
  const q = Tensor.fromArray(u4, [input.n], input.q);
  const out = Tensor.fromArray(f32, [input.n], new Array(input.n).fill(Number.NaN));
  dequant.interpret({ q, out, scale: input.scale });
  return { vectorAdd: c.toArray(), scaleAct: half.toArray(), rowSum: rows, dequant: out.toArray() };
}

/**
 * Integer kernels and the f32 add and dequantize (one rounding each) must match exactly. scale_act
 * goes through exp/log (approximations on the devices, docs/wasm-backend.md) and is stored as f16:
 * within one f16 ulp (2^-10 relative) plus 1e-4 absolute near zero.
 */
export function expectMatchesReference(got: AppOutputs, want: Omit<AppOutputs, 'kernels'>): void {
  expect(
    got.kernels.every((k) => k.precompiled),
    JSON.stringify(got.kernels),
  ).toBe(true);
  expect(got.vectorAdd).toEqual(want.vectorAdd);
  expect(got.dequant).toEqual(want.dequant);
  expect(got.rowSum).toEqual(want.rowSum);
  expect(Object.keys(got.rowSum)).toHaveLength(2);
  expect(got.scaleAct).toHaveLength(want.scaleAct.length);
  for (const [i, w] of want.scaleAct.entries()) {
    const g = got.scaleAct[i];
    expect(Number.isFinite(w), `reference scale_act[${i}] = ${w}`).toBe(true);
    expect(Math.abs(g - w), `scale_act[${i}]: ${g} vs ${w}`).toBeLessThanOrEqual(
      Math.abs(w) * 2 ** -10 + 1e-4,
    );
  }
}

/**
 * Strings only the parser/checker, the backends or binaryen contain; a bundle of precompiled
 * kernels has none of them (the WGSL inside artifacts contains none either).
 */
export const COMPILER_MARKERS = [
  'unterminated comment', // the diagnostic table (parser, checker)
  'kernels accept numbers, booleans', // the checker
  'has no WGSL variable', // the WGSL backend
  'optimized wasm module of', // the WASM backend
  'BinaryenModuleCreate', // binaryen itself
  'binaryen', // an import of it
];

/** Size budget of the minified example app: both devices plus 4 kernels in 5 variants (111 kB esbuild, 132 kB vite measured). */
export const APP_BUNDLE_BUDGET_BYTES = 160_000;

export function expectNoCompiler(bundle: string): void {
  for (const marker of COMPILER_MARKERS)
    expect(bundle.includes(marker), `bundle contains '${marker}'`).toBe(false);
}
