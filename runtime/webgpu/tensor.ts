/// <reference types="@webgpu/types" />
// Device tensors: a storage buffer holding the same packed bytes as a host Tensor's `data`.
import type { DType } from '../../dsl/dtype.js';
import { packedByteLength } from '../../dsl/packing.js';

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

/** Validates a shape (naming `fn` in errors) and returns a frozen copy and its element count. */
export function checkShape(fn: string, shape: readonly number[]): { shape: readonly number[]; size: number } {
  if (!Array.isArray(shape)) {
    throw new TypeError(`${fn}: shape must be an array of dimensions, got ${String(shape)}`);
  }
  let size = 1;
  for (const [axis, d] of shape.entries()) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(
        `${fn}: shape [${shape.join(', ')}] has dimension ${axis} = ${d}; each dimension must be a ` +
          'non-negative integer',
      );
    }
    size *= d;
  }
  if (!Number.isSafeInteger(size)) {
    throw new RangeError(`${fn}: shape [${shape.join(', ')}] has ${size} elements, too many to index`);
  }
  return { shape: Object.freeze(shape.slice()), size };
}

/**
 * A tensor in GPU memory: `dtype` elements row-major, bit-packed exactly like a host Tensor's `data`
 * (so kernels read it as array<u32>). Made by `device.tensor()` and `device.upload()`; read back with
 * `await device.read(t)`; freed with `t.destroy()`.
 */
export class GpuTensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  /** Number of elements: the product of `shape`. */
  readonly size: number;
  /** Bytes of its buffer: the packed bytes rounded up to a multiple of 4, and at least 4. */
  readonly byteLength: number;
  readonly #owner: TensorOwner;
  #buffer: GPUBuffer | undefined;

  /** @internal Devices make tensors; use `device.tensor()` or `device.upload()`. */
  constructor(owner: TensorOwner, dtype: D, shape: readonly number[], size: number, buffer: GPUBuffer) {
    this.#owner = owner;
    this.dtype = dtype;
    this.shape = shape;
    this.size = size;
    this.byteLength = buffer.size;
    this.#buffer = buffer;
  }

  /** Whether `destroy()` was called. */
  get destroyed(): boolean {
    return this.#buffer === undefined;
  }

  /** The storage buffer (for interop with other WebGPU code); throws once destroyed. */
  get buffer(): GPUBuffer {
    if (this.#buffer === undefined) throw new Error(`${this} was destroyed; it can no longer be used`);
    return this.#buffer;
  }

  /** @internal Whether `owner` made this tensor. */
  ownedBy(owner: TensorOwner): boolean {
    return this.#owner === owner;
  }

  /** Frees the GPU memory (after launches already issued have used it). Idempotent. */
  destroy(): void {
    const buffer = this.#buffer;
    if (buffer === undefined) return;
    this.#buffer = undefined;
    this.#owner.retire(buffer);
  }

  /** `GpuTensor<dtype>[shape]`, e.g. `GpuTensor<u4>[2, 3]`. */
  toString(): string {
    return `GpuTensor<${this.dtype.name}>[${this.shape.join(', ')}]`;
  }
}
