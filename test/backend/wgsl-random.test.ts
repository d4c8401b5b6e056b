// Differential test of the WGSL backend: random VM programs (test/helpers/random-programs.ts) compiled
// with compileWgsl and run on the WebGPU device (SwiftShader on machines without a GPU) must compute
// what the reference interpreter computes from the same inputs (the check: test/backend/differential.ts).
// Outputs start as the same random garbage on both sides, so elements a program must not write are
// checked too.
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
import { afterAll, beforeAll } from 'vitest';
import { compileWgsl } from '../../dsl/backend/wgsl/index.js';
import { createDevice, type WebGpuDevice } from '../../runtime/index.js';
import { describeRandomPrograms, launchAndRead } from './differential.js';

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

describeRandomPrograms({
  name: 'WGSL',
  seeds: 200,
  slack: 2 ** -124, // what flushing an f32 subnormal could explain (see above)
  run: async (program, args, outputs) => {
    let artifact: ReturnType<typeof compileWgsl>;
    try {
      artifact = compileWgsl(program, { features: device.features });
    } catch (e) {
      throw new Error(`compileWgsl failed: ${(e as Error).stack}`);
    }
    return launchAndRead(device, artifact, args, outputs, `\n${artifact.wgsl}`);
  },
});
