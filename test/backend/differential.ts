// The backend-independent half of the differential suites (test/backend/{wasm,wgsl}*.test.ts): the
// kernel corpus (test/lang/kernels) and the random VM programs (test/helpers/random-programs.ts),
// each run on a device and on the reference interpreter from the same inputs, with outputs poisoned
// first. Each backend's suite supplies how to compile and launch, and the tolerances its arithmetic
// needs (docs/wasm-backend.md, docs/wgsl-backend.md); the cases and the checks are written once here.
import { describe, expect, it } from 'vitest';
import { type DType, decode, f4e2m1, f6e3m2, f16, f32, i3, i32, u4 } from '../../dsl/dtype.js';
import { cdiv } from '../../dsl/index.js';
import { interpret } from '../../dsl/interp/interpret.js';
import { printProgram } from '../../dsl/ir/print.js';
import type { Program } from '../../dsl/ir/program.js';
import { Tensor } from '../../dsl/tensor.js';
import { randomInt, randomU32, rng } from '../helpers/random.js';
import { type RandomProgram, randomProgram } from '../helpers/random-programs.js';
import { conv2d3x3 } from '../lang/kernels/conv2d.js';
import { gemv } from '../lang/kernels/gemv.js';
import { layerNorm } from '../lang/kernels/layernorm.js';
import { matmul } from '../lang/kernels/matmul.js';
import { globalAvgPool } from '../lang/kernels/pool.js';
import { sumAll } from '../lang/kernels/reduce.js';
import { softmax, softmaxPrefix } from '../lang/kernels/softmax.js';
import { vectorAdd } from '../lang/kernels/vector-add.js';

export type HostArgs = Record<string, Tensor | number>;

/** Allowed |got - want| for an expected value (and its flat index). */
export type Tolerance = (want: number, i: number) => number;

/** Bit-exact equality (NaN matches NaN: both sides store the format's canonical NaN). */
export function expectSame(got: Tensor, want: Tensor, what = ''): void {
  expect(got.shape).toEqual(want.shape);
  const g = got.patterns();
  const w = want.patterns();
  const gv = got.toArray();
  const wv = want.toArray();
  const failures: string[] = [];
  for (let i = 0; i < w.length && failures.length < 8; i++) {
    const same = g[i] === w[i] || (Number.isNaN(gv[i]) && Number.isNaN(wv[i]));
    if (!same)
      failures.push(`[${i}]: got ${gv[i]} (0x${g[i].toString(16)}), want ${wv[i]} (0x${w[i].toString(16)})`);
  }
  expect(failures, what).toEqual([]);
}

/** |got - want| <= tol(want, i) everywhere; NaN only where both are NaN, Inf only where both agree. */
export function expectClose(got: Tensor, want: Tensor, tol: Tolerance, what = ''): void {
  expect(got.shape).toEqual(want.shape);
  const gv = got.toArray();
  const wv = want.toArray();
  const failures: string[] = [];
  for (let i = 0; i < wv.length && failures.length < 8; i++) {
    if (Object.is(gv[i], wv[i]) || (Number.isNaN(gv[i]) && Number.isNaN(wv[i]))) continue;
    const t = tol(wv[i], i);
    if (!(Math.abs(gv[i] - wv[i]) <= t))
      failures.push(`[${i}]: got ${gv[i]}, want ${wv[i]} (tolerance ${t})`);
  }
  expect(failures, what).toEqual([]);
}

export function uniformF32(r: () => number, n: number, lo: number, hi: number): number[] {
  return Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * r()));
}

/** A write-param tensor full of poison: NaN for floats that have one, random bits for everything else. */
export function poisoned(dtype: DType, shape: readonly number[], seed = 99): Tensor {
  const t = Tensor.zeros(dtype, shape);
  if (dtype.kind === 'float' && dtype.rule !== 'finite') return t.fill(Number.NaN);
  const r = rng(seed);
  for (let i = 0; i < t.size; i++)
    t.setPattern(i, dtype.bits === 32 ? randomU32(r) : randomInt(r, 0, 2 ** dtype.bits - 1));
  return t;
}

