// Differential test of the WGSL backend: random VM programs (test/helpers/random-programs.ts) compiled
// with compileWgsl and run on the WebGPU device (SwiftShader on machines without a GPU) must compute
// what the reference interpreter computes from the same inputs. Outputs start as the same random
// garbage on both sides, so elements a program must not write are checked too.
//
// Tolerance rule (per output element; `tol` is the generator's per-output bound, RandomProgram.tolerance):
// - integer and bool outputs: bit-exact;
// - NaN outputs: bit-exact too (stores write the format's canonical NaN; in specials mode, about a
//   fifth of the programs, inputs hold ±0, ±Inf and NaNs, the negative one included, and overflow
//   to Inf is allowed, but such values only meet ops with IEEE-deterministic results: add, sub, mul,
//   min, max, abs, neg, floor..trunc, fmod, comparisons, select, casts, reductions and dots);
// - float outputs: equal values (either sign of zero), or |got - expected| <= tol + 2^-124.
//   2^-124 (= 4 * 2^-126) is the only slack exact chains get (tol = 0): what flushing an f32
//   subnormal could explain. The generator's programs never make one, so in practice they match
//   bit for bit. Exact chains are add/sub/mul/min/max/abs/neg/floor/ceil/round/trunc/fmod/select,
//   comparisons, casts, views, reductions and dots (summed in the interpreter's order, no fused
//   multiply-add), which every backend must reproduce exactly.
// - `tol` is nonzero only for outputs that depend on a transcendental or a float div. Each such op
//   gets the WGSL builtin's accuracy in the tile's format, where u is an ulp bound (twice the
//   format's spacing at the result's magnitude bound): exp, exp2 (4 + 2|x|) u; sqrt 6 u; rsqrt 4 u;
//   log, log2 2^-21 + 4 u; div 4 u; tanh and erf 8 u at 1 (backends build them from exp); sin and
//   cos 2^-11 absolute (WGSL's bound on [-pi, pi]; SwiftShader's cos is off by ~2^-12.4). The error
//   of an inexact input is propagated through every later op by its Lipschitz bound (sums: n times),
//   and every later rounding of an inexact value adds one u of its format, so f16, bf16 and
//   small-float outputs get at least one ulp of their format. Comparisons, floor/round, casts to
//   integers and views never see inexact values, so a few ulp can never flip a result.
//
// A missing adapter fails the test: it is never skipped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWgsl } from '../../dsl/backend/wgsl/index.js';
import { type DType, decode } from '../../dsl/dtype.js';
import { interpret } from '../../dsl/interp/interpret.js';
import { printProgram } from '../../dsl/ir/print.js';
import { Tensor } from '../../dsl/tensor.js';
import { createDevice, type GpuTensor, type WebGpuDevice } from '../../runtime/index.js';
import { type RandomProgram, randomProgram } from '../helpers/random-programs.js';

const SEEDS = 200;
const FLUSH_SLACK = 2 ** -124;

/** Seeds that passed, and output elements the interpreter wrote (changed from their garbage) of all. */
let checked = 0;
let written = 0;
let total = 0;

let device: WebGpuDevice;

beforeAll(async () => {
  try {
    device = await createDevice();
  } catch (e) {
    throw new Error(
      `the WGSL differential test needs a WebGPU adapter (Dawn with Vulkan; SwiftShader from the chromium ` +
        `package on CPU-only Linux); CI=${process.env.CI ?? ''}: ${(e as Error).message}`,
    );
  }
});

afterAll(() => {
  device?.destroy();
});

function cloneArgs(args: Record<string, Tensor | number>): Record<string, Tensor | number> {
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
    if (d.kind === 'float') {
      if (ve === vg) continue; // +0 and -0
      const diff = Math.abs(ve - vg);
      if (diff <= tol + FLUSH_SLACK) continue;
    }
    out.push(
      `[${indexOf(i, expected.shape).join(', ')}]: expected ${ve} (0x${pe[i].toString(16)}), got ${vg} (0x${pg[i].toString(16)})`,
    );
  }
  return out;
}

/** The launch arguments as text: shapes and, for small tensors, every value. */
function describeArgs(args: Record<string, Tensor | number>): string {
  return Object.entries(args)
    .map(([k, v]) => {
      if (typeof v === 'number') return `${k} = ${v}`;
      const values = v.size <= 64 ? ` = [${v.toArray().join(', ')}]` : '';
      return `${k}: ${v}${values}`;
    })
    .join('\n');
}

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

  const artifact = (() => {
    try {
      return compileWgsl(gen.program, { features: device.features });
    } catch (e) {
      throw new Error(`${where()}\ncompileWgsl failed: ${(e as Error).stack}`);
    }
  })();
  const onDevice: Record<string, GpuTensor | number> = {};
  for (const [k, v] of Object.entries(args)) onDevice[k] = typeof v === 'number' ? v : device.upload(v);
  const problems: string[] = [];
  try {
    try {
      await device.launch(artifact, onDevice);
    } catch (e) {
      throw new Error(`${where()}\nlaunch failed: ${(e as Error).message}\n${artifact.wgsl}`);
    }
    for (const o of gen.outputs) {
      const got = await device.read(onDevice[o] as GpuTensor);
      const want = expected[o] as Tensor;
      const tol = gen.tolerance[o] ?? 0;
      const bad = compare(want.dtype, want, got, tol);
      if (bad.length > 0) {
        problems.push(
          `output ${o} (${want}, tolerance ${tol}): ${bad.length} of ${want.size} elements differ\n  ${bad.slice(0, 12).join('\n  ')}`,
        );
      }
    }
  } finally {
    for (const v of Object.values(onDevice)) if (typeof v !== 'number') v.destroy();
  }
  if (problems.length > 0) throw new Error(`${where()}\n${problems.join('\n')}`);
  checked++;
}

describe('WGSL backend vs interpreter on random programs', () => {
  for (let seed = 0; seed < SEEDS; seed++) {
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
