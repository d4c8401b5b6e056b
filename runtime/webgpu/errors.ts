// Errors of the WebGPU device. Argument problems are LaunchErrors (dsl/ir/errors.ts), shared with
// the interpreter; these cover what only a real GPU can get wrong.
import { BaseDeviceLostError, BaseKernelError } from '../common/errors.js';

/** No WebGPU adapter could be found; the message says what to install. */
export class WebGpuUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebGpuUnavailableError';
  }
}

/** The device was destroyed or lost: every later call throws this. Create a new device. */
export class DeviceLostError extends BaseDeviceLostError {
  /** `reason`: 'device.destroy() was called', or the browser's or driver's message. */
  constructor(reason: string) {
    super('WebGPU', reason);
    this.name = 'DeviceLostError';
  }
}

/** A kernel's WGSL did not compile, or its pipeline failed validation: the message names the kernel. */
export class ShaderError extends BaseKernelError {
  constructor(kernel: string, message: string) {
    super(kernel, message);
    this.name = 'ShaderError';
  }
}

/** WebGPU reported an error that no error scope caught (a bug in tilevm or in a hand-written artifact). */
export class WebGpuError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebGpuError';
  }
}