/** Random values: every bit pattern for integers and small floats, a range for f16/bf16/f32. */
export function randomTensor(dtype: DType, shape: readonly number[], seed: number, lo = -4, hi = 4): Tensor {
  const r = rng(seed);
  const t = Tensor.zeros(dtype, shape);
  for (let i = 0; i < t.size; i++) {
    if (dtype.kind === 'float' && dtype.bits >= 16) t.set(i, lo + (hi - lo) * r());
    else t.setPattern(i, dtype.bits === 32 ? randomU32(r) : randomInt(r, 0, 2 ** dtype.bits - 1));
  }
  return t;
}

/** Both sides of every tensor a program writes. */
export type BothOutputs = Record<string, { got: Tensor; want: Tensor }>;

/** What the differential checks need of a device: WebGpuDevice and WasmDevice both fit. */
export interface LaunchDevice<A, T extends { destroy(): void }> {
  upload(host: Tensor): T;
  launch(artifact: A, args: Readonly<Record<string, T | number>>): Promise<void>;
  read(t: T): Promise<Tensor>;
}

/**
 * Uploads `args`, launches `artifact`, reads `outputs` back and frees the device tensors (on failure
 * too). A failed launch throws "launch failed: <message>" plus whatever `context` adds (e.g. the code).
 */
export async function launchAndRead<A, T extends { destroy(): void }>(
  device: LaunchDevice<A, T>,
  artifact: A,
  args: HostArgs,
  outputs: readonly string[],
  context = '',
): Promise<Record<string, Tensor>> {
  const onDevice: Record<string, T | number> = {};
  for (const [k, v] of Object.entries(args)) onDevice[k] = typeof v === 'number' ? v : device.upload(v);
  try {
    try {
      await device.launch(artifact, onDevice);
    } catch (e) {
      throw new Error(`launch failed: ${(e as Error).message}${context}`);
    }
    const got: Record<string, Tensor> = {};
    for (const o of outputs) got[o] = await device.read(onDevice[o] as T);
    return got;
  } finally {
    for (const v of Object.values(onDevice)) if (typeof v !== 'number') v.destroy();
  }
}

/**
 * Runs `program` on the interpreter and (as `artifact`) on the device with copies of `args` (write
 * params hold their poison); both versions of every tensor the program may write.
 */
export async function runBothOn<A, T extends { destroy(): void }>(
  device: LaunchDevice<A, T>,
  artifact: A,
  program: Program,
  args: HostArgs,
): Promise<BothOutputs> {
  const ref = cloneArgs(args);
  interpret(program, ref);
  const written = program.params.flatMap((p) => (p.kind === 'global' && p.access !== 'read' ? [p.name] : []));
  const got = await launchAndRead(device, artifact, args, written);
  return Object.fromEntries(written.map((k) => [k, { got: got[k], want: ref[k] as Tensor }]));
}

/** A backend under the corpus check: how it runs a program, and where its results may differ. */
export interface CorpusBackend {
  /** Words for the suite's title: "kernels of test/lang/kernels on <device> and the interpreter". */
  readonly device: string;
  /** Runs `program` on the interpreter and on the device with copies of `args`. */
  readonly runBoth: (program: Program, args: HostArgs) => Promise<BothOutputs>;
  /** Tolerances of the float kernels with approximated ops, or undefined where results are bit-exact. */
  readonly tolerance: {
    /** softmax with rows of N (exp, the row sum, a division). */
    readonly softmax: (N: number) => Tolerance;
    /** layer norm (a division, 1/sqrt) */
    readonly layerNorm?: Tolerance;
    /** global average pool (the final division) */
    readonly avgPool?: Tolerance;
    /**
     * Sums of products that may be contracted to fused multiply-adds (relaxed SIMD): `terms` products
     * each of magnitude <= `termBound`, onto a start value of magnitude <= `initBound`.
     * Undefined where dot, GEMV and convolution are bit-exact.
     */
    readonly accumulate?: (terms: number, termBound: number, initBound: number) => Tolerance;
  };
}

