// Device tensors: a block of the device's linear memory holding the same packed bytes as a host
// Tensor's `data`, at a 16-byte aligned address kernels receive in their launch descriptor.
import type { DType } from '../../dsl/dtype.js';
import { packedByteLength } from '../../dsl/packing.js';
import { DeviceTensor } from '../common/device-tensor.js';
import { blockSize } from './heap.js';

// Kernel launch arguments on this device are WasmTensors: KernelArgs<P, 'wasm'>.
declare module '../../dsl/lang/signature.js' {
  interface TensorTypes<D extends DType> {
    readonly wasm: WasmTensor<D>;
  }
}

/** What a tensor needs of the device that made it. */
export interface WasmTensorOwner {
  /** Frees the block at `address` once no pending launch or read can use it. */
  retire(address: number, tensor: WasmTensor): void;
  /** Throws when the device was destroyed. */
  assertAlive(): void;
}

/** Block bytes for `size` elements of `bits` bits: packed, rounded up to whole 16-byte vectors, at least 16. */
export function tensorByteLength(bits: number, size: number): number {
  return blockSize(packedByteLength(bits, size));
}

/**
 * A tensor in the WASM device's memory: `dtype` elements row-major, bit-packed exactly like a host
 * Tensor's `data`. Made by `device.tensor()` and `device.upload()`; read back with
 * `await device.read(t)`; freed with `t.destroy()` (or, if forgotten, when it is garbage collected).
 */
export class WasmTensor<D extends DType = DType> extends DeviceTensor<D, WasmTensorOwner, number> {
  /** Bytes of its block: the packed bytes rounded up to a multiple of 16, and at least 16. */
  readonly byteLength: number;

  /** @internal Devices make tensors; use `device.tensor()` or `device.upload()`. */
  constructor(owner: WasmTensorOwner, dtype: D, shape: readonly number[], size: number, address: number) {
    super(owner, dtype, shape, size, address);
    this.byteLength = tensorByteLength(dtype.bits, size);
  }

  protected override get kind(): string {
    return 'WasmTensor';
  }

  protected override release(owner: WasmTensorOwner, address: number): void {
    owner.retire(address, this);
  }

  /**
   * Its byte address in `device.memory` (for interop; 16-byte aligned). Throws once the tensor or its
   * device is destroyed.
   */
  get address(): number {
    const address = this.liveHandle();
    this.owner.assertAlive();
    return address;
  }

  /** @internal The address, without checks (the device checks first). */
  get rawAddress(): number | undefined {
    return this.handle;
  }
}
