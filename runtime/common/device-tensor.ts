// The part of a device tensor every device shares: dtype, shape and size, the owning device, and a
// device handle (a buffer, an address) that destroy() releases once and later uses must not touch.
import type { DType } from '../../dsl/dtype.js';

/** A tensor in some device's memory; each device subclasses it with its handle and how to free it. */
export abstract class DeviceTensor<D extends DType, Owner, Handle> {
  readonly dtype: D;
  readonly shape: readonly number[];
  /** Number of elements: the product of `shape`. */
  readonly size: number;
  readonly #owner: Owner;
  #handle: Handle | undefined;

  protected constructor(owner: Owner, dtype: D, shape: readonly number[], size: number, handle: Handle) {
    this.#owner = owner;
    this.dtype = dtype;
    this.shape = shape;
    this.size = size;
    this.#handle = handle;
  }

  /** The class name `toString()` shows, e.g. 'GpuTensor'. */
  protected abstract get kind(): string;

  /** Hands `handle` back to `owner`; called once, by `destroy()`. */
  protected abstract release(owner: Owner, handle: Handle): void;

  /** The device that made it. */
  protected get owner(): Owner {
    return this.#owner;
  }

  /** The handle, or undefined once destroyed. */
  protected get handle(): Handle | undefined {
    return this.#handle;
  }

  /** The handle; throws once destroyed. */
  protected liveHandle(): Handle {
    if (this.#handle === undefined) throw new Error(`${this} was destroyed; it can no longer be used`);
    return this.#handle;
  }

  /** Whether `destroy()` was called. */
  get destroyed(): boolean {
    return this.#handle === undefined;
  }

  /** @internal Whether `owner` made this tensor. */
  ownedBy(owner: Owner): boolean {
    return this.#owner === owner;
  }

  /** Frees the memory (after launches already issued have used it). Idempotent. */
  destroy(): void {
    const handle = this.#handle;
    if (handle === undefined) return;
    this.#handle = undefined;
    this.release(this.#owner, handle);
  }

  /** `Kind<dtype>[shape]`, e.g. `GpuTensor<u4>[2, 3]`. */
  toString(): string {
    return `${this.kind}<${this.dtype.name}>[${this.shape.join(', ')}]`;
  }
}
