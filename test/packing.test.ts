import { describe, expect, it } from 'vitest';
import { packBits, packedByteLength, readBits, unpackBits, writeBits } from '../dsl/packing.js';
import { randomInt, rng } from './helpers/random.js';

const WIDTHS = Array.from({ length: 32 }, (_, i) => i + 1);

// Independent reference: walk the bit string one bit at a time (bit j = bit j % 8 of byte floor(j / 8)).
function refRead(bytes: Uint8Array, bits: number, index: number): number {
  let p = 0;
  for (let b = 0; b < bits; b++) {
    const j = index * bits + b;
    const bit = (bytes[Math.floor(j / 8)] >> (j % 8)) & 1;
    p += bit * 2 ** b;
  }
  return p;
}

function refWrite(bytes: Uint8Array, bits: number, index: number, pattern: number): void {
  for (let b = 0; b < bits; b++) {
    const j = index * bits + b;
    const bit = Math.floor(pattern / 2 ** b) % 2;
    const byte = Math.floor(j / 8);
    bytes[byte] = bit ? bytes[byte] | (1 << (j % 8)) : bytes[byte] & ~(1 << (j % 8));
  }
}

function randomBytes(r: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = randomInt(r, 0, 255);
  return out;
}

/** A copy of `bytes` viewed at byte offset `offset` of a larger buffer, to exercise unaligned views. */
function atOffset(bytes: Uint8Array, offset: number): Uint8Array {
  const view = new Uint8Array(offset + bytes.length).subarray(offset);
  view.set(bytes);
  return view;
}

/** Random `bits`-bit patterns, never all zero, biased to include the extremes 0 and 2^bits - 1. */
function randomPatterns(r: () => number, bits: number, n: number): number[] {
  const max = 2 ** bits - 1;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const c = r();
    out.push(c < 0.1 ? 0 : c < 0.2 ? max : randomInt(r, 0, max));
  }
  if (!out.some((p) => p !== 0)) out[n - 1] = max;
  return out;
}

function firstDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

describe('packedByteLength', () => {
  it('is ceil(count * bits / 8)', () => {
    expect(packedByteLength(4, 3)).toBe(2);
    expect(packedByteLength(3, 3)).toBe(2);
    expect(packedByteLength(3, 8)).toBe(3);
    expect(packedByteLength(1, 9)).toBe(2);
    expect(packedByteLength(32, 5)).toBe(20);
    expect(packedByteLength(7, 0)).toBe(0);
    expect(packedByteLength(32, 2 ** 31)).toBe(2 ** 33);
    for (const bits of WIDTHS) {
      for (let n = 0; n <= 70; n++) expect(packedByteLength(bits, n)).toBe(Math.ceil((n * bits) / 8));
    }
  });
});

describe('known byte layouts', () => {
  it('u4 [1, 2, 3] -> [0x21, 0x03]', () => {
    expect([...packBits([1, 2, 3], 4)]).toEqual([0x21, 0x03]);
    expect([...unpackBits(new Uint8Array([0x21, 0x03]), 4, 3)]).toEqual([1, 2, 3]);
  });

  it('3-bit elements straddle bytes', () => {
    // 5 = 101, 3 = 011, 7 = 111 -> bit string 1,0,1, 1,1,0, 1,1 | 1 -> 0b11011101, 0b1
    expect([...packBits([5, 3, 7], 3)]).toEqual([0xdd, 0x01]);
    expect([...unpackBits(new Uint8Array([0xdd, 0x01]), 3, 3)]).toEqual([5, 3, 7]);
    expect(readBits(new Uint8Array([0xdd, 0x01]), 3, 2)).toBe(7);
  });

  it('other widths', () => {
    expect([...packBits([1, 0, 1, 1, 0, 0, 0, 0, 1], 1)]).toEqual([0x0d, 0x01]);
    expect([...packBits([31, 0, 31], 5)]).toEqual([0x1f, 0x7c]);
    expect([...packBits([0x7f, 1], 7)]).toEqual([0xff, 0x00]);
    expect([...packBits([0x3f, 0, 0x3f], 6)]).toEqual([0x3f, 0xf0, 0x03]);
    expect([...packBits([0xabc, 0x123], 12)]).toEqual([0xbc, 0x3a, 0x12]);
    expect([...packBits([0x1234, 0xabcd], 16)]).toEqual([0x34, 0x12, 0xcd, 0xab]);
    expect([...packBits([0x123456], 24)]).toEqual([0x56, 0x34, 0x12]);
    expect([...packBits([0xdeadbeef], 32)]).toEqual([0xef, 0xbe, 0xad, 0xde]);
    expect([...unpackBits(new Uint8Array([0xef, 0xbe, 0xad, 0xde]), 32, 1)]).toEqual([0xdeadbeef]);
    // 31-bit all-ones then 1: element 1 starts at bit 31 and straddles the 32-bit word boundary.
    expect([...packBits([0x7fffffff, 1], 31)]).toEqual([0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00]);
    expect([...packBits([0, 0x7fffffff], 31)]).toEqual([0, 0, 0, 0x80, 0xff, 0xff, 0xff, 0x3f]);
  });

  it('i4 -1, -8 stored as two-complement low bits', () => {
    // encode(i4, -1) = 0xf, encode(i4, -8) = 0x8
    expect([...packBits([0xf, 0x8], 4)]).toEqual([0x8f]);
  });
});

