// Error bases every device shares; each device subclasses them with its own name (and exports only
// those), so a caller can still tell which device threw.

/** The device was destroyed or lost: every later call throws this. Create a new device. */
export abstract class BaseDeviceLostError extends Error {
  /** Why: 'device.destroy() was called', or what the platform reported. */
  readonly reason: string;
  /** `device` names the device in the message, e.g. 'WebGPU'. */
  constructor(device: string, reason: string) {
    super(`the ${device} device was lost: ${reason}; create a new device`);
    this.reason = reason;
  }
}

/** Something went wrong with one kernel: the message names it. */
export abstract class BaseKernelError extends Error {
  readonly kernel: string;
  constructor(kernel: string, message: string) {
    super(message);
    this.kernel = kernel;
  }
}
