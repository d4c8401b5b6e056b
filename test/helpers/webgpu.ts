// Whether this run has a WebGPU adapter to test on. vitest.config.ts decides once (outside CI, a
// Linux machine without a Vulkan driver has none and is told what to install); under CI=true it is
// always expected, so a missing adapter fails the run instead of skipping.
import { describe } from 'vitest';

export const webgpuMissing: string = process.env.TILEVM_WEBGPU_MISSING ?? '';

/** `describe` for a WebGPU block inside a suite that also runs elsewhere (e.g. on WASM). */
export function describeWebGpu(name: string, body: () => void): void {
  describe.skipIf(webgpuMissing !== '')(name, body);
}
