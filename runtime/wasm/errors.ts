// Errors of the WASM device. Argument problems are LaunchErrors (dsl/ir/errors.ts), shared with the
// other devices; these cover what only running WebAssembly can get wrong.
import { BaseDeviceLostError, BaseKernelError } from '../common/errors.js';

/** The device was destroyed (or a worker died): every later call throws this. Create a new device. */
export class WasmDeviceLostError extends BaseDeviceLostError {
  /** `reason`: 'device.destroy() was called', or what happened to the worker. */
  constructor(reason: string) {
    super('WASM', reason);
    this.name = 'WasmDeviceLostError';
  }
}

/** A kernel's module is malformed, does not compile, or does not link: the message names the kernel. */
export class WasmModuleError extends BaseKernelError {
  constructor(kernel: string, message: string) {
    super(kernel, message);
    this.name = 'WasmModuleError';
  }
}

/** A kernel trapped (unreachable, out-of-bounds access, division by zero, …) while running. */
export class KernelTrapError extends BaseKernelError {
  /** The range of linearized blocks [begin, end) that the trapping thread was running. */
  readonly blocks: readonly [number, number];
  constructor(kernel: string, blocks: readonly [number, number], message: string) {
    super(kernel, message);
    this.name = 'KernelTrapError';
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