function expectWithin(got: Tensor, want: Tensor, tol: Tolerance | undefined): void {
  if (tol) expectClose(got, want, tol);
  else expectSame(got, want);
}

/** The kernel corpus on one backend against the interpreter: integer and dot kernels bit-exact. */
export function describeCorpus(backend: CorpusBackend): void {
  const { runBoth, tolerance } = backend;
  describe(`kernels of test/lang/kernels on ${backend.device} and the interpreter`, () => {
    it.each([f32, i32].map((d) => [d.name, d] as const))('vector add %s (edge tile)', async (_, dtype) => {
      const N = 1000;
      const a = randomTensor(dtype, [N], 1, -100, 100);
      const b = randomTensor(dtype, [N], 2, -100, 100);
      const out = await runBoth(vectorAdd(dtype).compile().program, { a, b, c: poisoned(dtype, [N]) });
      expectSame(out.c.got, out.c.want); // one correctly rounded (or wrapping) add per lane
    });

    it.each([37, 64])('softmax, rows of %i', async (N) => {
      const M = 13;
      const x = Tensor.fromArray(f32, [M, N], uniformF32(rng(200 + N), M * N, -4, 4));
      const out = await runBoth(softmax.compile().program, { x, y: poisoned(f32, [M, N]) });
      expectClose(out.y.got, out.y.want, tolerance.softmax(N));
    });

    it('softmax over a masked prefix (masked lanes neither read nor stored)', async () => {
      const [M, N, n] = [10, 50, 29];
      const x = Tensor.fromArray(f32, [M, N], uniformF32(rng(203), M * N, -4, 4));
      const out = await runBoth(softmaxPrefix.compile().program, { x, y: poisoned(f32, [M, N]), n });
      expectClose(out.y.got, out.y.want, tolerance.softmax(n));
    });

    it.each([1e-5, 0.5])('layer norm over rows of 75 in 32-wide tiles, eps %f', async (eps) => {
      const [M, N] = [11, 75];
      const r = rng(300);
      const x = Tensor.fromArray(f32, [M, N], uniformF32(r, M * N, -2, 2));
      const gamma = Tensor.fromArray(f32, [N], uniformF32(r, N, 0.5, 1.5));
      const beta = Tensor.fromArray(f32, [N], uniformF32(r, N, -1, 1));
      const out = await runBoth(layerNorm.compile().program, {
        x,
        gamma,
        beta,
        y: poisoned(f32, [M, N]),
        eps,
      });
      expectWithin(out.y.got, out.y.want, tolerance.layerNorm);
    });

    it.each([
      { BM: 16, BN: 16, BK: 8 },
      { BM: 8, BN: 32, BK: 16 },
    ])('tiled matmul 40x33 @ 33x35 with %o (bit-exact)', async (consts) => {
      const [M, K, N] = [40, 33, 35];
      const r = rng(400);
      const a = Tensor.fromArray(f32, [M, K], uniformF32(r, M * K, -1, 1));
      const b = Tensor.fromArray(f32, [K, N], uniformF32(r, K * N, -1, 1));
      const out = await runBoth(matmul.compile(consts).program, { a, b, c: poisoned(f32, [M, N]) });
      // dot: the same products and sums in the same order
      expectWithin(out.c.got, out.c.want, tolerance.accumulate?.(K, 1, 0));
    });

    for (const { wt, group, zero } of [
      { wt: u4, group: 32, zero: 8 },
      { wt: u4, group: 64, zero: 0 },
      { wt: i3, group: 64, zero: 0 },
      { wt: f4e2m1, group: 32, zero: 0 },
      { wt: f6e3m2, group: 64, zero: 0 },
    ]) {
      it(`quantized GEMV, ${wt.name} weights, group ${group}, zero point ${zero} (bit-exact)`, async () => {
        const [N, K] = [21, 300];
        const r = rng(500 + wt.bits * 10 + group);
        const G = cdiv(K, group);
        const w = randomTensor(wt, [N, K], 501 + group);
        const s = Tensor.fromArray(f16, [N, G], uniformF32(r, N * G, -0.2, 0.2));
        const x = Tensor.fromArray(f32, [K], uniformF32(r, K, -1, 1));
        const out = await runBoth(gemv(wt, group, zero).compile().program, {
          x,
          w,
          s,
          y: poisoned(f32, [N]),
        });
        const wMax = Math.max(
          ...Array.from({ length: 2 ** wt.bits }, (_, p) => Math.abs(decode(wt, p) - zero)),
        );
        expectWithin(out.y.got, out.y.want, tolerance.accumulate?.(K, wMax * 0.2, 0));
      });
    }

    it.each([1, 2])('3x3 convolution, stride %i (bit-exact)', async (S) => {
      const [H, W, C, CO] = [10, 9, 5, 7];
      const r = rng(600 + S);
      const x = Tensor.fromArray(f32, [H, W, C], uniformF32(r, H * W * C, -1, 1));
      const w = Tensor.fromArray(f32, [3, 3, C, CO], uniformF32(r, 9 * C * CO, -1, 1));
      const bias = Tensor.fromArray(f32, [CO], uniformF32(r, CO, -1, 1));
      const [HO, WO] = [Math.floor((H - 1) / S) + 1, Math.floor((W - 1) / S) + 1];
      const out = await runBoth(conv2d3x3.compile({ S }).program, {
        x,
        w,
        bias,
        y: poisoned(f32, [HO, WO, CO]),
      });
      expectWithin(out.y.got, out.y.want, tolerance.accumulate?.(9 * C, 1, 1));
    });

    it('global average pool', async () => {
      const [C, H, W] = [6, 10, 13];
      const x = Tensor.fromArray(f32, [C, H, W], uniformF32(rng(700), C * H * W, -1, 3));
      const out = await runBoth(globalAvgPool.compile().program, { x, y: poisoned(f32, [C]) });
      expectWithin(out.y.got, out.y.want, tolerance.avgPool);
    });

    describe('sum of a long vector (100000 elements in one block, bit-exact)', () => {
      const N = 100_000;
      it('f32', async () => {
        const x = Tensor.fromArray(f32, [N], uniformF32(rng(803), N, -1, 1));
        const out = await runBoth(sumAll(f32, f32).compile().program, { x, y: poisoned(f32, [1]) });
        expectSame(out.y.got, out.y.want);
      });
      it('f16 input, f32 accumulator', async () => {
        const x = Tensor.fromArray(f16, [N], uniformF32(rng(801), N, 0, 4));
        const out = await runBoth(sumAll(f16, f32).compile().program, { x, y: poisoned(f32, [1]) });
        expectSame(out.y.got, out.y.want);
      });
      it('i32, wrapping', async () => {
        const x = randomTensor(i32, [N], 802);
        const out = await runBoth(sumAll(i32, i32).compile().program, { x, y: poisoned(i32, [1]) });
        expectSame(out.y.got, out.y.want);
      });
    });
  });
}

