// Shared by the feature-path suites (wgsl-dot4, wgsl-vec4, wgsl-f16): run a program on a device and
// on the interpreter with the same random inputs and poisoned outputs, check the WGSL compiles with
// no message, and compare patterns.
import { afterAll, beforeAll, expect } from 'vitest';
import { compileWgsl, type WgslOptions } from '../../dsl/backend/wgsl/index.js';
import { interpret } from '../../dsl/interp/interpret.js';
import type { Program } from '../../dsl/ir/program.js';
import { Tensor } from '../../dsl/tensor.js';
import type { WgslArtifact } from '../../runtime/artifact.js';
import { createDevice, type WebGpuDevice } from '../../runtime/webgpu/device.js';
import type { GpuTensor } from '../../runtime/webgpu/tensor.js';

process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.XDG_RUNTIME_DIR ??= '/tmp';

export type HostArgs = Record<string, Tensor | number>;

// One definition of the random inputs, the poison and the bit-exact comparison for every backend suite.
export { expectSame, poisoned, randomTensor } from './differential.js';

/** One WebGPU device for the calling suite (made before its tests, destroyed after); call the getter in tests. */
export function suiteDevice(): () => WebGpuDevice {
  let device: WebGpuDevice | undefined;
  beforeAll(async () => {
    device = await createDevice();
  }, 120_000);
  afterAll(() => device?.destroy());
  return () => {
    if (!device)
      throw new Error('suiteDevice: the device is made in beforeAll; call the getter inside a test');
    return device;
  };
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
