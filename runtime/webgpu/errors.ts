// Errors of the WebGPU device. Argument problems are LaunchErrors (dsl/ir/errors.ts), shared with
// the interpreter; these cover what only a real GPU can get wrong.

/** No WebGPU adapter could be found; the message says what to install. */
export class WebGpuUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebGpuUnavailableError';
  }
}

/** The device was destroyed or lost: every later call throws this. Create a new device. */
export class DeviceLostError extends Error {
  /** Why: 'device.destroy() was called', or the browser's or driver's message. */
  readonly reason: string;
  constructor(reason: string) {
    super(`the WebGPU device was lost: ${reason}; create a new device`);
    this.name = 'DeviceLostError';
    this.reason = reason;
  }
}

/** A kernel's WGSL did not compile, or its pipeline failed validation: the message names the kernel. */
export class ShaderError extends Error {
  readonly kernel: string;
  constructor(kernel: string, message: string) {
    super(message);
    this.name = 'ShaderError';
    this.kernel = kernel;
  }
}

/** WebGPU reported an error that no error scope caught (a bug in tilevm or in a hand-written artifact). */
export class WebGpuError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebGpuError';
  }
}