/** A backend under the random-program check. */
export interface RandomBackend {
  /** Words for the suite's title: "<name> backend vs interpreter on random programs". */
  readonly name: string;
  readonly seeds: number;
  /** Absolute float slack on top of the generator's per-output bound (0: none). */
  readonly slack: number;
  /**
   * Compiles `program` and runs it on the device with `args`; returns the `outputs` read back. Throws
   * with what failed (compile or launch) and what helps (the generated code).
   */
  readonly run: (
    program: Program,
    args: HostArgs,
    outputs: readonly string[],
  ) => Promise<Record<string, Tensor>>;
}

/** A copy of launch args whose tensors the interpreter may overwrite. */
export function cloneArgs(args: HostArgs): HostArgs {
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, v instanceof Tensor ? v.clone() : v]));
}

/** Multi-index of a flat position, for messages. */
function indexOf(flat: number, shape: readonly number[]): number[] {
  const idx: number[] = [];
  for (let i = shape.length - 1; i >= 0; i--) {
    idx.unshift(flat % shape[i]);
    flat = Math.floor(flat / shape[i]);
  }
  return idx;
}

/** Mismatching elements of one output, described; empty when the output matches. */
function compare(d: DType, expected: Tensor, got: Tensor, tol: number): string[] {
  const out: string[] = [];
  const pe = expected.patterns();
  const pg = got.patterns();
  for (let i = 0; i < pe.length; i++) {
    if (pe[i] === pg[i]) continue;
    const ve = decode(d, pe[i]);
    const vg = decode(d, pg[i]);
    if (d.kind === 'float' && (ve === vg || Math.abs(ve - vg) <= tol)) continue; // ve === vg: ±0
    out.push(
      `[${indexOf(i, expected.shape).join(', ')}]: expected ${ve} (0x${pe[i].toString(16)}), got ${vg} (0x${pg[i].toString(16)})`,
    );
  }
  return out;
}

