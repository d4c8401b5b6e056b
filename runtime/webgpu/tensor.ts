/// <reference types="@webgpu/types" />
// Device tensors: a storage buffer holding the same packed bytes as a host Tensor's `data`.
import type { DType } from '../../dsl/dtype.js';
import { packedByteLength } from '../../dsl/packing.js';
import { DeviceTensor } from '../common/device-tensor.js';

// Kernel launch arguments on this device are GpuTensors: KernelArgs<P, 'webgpu'>.
declare module '../../dsl/lang/signature.js' {
  interface TensorTypes<D extends DType> {
    readonly webgpu: GpuTensor<D>;
  }
}

/** What a tensor needs of the device that made it. */
export interface TensorOwner {
  /** Destroys `buffer` once no pending (encoded but unsubmitted) command can use it. */
  retire(buffer: GPUBuffer): void;
}

/** Buffer bytes for `size` elements of `bits` bits: packed, rounded up to whole u32 words, at least 4. */
export function bufferByteLength(bits: number, size: number): number {
  return Math.max(4, Math.ceil(packedByteLength(bits, size) / 4) * 4);
}

/**
 * A tensor in GPU memory: `dtype` elements row-major, bit-packed exactly like a host Tensor's `data`
 * (so kernels read it as array<u32>). Made by `device.tensor()` and `device.upload()`; read back with
 * `await device.read(t)`; freed with `t.destroy()`.
 */
export class GpuTensor<D extends DType = DType> extends DeviceTensor<D, TensorOwner, GPUBuffer> {
  /** Bytes of its buffer: the packed bytes rounded up to a multiple of 4, and at least 4. */
  readonly byteLength: number;

  /** @internal Devices make tensors; use `device.tensor()` or `device.upload()`. */
  constructor(owner: TensorOwner, dtype: D, shape: readonly number[], size: number, buffer: GPUBuffer) {
    super(owner, dtype, shape, size, buffer);
    this.byteLength = buffer.size;
  }

  protected override get kind(): string {
    return 'GpuTensor';
  }

  protected override release(owner: TensorOwner, buffer: GPUBuffer): void {
    owner.retire(buffer);
  }

  /** The storage buffer (for interop with other WebGPU code); throws once destroyed. */
  get buffer(): GPUBuffer {
    return this.liveHandle();
  }
}