describe.each(WIDTHS)('%i-bit elements', (bits) => {
  it('packBits matches the bit-by-bit reference for lengths 1..70 and start 0..9, other bits untouched', () => {
    const r = rng(1000 + bits);
    for (let len = 1; len <= 70; len++) {
      for (let start = 0; start <= 9; start++) {
        const n = packedByteLength(bits, start + len) + randomInt(r, 0, 3);
        const before = randomBytes(r, n);
        const patterns = randomPatterns(r, bits, len);
        const expected = before.slice();
        for (let i = 0; i < len; i++) refWrite(expected, bits, start + i, patterns[i]);

        const buf = atOffset(before, randomInt(r, 0, 3));
        const ret = packBits(patterns, bits, buf, start);
        expect(ret).toBe(buf);
        const d = firstDiff(buf, expected);
        if (d >= 0) {
          expect.fail(`len ${len} start ${start}: byte ${d} is ${buf[d]}, expected ${expected[d]}`);
        }

        const back = unpackBits(buf, bits, len, start);
        const d2 = firstDiff(back, patterns);
        if (d2 >= 0)
          expect.fail(`len ${len} start ${start}: element ${d2} is ${back[d2]}, packed ${patterns[d2]}`);
      }
    }
  });

  it('unpackBits and readBits match the reference on random bytes', () => {
    const r = rng(2000 + bits);
    for (let len = 0; len <= 70; len++) {
      for (let start = 0; start <= 9; start++) {
        // Exactly the bytes needed, so a read past the last element's byte would show up as undefined.
        const bytes = atOffset(randomBytes(r, packedByteLength(bits, start + len)), randomInt(r, 0, 3));
        const got = unpackBits(bytes, bits, len, start);
        expect(got.length).toBe(len);
        for (let i = 0; i < len; i++) {
          const want = refRead(bytes, bits, start + i);
          if (got[i] !== want)
            expect.fail(`len ${len} start ${start}: element ${i} is ${got[i]}, want ${want}`);
          const one = readBits(bytes, bits, start + i);
          if (one !== want) expect.fail(`readBits(${start + i}) is ${one}, want ${want}`);
        }
      }
    }
  });

  it('writeBits changes exactly one element', () => {
    const r = rng(3000 + bits);
    for (let trial = 0; trial < 300; trial++) {
      const count = randomInt(r, 1, 80);
      const bytes = randomBytes(r, packedByteLength(bits, count) + randomInt(r, 0, 2));
      const index = randomInt(r, 0, count - 1);
      const pattern = randomPatterns(r, bits, 1)[0];
      const expected = bytes.slice();
      refWrite(expected, bits, index, pattern);
      writeBits(bytes, bits, index, pattern);
      const d = firstDiff(bytes, expected);
      if (d >= 0)
        expect.fail(`index ${index} pattern ${pattern}: byte ${d} is ${bytes[d]}, want ${expected[d]}`);
      expect(readBits(bytes, bits, index)).toBe(pattern);
    }
  });

  it('packs into a fresh zeroed buffer and into a larger out array', () => {
    const r = rng(4000 + bits);
    const patterns = randomPatterns(r, bits, 37);
    const packed = packBits(Uint32Array.from(patterns), bits, undefined, 3);
    expect(packed.length).toBe(packedByteLength(bits, 40));
    const out = new Uint32Array(50).fill(0xaaaaaaaa);
    const ret = unpackBits(packed, bits, 37, 3, out);
    expect(ret).toBe(out);
    expect([...out.subarray(0, 37)]).toEqual(patterns);
    expect(out[37]).toBe(0xaaaaaaaa);
    expect([...unpackBits(packed, bits, 3)]).toEqual([0, 0, 0]);
    // Trailing bits of the last byte stay zero.
    const used = 40 * bits;
    if (used % 8 !== 0) expect(packed[packed.length - 1] >> (used % 8)).toBe(0);
  });
});

