// Errors of the WASM device. Argument problems are LaunchErrors (dsl/ir/errors.ts), shared with the
// other devices; these cover what only running WebAssembly can get wrong.

/** The device was destroyed (or a worker died): every later call throws this. Create a new device. */
export class WasmDeviceLostError extends Error {
  /** Why: 'device.destroy() was called', or what happened to the worker. */
  readonly reason: string;
  constructor(reason: string) {
    super(`the WASM device was lost: ${reason}; create a new device`);
    this.name = 'WasmDeviceLostError';
    this.reason = reason;
  }
}

/** A kernel's module is malformed, does not compile, or does not link: the message names the kernel. */
export class WasmModuleError extends Error {
  readonly kernel: string;
  constructor(kernel: string, message: string) {
    super(message);
    this.name = 'WasmModuleError';
    this.kernel = kernel;
  }
}

/** A kernel trapped (unreachable, out-of-bounds access, division by zero, …) while running. */
export class KernelTrapError extends Error {
  readonly kernel: string;
  /** The range of linearized blocks [begin, end) that the trapping thread was running. */
  readonly blocks: readonly [number, number];
  constructor(kernel: string, blocks: readonly [number, number], message: string) {
    super(message);
    this.name = 'KernelTrapError';
    this.kernel = kernel;
    this.blocks = blocks;
  }
}

/** The device's memory cannot hold an allocation: `requested` bytes did not fit below the maximum. */
export class WasmOutOfMemoryError extends RangeError {
  readonly requested: number;
  constructor(requested: number, message: string) {
    super(message);
    this.name = 'WasmOutOfMemoryError';
    this.requested = requested;
  }
}
