// Device tensors: a block of the device's linear memory holding the same packed bytes as a host
// Tensor's `data`, at a 16-byte aligned address kernels receive in their launch descriptor.
import type { DType } from '../../dsl/dtype.js';
import { packedByteLength } from '../../dsl/packing.js';
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
 * A tensor in the WASM device's memory: `dtype` elements row-major, bit-packed exactly like a host
 * Tensor's `data`. Made by `device.tensor()` and `device.upload()`; read back with
 * `await device.read(t)`; freed with `t.destroy()` (or, if forgotten, when it is garbage collected).
 */
export class WasmTensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  /** Number of elements: the product of `shape`. */
  readonly size: number;
  /** Bytes of its block: the packed bytes rounded up to a multiple of 16, and at least 16. */
  readonly byteLength: number;
  readonly #owner: WasmTensorOwner;
  #address: number | undefined;

  /** @internal Devices make tensors; use `device.tensor()` or `device.upload()`. */
  constructor(owner: WasmTensorOwner, dtype: D, shape: readonly number[], size: number, address: number) {
    this.#owner = owner;
    this.dtype = dtype;
    this.shape = shape;
    this.size = size;
    this.byteLength = tensorByteLength(dtype.bits, size);
    this.#address = address;
  }

  /** Whether `destroy()` was called. */
  get destroyed(): boolean {
    return this.#address === undefined;
  }

  /**
   * Its byte address in `device.memory` (for interop; 16-byte aligned). Throws once the tensor or its
   * device is destroyed.
   */
  get address(): number {
    if (this.#address === undefined) throw new Error(`${this} was destroyed; it can no longer be used`);
    this.#owner.assertAlive();
    return this.#address;
  }

  /** @internal The address, without checks (the device checks first). */
  get rawAddress(): number | undefined {
    return this.#address;
  }

  /** @internal Whether `owner` made this tensor. */
  ownedBy(owner: WasmTensorOwner): boolean {
    return this.#owner === owner;
  }

  /** Frees the memory (after launches already issued have used it). Idempotent. */
  destroy(): void {
    const address = this.#address;
    if (address === undefined) return;
    this.#address = undefined;
    this.#owner.retire(address, this);
  }

  /** `WasmTensor<dtype>[shape]`, e.g. `WasmTensor<u4>[2, 3]`. */
  toString(): string {
    return `WasmTensor<${this.dtype.name}>[${this.shape.join(', ')}]`;
  }
}
