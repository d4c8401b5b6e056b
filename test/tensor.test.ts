import { describe, expect, it } from 'vitest';
import {
  ALL_DTYPES,
  bool,
  type DType,
  decode,
  encode,
  f4e2m1,
  f8e4m3,
  f16,
  f32,
  i4,
  i32,
  u3,
  u4,
  u8,
  u32,
} from '../dsl/dtype.js';
import { packBits, packedByteLength } from '../dsl/packing.js';
import { Tensor } from '../dsl/tensor.js';
import { randomInt, rng } from './helpers/random.js';

const SHAPES: readonly (readonly number[])[] = [[], [1], [7], [3, 5], [2, 3, 4], [1, 9, 1], [33]];

function randomPattern(r: () => number, bits: number): number {
  return randomInt(r, 0, 2 ** bits - 1);
}

/** Representable values of `dtype`: decoded random patterns (never all zero). */
function randomValues(r: () => number, dtype: DType, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(decode(dtype, randomPattern(r, dtype.bits)));
  if (n > 0 && !out.some((v) => v !== 0)) out[0] = decode(dtype, 1);
  return out;
}

function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Bit j of the storage, bit j % 8 of byte floor(j / 8). */
function bitAt(bytes: Uint8Array, j: number): number {
  return (bytes[Math.floor(j / 8)] >> (j % 8)) & 1;
}

/** Asserts the storage invariants: length a multiple of 4 covering the elements, padding bits zero. */
function expectStorage(t: Tensor): void {
  const packed = packedByteLength(t.dtype.bits, t.size);
  expect(t.data.length % 4).toBe(0);
  expect(t.data.length).toBe(Math.ceil(packed / 4) * 4);
  for (let j = t.size * t.dtype.bits; j < t.data.length * 8; j++) {
    if (bitAt(t.data, j) !== 0) expect.fail(`${t}: padding bit ${j} is set`);
  }
}

/** Same value, telling -0 from +0 and treating NaN as equal to NaN. */
function sameValue(a: number, b: number): boolean {
  return Object.is(a, b);
}

function expectSameValues(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!sameValue(got[i], want[i])) expect.fail(`${what}: element ${i} is ${got[i]}, want ${want[i]}`);
  }
}

describe.each(ALL_DTYPES.map((d) => [d.name, d] as const))('Tensor<%s>', (_name, dtype) => {
  it('fromArray / get / toArray round-trip representable values', () => {
    const r = rng(dtype.bits * 1000 + dtype.name.length);
    for (const shape of SHAPES) {
      const values = randomValues(r, dtype, sizeOf(shape));
      const t = Tensor.fromArray(dtype, shape, values);
      expect(t.dtype).toBe(dtype);
      expect(t.shape).toEqual(shape);
      expect(t.size).toBe(values.length);
      expectSameValues(t.toArray(), values, `${t}.toArray`);
      for (let i = 0; i < values.length; i++) {
        if (!sameValue(t.get(i), values[i])) expect.fail(`${t}.get(${i}) is ${t.get(i)}, want ${values[i]}`);
        expect(t.getPattern(i)).toBe(encode(dtype, values[i]));
      }
      expectStorage(t);
      // The storage is exactly the packed encoded patterns.
      const patterns = values.map((v) => encode(dtype, v));
      const packed = packBits(patterns, dtype.bits);
      expect([...t.data.subarray(0, packed.length)]).toEqual([...packed]);
      expect([...t.patterns()]).toEqual(patterns);
    }
  });

  it('fromBytes copies the packed patterns and clears padding bits', () => {
    const r = rng(7 + dtype.bits);
    const shape = [5, 3];
    const need = packedByteLength(dtype.bits, 15);
    const bytes = new Uint8Array(need + 3);
    for (let i = 0; i < bytes.length; i++) bytes[i] = randomInt(r, 1, 255);
    const t = Tensor.fromBytes(dtype, shape, bytes);
    expectStorage(t);
    for (let i = 0; i < 15; i++) {
      let p = 0;
      for (let b = 0; b < dtype.bits; b++) p += bitAt(bytes, i * dtype.bits + b) * 2 ** b;
      expect(t.getPattern(i)).toBe(p);
      expect(sameValue(t.get(i), decode(dtype, p))).toBe(true);
    }
    const before = t.getPattern(0);
    bytes.fill(0);
    expect(t.getPattern(0)).toBe(before);
  });

  it('set / get at multi-indices leaves other elements alone', () => {
    const r = rng(99 + dtype.bits);
    const shape = [3, 4, 5];
    const values = randomValues(r, dtype, 60);
    const t = Tensor.fromArray(dtype, shape, values);
    for (let trial = 0; trial < 40; trial++) {
      const idx = [randomInt(r, 0, 2), randomInt(r, 0, 3), randomInt(r, 0, 4)];
      const v = randomValues(r, dtype, 1)[0];
      t.set(idx, v);
      values[idx[0] * 20 + idx[1] * 5 + idx[2]] = v;
      expect(sameValue(t.get(idx), v)).toBe(true);
    }
    expectSameValues(t.toArray(), values, `${t}`);
    expectStorage(t);
  });

  it('fill sets every element and keeps padding zero; clone is independent', () => {
    const r = rng(5 + dtype.bits);
    const t = Tensor.zeros(dtype, [11]);
    const v = randomValues(r, dtype, 1)[0];
    expect(t.fill(v)).toBe(t);
    expectSameValues(t.toArray(), new Array(11).fill(v), `${t}.fill`);
    expectStorage(t);
    const c = t.clone();
    expect(c).not.toBe(t);
    expect(c.data).not.toBe(t.data);
    c.setPattern(3, 0);
    expect(t.getPattern(3)).toBe(encode(dtype, v));
    expect(c.getPattern(3)).toBe(0);
  });

  it('toInt32Array for int and bool, TypeError for floats; toFloat32Array', () => {
    const r = rng(11 + dtype.bits);
    const values = randomValues(r, dtype, 20);
    const t = Tensor.fromArray(dtype, [20], values);
    expectSameValues(t.toFloat32Array(), Float32Array.from(values), `${t}.toFloat32Array`);
    if (dtype.kind === 'float') {
      expect(() => t.toInt32Array()).toThrow(TypeError);
      expect(() => t.toInt32Array()).toThrow(/toFloat32Array/);
    } else {
      expectSameValues(t.toInt32Array(), Int32Array.from(values), `${t}.toInt32Array`);
    }
  });
});

