// Host-side tensors with dense bit-packed storage (docs/dtypes.md, "Packing").

import { type DType, decode, encode } from './dtype.js';
import { packBits, packedByteLength, readBits, unpackBits, writeBits } from './packing.js';

/** Elements per packBits call in fill(): bounds the scratch array for large tensors. */
const FILL_CHUNK = 4096;

function shapeString(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** Validates `shape` and returns a frozen copy and its element count. */
function checkShape(fn: string, shape: readonly number[]): { shape: readonly number[]; size: number } {
  if (!Array.isArray(shape)) {
    throw new TypeError(`${fn}: shape must be an array of dimensions, got ${String(shape)}`);
  }
  let size = 1;
  for (let axis = 0; axis < shape.length; axis++) {
    const d = shape[axis];
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(
        `${fn}: shape ${shapeString(shape)} has dimension ${axis} = ${d}; ` +
          'each dimension must be a non-negative integer',
      );
    }
    size *= d;
  }
  if (!Number.isSafeInteger(size)) {
    throw new RangeError(`${fn}: shape ${shapeString(shape)} has ${size} elements, too many to index`);
  }
  return { shape: Object.freeze(shape.slice()), size };
}

/** Storage bytes: the packed length rounded up to whole u32 words, since devices upload it as u32s. */
function storageByteLength(bits: number, size: number): number {
  return Math.ceil(packedByteLength(bits, size) / 4) * 4;
}

/** A host tensor: `dtype` elements in row-major order, bit-packed little-endian in `data`. */
export class Tensor<D extends DType = DType> {
  readonly dtype: D;
  readonly shape: readonly number[];
  /** Number of elements: the product of `shape` (1 for a scalar, shape `[]`). */
  readonly size: number;
  /** Row-major element strides: `flat = sum(index[axis] * strides[axis])`. */
  readonly strides: readonly number[];
  /**
   * Packed storage (element i at bits [i*bits, (i+1)*bits)), zero-padded to a multiple of 4 bytes. Bits
   * past the last element are always zero, so `data` can be uploaded and compared as is.
   */
  readonly data: Uint8Array;

  // Callers go through the factories, which validate the shape and size the storage.
  private constructor(dtype: D, shape: readonly number[], size: number, data: Uint8Array) {
    this.dtype = dtype;
    this.shape = shape;
    this.size = size;
    const strides = new Array<number>(shape.length);
    let stride = 1;
    for (let axis = shape.length - 1; axis >= 0; axis--) {
      strides[axis] = stride;
      stride *= shape[axis];
    }
    this.strides = Object.freeze(strides);
    this.data = data;
  }

  /** A tensor of all-zero bit patterns (value 0 for every dtype). */
  static zeros<D extends DType>(dtype: D, shape: readonly number[]): Tensor<D> {
    const s = checkShape('Tensor.zeros', shape);
    return new Tensor(dtype, s.shape, s.size, new Uint8Array(storageByteLength(dtype.bits, s.size)));
  }

  /** Encodes `values` (row-major, rounded or wrapped per the dtype's rules) into a new tensor. */
  static fromArray<D extends DType>(
    dtype: D,
    shape: readonly number[],
    values: ArrayLike<number>,
  ): Tensor<D> {
    const s = checkShape('Tensor.fromArray', shape);
    if (values.length !== s.size) {
      throw new RangeError(
        `Tensor.fromArray: values has ${values.length} elements but shape ${shapeString(s.shape)} ` +
          `has ${s.size}; pass exactly ${s.size} values`,
      );
    }
    const patterns = new Uint32Array(s.size);
    for (let i = 0; i < s.size; i++) patterns[i] = encode(dtype, values[i]);
    const data = new Uint8Array(storageByteLength(dtype.bits, s.size));
    packBits(patterns, dtype.bits, data);
    return new Tensor(dtype, s.shape, s.size, data);
  }

  /** Copies packed bytes (as in `data`; extra trailing bytes are ignored) into a new tensor. */
  static fromBytes<D extends DType>(dtype: D, shape: readonly number[], bytes: Uint8Array): Tensor<D> {
    const s = checkShape('Tensor.fromBytes', shape);
    const need = packedByteLength(dtype.bits, s.size);
    if (bytes.length < need) {
      throw new RangeError(
        `Tensor.fromBytes: bytes has ${bytes.length} bytes but ${s.size} ${dtype.name} elements ` +
          `(shape ${shapeString(s.shape)}) need ${need}`,
      );
    }
    const data = new Uint8Array(storageByteLength(dtype.bits, s.size));
    data.set(bytes.subarray(0, need));
    // Keep the invariant that bits past the last element are zero.
    const usedBits = (s.size * dtype.bits) % 8;
    if (usedBits !== 0) data[need - 1] &= (1 << usedBits) - 1;
    return new Tensor(dtype, s.shape, s.size, data);
  }

