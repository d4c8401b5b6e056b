// Shared by the feature-path suites (wgsl-dot4, wgsl-vec4, wgsl-f16): run a program on a device and
// on the interpreter with the same random inputs and poisoned outputs, check the WGSL compiles with
// no message, and compare patterns.
import { expect } from 'vitest';
import { compileWgsl, type WgslOptions } from '../../dsl/backend/wgsl/index.js';
import type { DType } from '../../dsl/dtype.js';
import { interpret } from '../../dsl/interp/interpret.js';
import type { Program } from '../../dsl/ir/program.js';
import { Tensor } from '../../dsl/tensor.js';
import type { WgslArtifact } from '../../runtime/artifact.js';
import type { WebGpuDevice } from '../../runtime/webgpu/device.js';
import type { GpuTensor } from '../../runtime/webgpu/tensor.js';
import { randomInt, randomU32, rng } from '../helpers/random.js';

process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.XDG_RUNTIME_DIR ??= '/tmp';

export type HostArgs = Record<string, Tensor | number>;

/** Every element a random pattern (integers, small floats), or for f16/f32 a float in [lo, hi]. */
export function randomTensor(dtype: DType, shape: readonly number[], seed: number, lo = -4, hi = 4): Tensor {
  const r = rng(seed);
  const t = Tensor.zeros(dtype, shape);
  for (let i = 0; i < t.size; i++) {
    if (dtype.kind === 'float' && dtype.bits >= 16) t.set(i, lo + (hi - lo) * r());
    else t.setPattern(i, dtype.bits === 32 ? randomU32(r) : randomInt(r, 0, 2 ** dtype.bits - 1));
  }
  return t;
}

/** NaN (floats) or random garbage: a kernel that forgets an element cannot pass by luck. */
export function poisoned(dtype: DType, shape: readonly number[], seed = 99): Tensor {
  const t = Tensor.zeros(dtype, shape);
  if (dtype.kind === 'float') return t.fill(Number.NaN);
  const r = rng(seed);
  for (let i = 0; i < t.size; i++) t.setPattern(i, randomInt(r, 0, 2 ** Math.min(dtype.bits, 31) - 1));
  return t;
}

export async function expectCompiles(device: WebGpuDevice, artifact: WgslArtifact): Promise<void> {
  const module = device.gpu.createShaderModule({ code: artifact.wgsl });
  const info = await module.getCompilationInfo();
  const messages = info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`);
  expect(messages, `WGSL of ${artifact.kernel}`).toEqual([]);
}

/** Runs on the device (compiled with `options`) and on the interpreter; returns both sides per param. */
export async function runBoth(
  device: WebGpuDevice,
  program: Program,
  args: HostArgs,
  options: WgslOptions,
): Promise<{ artifact: WgslArtifact; out: Record<string, { gpu: Tensor; ref: Tensor }> }> {
  const artifact = compileWgsl(program, options);
  await expectCompiles(device, artifact);
  const ref: HostArgs = {};
  for (const [k, v] of Object.entries(args)) ref[k] = v instanceof Tensor ? v.clone() : v;
  interpret(program, ref);
  const dev: Record<string, GpuTensor | number> = {};
  for (const [k, v] of Object.entries(args)) dev[k] = v instanceof Tensor ? device.upload(v) : v;
  await device.launch(artifact, dev);
  const out: Record<string, { gpu: Tensor; ref: Tensor }> = {};
  for (const [k, v] of Object.entries(dev)) {
    if (typeof v === 'number') continue;
    out[k] = { gpu: await device.read(v), ref: ref[k] as Tensor };
    v.destroy();
  }
  return { artifact, out };
}

/** Bit patterns equal (NaN matches NaN). */
export function expectSame(got: Tensor, want: Tensor, what: string): void {
  expect(got.shape).toEqual(want.shape);
  const g = got.patterns();
  const w = want.patterns();
  const gv = got.toArray();
  const wv = want.toArray();
  const failures: string[] = [];
  for (let i = 0; i < w.length && failures.length < 8; i++) {
    if (!(g[i] === w[i] || (Number.isNaN(gv[i]) && Number.isNaN(wv[i]))))
      failures.push(`[${i}]: got ${gv[i]} (0x${g[i].toString(16)}), want ${wv[i]} (0x${w[i].toString(16)})`);
  }
  expect(failures, what).toEqual([]);
}