/** The launch arguments as text: shapes and, for small tensors, every value. */
function describeArgs(args: HostArgs): string {
  return Object.entries(args)
    .map(([k, v]) => {
      if (typeof v === 'number') return `${k} = ${v}`;
      const values = v.size <= 64 ? ` = [${v.toArray().join(', ')}]` : '';
      return `${k}: ${v}${values}`;
    })
    .join('\n');
}

/**
 * Random VM programs on one backend against the interpreter. Integer and bool outputs bit-exact;
 * float outputs equal (either sign of zero) or within the generator's per-output bound plus the
 * backend's slack. Outputs start as the same garbage on both sides, so elements a program must not
 * write are checked too, and a last test makes sure the programs do write most of their outputs.
 */
export function describeRandomPrograms(backend: RandomBackend): void {
  let checked = 0;
  let written = 0;
  let total = 0;

  async function check(seed: number): Promise<void> {
    const gen: RandomProgram = randomProgram(seed, { maxElements: 512 });
    const text = printProgram(gen.program);
    const args = gen.makeArgs(seed);
    const where = () => `seed ${seed}:\n${text}\n${describeArgs(args)}`;

    const expected = cloneArgs(args);
    try {
      interpret(gen.program, expected);
    } catch (e) {
      throw new Error(`${where()}\ninterpret failed: ${(e as Error).message}`);
    }
    for (const o of gen.outputs) {
      const before = (args[o] as Tensor).patterns();
      const after = (expected[o] as Tensor).patterns();
      total += after.length;
      for (let i = 0; i < after.length; i++) if (after[i] !== before[i]) written++;
    }

    let got: Record<string, Tensor>;
    try {
      got = await backend.run(gen.program, args, gen.outputs);
    } catch (e) {
      throw new Error(`${where()}\n${(e as Error).message}`);
    }
    const problems: string[] = [];
    for (const o of gen.outputs) {
      const want = expected[o] as Tensor;
      const tol = gen.tolerance[o] ?? 0;
      const bad = compare(want.dtype, want, got[o], tol + backend.slack);
      if (bad.length > 0) {
        problems.push(
          `output ${o} (${want}, tolerance ${tol}): ${bad.length} of ${want.size} elements differ\n  ${bad.slice(0, 12).join('\n  ')}`,
        );
      }
    }
    if (problems.length > 0) throw new Error(`${where()}\n${problems.join('\n')}`);
    checked++;
  }

  describe(`${backend.name} backend vs interpreter on random programs`, () => {
    for (let seed = 0; seed < backend.seeds; seed++) {
      it(`seed ${seed}`, async () => {
        await check(seed);
      });
    }

    it('the seeds are not vacuous: most programs write most of their outputs', () => {
      // A guard on the harness: outputs start as the same garbage on both sides, so a program that
      // writes nothing would pass on any device.
      expect(checked).toBeGreaterThan(0);
      expect(written / total).toBeGreaterThan(0.5);
    });
  });
}