  /** Element at a flat (row-major) index or a multi-index, decoded to its value. */
  get(index: number | readonly number[]): number {
    return decode(this.dtype, readBits(this.data, this.dtype.bits, this.flatIndex('get', index)));
  }

  /** Stores `value` (rounded or wrapped per the dtype's rules) at a flat index or multi-index. */
  set(index: number | readonly number[], value: number): void {
    writeBits(this.data, this.dtype.bits, this.flatIndex('set', index), encode(this.dtype, value));
  }

  /** The raw unsigned bit pattern at a flat index. */
  getPattern(flat: number): number {
    return readBits(this.data, this.dtype.bits, this.flatIndex('getPattern', flat));
  }

  /** Stores a raw bit pattern (an integer in [0, 2^bits)) at a flat index. */
  setPattern(flat: number, pattern: number): void {
    const i = this.flatIndex('setPattern', flat);
    const bits = this.dtype.bits;
    if (!Number.isInteger(pattern) || pattern < 0 || pattern >= 2 ** bits) {
      throw new RangeError(
        `${this}.setPattern: pattern ${pattern} is not a ${bits}-bit pattern (an integer in [0, 2^${bits})); ` +
          'use set() to store a value',
      );
    }
    writeBits(this.data, bits, i, pattern);
  }

  /** All raw bit patterns, row-major. */
  patterns(): Uint32Array {
    return unpackBits(this.data, this.dtype.bits, this.size);
  }

  /** All values, row-major, exactly as decoded (floats keep -0 and NaN). */
  toArray(): number[] {
    const p = this.patterns();
    const out = new Array<number>(p.length);
    for (let i = 0; i < p.length; i++) out[i] = decode(this.dtype, p[i]);
    return out;
  }

  /** All values as float32 (exact for every dtype except 32-bit integers beyond 2^24). */
  toFloat32Array(): Float32Array {
    const p = this.patterns();
    const out = new Float32Array(p.length);
    for (let i = 0; i < p.length; i++) out[i] = decode(this.dtype, p[i]);
    return out;
  }

  /** All values of an int or bool tensor as int32 (u32 values above 2^31 - 1 wrap, as Int32Array stores do). */
  toInt32Array(): Int32Array {
    if (this.dtype.kind === 'float') {
      throw new TypeError(
        `${this}.toInt32Array: ${this.dtype.name} is a float dtype; use toFloat32Array() (or toArray())`,
      );
    }
    const p = this.patterns();
    const out = new Int32Array(p.length);
    for (let i = 0; i < p.length; i++) out[i] = decode(this.dtype, p[i]);
    return out;
  }

  /** Sets every element to `value` (encoded once) and returns this tensor. */
  fill(value: number): this {
    const bits = this.dtype.bits;
    const chunk = new Uint32Array(Math.min(this.size, FILL_CHUNK)).fill(encode(this.dtype, value));
    for (let start = 0; start < this.size; start += chunk.length) {
      const n = Math.min(chunk.length, this.size - start);
      packBits(n === chunk.length ? chunk : chunk.subarray(0, n), bits, this.data, start);
    }
    return this;
  }

  /** A copy with its own storage. */
  clone(): Tensor<D> {
    return new Tensor(this.dtype, this.shape, this.size, this.data.slice());
  }

  /** `Tensor<dtype>[shape]`, e.g. `Tensor<u4>[2, 3]`. */
  toString(): string {
    return `Tensor<${this.dtype.name}>${shapeString(this.shape)}`;
  }

  /** Validates a flat index or multi-index (naming `method` in errors) and returns the flat index. */
  private flatIndex(method: string, index: number | readonly number[]): number {
    if (typeof index === 'number') {
      if (!Number.isInteger(index) || index < 0 || index >= this.size) {
        throw new RangeError(
          `${this}.${method}: flat index ${index} is out of bounds; it must be an integer in [0, ${this.size})`,
        );
      }
      return index;
    }
    const rank = this.shape.length;
    if (index.length !== rank) {
      throw new RangeError(
        `${this}.${method}: index ${shapeString(index)} has ${index.length} entries but the tensor has ` +
          `rank ${rank}; pass one index per axis (or a flat number index)`,
      );
    }
    let flat = 0;
    for (let axis = 0; axis < rank; axis++) {
      const i = index[axis];
      const extent = this.shape[axis];
      if (!Number.isInteger(i) || i < 0 || i >= extent) {
        throw new RangeError(
          `${this}.${method}: index ${i} is out of bounds for axis ${axis} with extent ${extent} ` +
            `(index ${shapeString(index)})`,
        );
      }
      flat += i * this.strides[axis];
    }
    return flat;
  }
}