describe('extreme patterns', () => {
  it('round-trips 0 and 2^bits - 1 at every width', () => {
    for (const bits of WIDTHS) {
      const max = 2 ** bits - 1;
      const patterns = [max, 0, max, max, 0, 1, max - 1];
      expect([...unpackBits(packBits(patterns, bits), bits, patterns.length)]).toEqual(patterns);
    }
  });

  it('reads 32-bit patterns as unsigned', () => {
    const bytes = packBits([0x80000000, 0xffffffff], 32);
    expect(readBits(bytes, 32, 0)).toBe(0x80000000);
    expect(readBits(bytes, 32, 1)).toBe(0xffffffff);
  });

  it('works on a subarray with a nonzero byteOffset', () => {
    const backing = new Uint8Array(16).fill(0xff);
    const view = backing.subarray(3, 11);
    packBits([1, 2, 3, 4], 16, view);
    expect([...backing]).toEqual([0xff, 0xff, 0xff, 1, 0, 2, 0, 3, 0, 4, 0, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect([...unpackBits(view, 16, 4)]).toEqual([1, 2, 3, 4]);
  });
});

describe('argument validation', () => {
  const bytes = new Uint8Array(4);

  it('rejects bits outside 1..32', () => {
    for (const bits of [0, 33, -1, 1.5, Number.NaN]) {
      expect(() => packedByteLength(bits, 1)).toThrow(RangeError);
      expect(() => readBits(bytes, bits, 0)).toThrow(/bits must be an integer from 1 to 32/);
      expect(() => writeBits(bytes, bits, 0, 0)).toThrow(/bits must be an integer from 1 to 32/);
      expect(() => packBits([0], bits)).toThrow(/bits must be an integer from 1 to 32/);
      expect(() => unpackBits(bytes, bits, 1)).toThrow(/bits must be an integer from 1 to 32/);
    }
  });

  it('rejects negative or fractional indices and counts', () => {
    expect(() => readBits(bytes, 4, -1)).toThrow(/readBits: index must be a non-negative integer, got -1/);
    expect(() => writeBits(bytes, 4, 0.5, 0)).toThrow(/index must be a non-negative integer/);
    expect(() => packBits([1], 4, bytes, -2)).toThrow(/startElement must be a non-negative integer/);
    expect(() => unpackBits(bytes, 4, -1)).toThrow(/count must be a non-negative integer/);
    expect(() => unpackBits(bytes, 4, 1, -1)).toThrow(/startElement must be a non-negative integer/);
    expect(() => packedByteLength(4, -3)).toThrow(/count must be a non-negative integer/);
  });

  it('rejects buffers that are too small, naming the size needed', () => {
    expect(() => readBits(bytes, 4, 8)).toThrow(
      /readBits: bytes has 4 bytes but elements \[0, 9\) of 4 bits need 5; allocate at least packedByteLength\(4, 9\)/,
    );
    expect(() => writeBits(bytes, 3, 11, 0)).toThrow(/need 5/);
    expect(() => packBits([1, 2, 3], 16, bytes)).toThrow(/packBits: out has 4 bytes but .* need 6/);
    expect(() => packBits([1], 16, bytes, 2)).toThrow(/out has 4 bytes/);
    expect(() => unpackBits(bytes, 5, 7)).toThrow(/unpackBits: bytes has 4 bytes .* need 5/);
    expect(() => unpackBits(bytes, 4, 3, 0, new Uint32Array(2))).toThrow(
      /unpackBits: out has 2 entries but count is 3/,
    );
    // The last element that fits is fine.
    expect(readBits(bytes, 4, 7)).toBe(0);
    expect(readBits(bytes, 3, 9)).toBe(0);
  });

  it('rejects patterns that are not unsigned bits-bit integers, without writing anything', () => {
    const buf = new Uint8Array([1, 2, 3, 4]);
    expect(() => writeBits(buf, 4, 0, 16)).toThrow(/pattern must be an integer in \[0, 2\^4\), got 16/);
    expect(() => writeBits(buf, 4, 0, -1)).toThrow(/encode\(dtype, value\)/);
    expect(() => writeBits(buf, 32, 0, 2 ** 32)).toThrow(RangeError);
    expect(() => writeBits(buf, 8, 0, 1.5)).toThrow(RangeError);
    expect(() => packBits([1, 2, Number.NaN], 8, buf)).toThrow(/patterns\[2\] must be an integer/);
    expect([...buf]).toEqual([1, 2, 3, 4]);
  });

  it('accepts empty inputs', () => {
    expect(packBits([], 7).length).toBe(0);
    expect(unpackBits(new Uint8Array(0), 7, 0).length).toBe(0);
  });
});