describe('Tensor', () => {
  it('known storage layouts', () => {
    expect([...Tensor.fromArray(u4, [3], [1, 2, 3]).data]).toEqual([0x21, 0x03, 0, 0]);
    expect([...Tensor.fromArray(u3, [3], [5, 3, 7]).data]).toEqual([0xdd, 0x01, 0, 0]);
    expect([...Tensor.fromArray(i4, [2], [-1, -8]).data]).toEqual([0x8f, 0, 0, 0]);
    expect([...Tensor.fromArray(f16, [1], [1]).data]).toEqual([0x00, 0x3c, 0, 0]);
    expect([...Tensor.fromArray(u8, [5], [1, 2, 3, 4, 5]).data]).toEqual([1, 2, 3, 4, 5, 0, 0, 0]);
    expect(Tensor.fromArray(f32, [2], [1, -2]).data.length).toBe(8);
  });

  it('encodes with the dtype rules: wrap, round, saturate, bool', () => {
    expect(Tensor.fromArray(u4, [4], [16, -1, 17, 3.9]).toArray()).toEqual([0, 15, 1, 3]);
    expect(Tensor.fromArray(i4, [2], [8, -9]).toArray()).toEqual([-8, 7]);
    expect(Tensor.fromArray(f4e2m1, [4], [7, 1.25, -100, 0.2]).toArray()).toEqual([6, 1, -6, 0]);
    expect(Tensor.fromArray(f8e4m3, [1], [1000]).toArray()).toEqual([448]);
    expect(Tensor.fromArray(bool, [3], [2, 0, -1]).toArray()).toEqual([1, 0, 1]);
    const neg0 = Tensor.fromArray(f16, [1], [-0]).get(0);
    expect(Object.is(neg0, -0)).toBe(true);
  });

  it('toInt32Array wraps u32 values above 2^31 - 1', () => {
    const t = Tensor.fromArray(u32, [3], [0xffffffff, 0x80000000, 5]);
    expect(t.toArray()).toEqual([0xffffffff, 0x80000000, 5]);
    expect([...t.toInt32Array()]).toEqual([-1, -0x80000000, 5]);
    expect([...Tensor.fromArray(i32, [2], [-5, 2 ** 31 - 1]).toInt32Array()]).toEqual([-5, 2 ** 31 - 1]);
    expect(() => Tensor.zeros(f32, [1]).toInt32Array()).toThrow(
      /Tensor<f32>\[1\]\.toInt32Array: f32 is a float dtype; use toFloat32Array\(\)/,
    );
  });

  it('shape, size and row-major strides', () => {
    const t = Tensor.zeros(u4, [2, 3, 4]);
    expect(t.size).toBe(24);
    expect(t.strides).toEqual([12, 4, 1]);
    expect(t.data.length).toBe(12);
    expect(String(t)).toBe('Tensor<u4>[2, 3, 4]');
    const s = Tensor.fromArray(i4, [], [-3]);
    expect(s.size).toBe(1);
    expect(s.strides).toEqual([]);
    expect(s.get([])).toBe(-3);
    expect(s.get(0)).toBe(-3);
    expect(s.toString()).toBe('Tensor<i4>[]');
    const empty = Tensor.zeros(f16, [2, 0, 3]);
    expect(empty.size).toBe(0);
    expect(empty.strides).toEqual([0, 3, 1]);
    expect(empty.data.length).toBe(0);
    expect(empty.toArray()).toEqual([]);
    expect(empty.fill(1).toArray()).toEqual([]);
  });

  it('multi-index and flat index address the same element', () => {
    const values = Array.from({ length: 24 }, (_, i) => i - 12);
    const t = Tensor.fromArray(i32, [2, 3, 4], values);
    expect(t.get([1, 2, 3])).toBe(11);
    expect(t.get([0, 1, 2])).toBe(6 - 12);
    expect(t.get(17)).toBe(5);
    t.set([1, 0, 1], 100);
    expect(t.get(13)).toBe(100);
  });

  it('the shape is a frozen copy', () => {
    const shape = [2, 2];
    const t = Tensor.zeros(u8, shape);
    shape[0] = 5;
    expect(t.shape).toEqual([2, 2]);
    expect(Object.isFrozen(t.shape)).toBe(true);
    expect(Object.isFrozen(t.strides)).toBe(true);
  });

  it('fill over more than one internal chunk', () => {
    const t = Tensor.fromArray(u3, [10000], new Array(10000).fill(2));
    t.fill(5);
    expect(t.toArray().every((v) => v === 5)).toBe(true);
    expectStorage(t);
  });

  it('fromBytes zeroes trailing bits of the last byte', () => {
    const t = Tensor.fromBytes(u3, [3], new Uint8Array([0xff, 0xff, 0xff]));
    expect(t.toArray()).toEqual([7, 7, 7]);
    expect([...t.data]).toEqual([0xff, 0x01, 0, 0]);
  });

  describe('errors', () => {
    it('rejects bad shapes, naming the dimension and value', () => {
      expect(() => Tensor.zeros(u4, [2, -1])).toThrow(
        /Tensor\.zeros: shape \[2, -1\] has dimension 1 = -1; each dimension must be a non-negative integer/,
      );
      expect(() => Tensor.fromArray(u4, [1.5], [0])).toThrow(/dimension 0 = 1\.5/);
      expect(() => Tensor.fromBytes(u4, [3, Number.NaN], new Uint8Array(4))).toThrow(/dimension 1 = NaN/);
      expect(() => Tensor.zeros(u4, [2 ** 30, 2 ** 30, 2 ** 30])).toThrow(/too many to index/);
    });

    it('rejects a values length mismatch, naming both lengths', () => {
      expect(() => Tensor.fromArray(u4, [2, 3], [1, 2, 3, 4, 5])).toThrow(
        /Tensor\.fromArray: values has 5 elements but shape \[2, 3\] has 6/,
      );
    });

    it('rejects short byte arrays', () => {
      expect(() => Tensor.fromBytes(u3, [2, 3], new Uint8Array(2))).toThrow(
        /Tensor\.fromBytes: bytes has 2 bytes but 6 u3 elements \(shape \[2, 3\]\) need 3/,
      );
    });

    it('rejects out-of-bounds indices, naming the axis, index and extent', () => {
      const t = Tensor.zeros(u4, [2, 3]);
      expect(() => t.get([1, 3])).toThrow(
        /Tensor<u4>\[2, 3\]\.get: index 3 is out of bounds for axis 1 with extent 3/,
      );
      expect(() => t.set([-1, 0], 1)).toThrow(/set: index -1 is out of bounds for axis 0 with extent 2/);
      expect(() => t.get([0.5, 0])).toThrow(/index 0\.5 is out of bounds for axis 0/);
      expect(() => t.get([1])).toThrow(/index \[1\] has 1 entries but the tensor has rank 2/);
      expect(() => t.get(6)).toThrow(/get: flat index 6 is out of bounds; it must be an integer in \[0, 6\)/);
      expect(() => t.getPattern(-1)).toThrow(/getPattern: flat index -1/);
      expect(() => t.setPattern(1.5, 0)).toThrow(/setPattern: flat index 1\.5/);
    });

    it('rejects patterns that do not fit the dtype', () => {
      const t = Tensor.zeros(u4, [2]);
      expect(() => t.setPattern(0, 16)).toThrow(/setPattern: pattern 16 is not a 4-bit pattern/);
      expect(() => t.setPattern(0, -1)).toThrow(/use set\(\) to store a value/);
      expect(t.toArray()).toEqual([0, 0]);
      t.setPattern(1, 15);
      expect(t.get(1)).toBe(15);
    });
  });
});
