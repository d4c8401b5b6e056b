// Dense little-endian bit packing (docs/dtypes.md, "Packing").
//
// Element i of a k-bit array occupies bits [i*k, (i+1)*k) of the bit string, where bit j is bit j % 8 of
// byte floor(j / 8). These functions move unsigned k-bit patterns (1 <= k <= 32) in and out of that
// layout; they know nothing about dtypes (see dtype.ts for encode/decode).
//
// Bit positions are computed with ordinary (float64) arithmetic rather than 32-bit shifts, so arrays of
// up to 2^31 elements of 32 bits (2^36 bit positions) index correctly.

// Aligned 16- and 32-bit data can be viewed as a typed array, whose elements are in platform byte order.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Checks that `bits` is an integer in 1..32. */
function checkBits(fn: string, bits: number): void {
  if (!Number.isInteger(bits) || bits < 1 || bits > 32) {
    throw new RangeError(`${fn}: bits must be an integer from 1 to 32, got ${bits}`);
  }
}

function checkNonNegativeInteger(fn: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) {
    throw new RangeError(`${fn}: ${name} must be a non-negative integer, got ${value}`);
  }
}

/** Checks that `bytes` holds elements [0, end) of a `bits`-bit array. */
function checkFits(fn: string, name: string, bytes: Uint8Array, bits: number, end: number): void {
  const need = packedByteLength(bits, end);
  if (bytes.length < need) {
    throw new RangeError(
      `${fn}: ${name} has ${bytes.length} bytes but elements [0, ${end}) of ${bits} bits need ${need}; ` +
        `allocate at least packedByteLength(${bits}, ${end}) bytes`,
    );
  }
}

/** Checks that `pattern` is an unsigned `bits`-bit integer; `what` names it in the message. */
function checkPattern(fn: string, what: string, bits: number, pattern: number): void {
  // `p & mask` (or `p >>> 0` for 32 bits) equals p only for integers in [0, 2^bits); this also rejects
  // NaN, fractions and negative numbers, which are values rather than patterns (encode them first).
  const ok = bits === 32 ? pattern >>> 0 === pattern : (pattern & ((1 << bits) - 1)) === pattern;
  if (!ok) {
    throw new RangeError(
      `${fn}: ${what} must be an integer in [0, 2^${bits}), got ${pattern}; ` +
        'pass encoded bit patterns (encode(dtype, value)), not values',
    );
  }
}

/** Bytes needed to store `count` elements of `bits` bits: ceil(count * bits / 8). */
export function packedByteLength(bits: number, count: number): number {
  checkBits('packedByteLength', bits);
  checkNonNegativeInteger('packedByteLength', 'count', count);
  return Math.ceil((count * bits) / 8);
}

/** The unsigned `bits`-bit pattern of element `index`. */
export function readBits(bytes: Uint8Array, bits: number, index: number): number {
  checkBits('readBits', bits);
  checkNonNegativeInteger('readBits', 'index', index);
  checkFits('readBits', 'bytes', bytes, bits, index + 1);
  switch (bits) {
    case 8:
      return bytes[index];
    case 16: {
      const o = index * 2;
      return bytes[o] | (bytes[o + 1] << 8);
    }
    case 32: {
      const o = index * 4;
      return (bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) | (bytes[o + 3] << 24)) >>> 0;
    }
  }
  const bitPos = index * bits;
  const byte = Math.floor(bitPos / 8);
  const shift = bitPos - byte * 8;
  const nBytes = (shift + bits + 7) >> 3;
  if (shift + bits <= 31) {
    // Fits in a non-negative int32 after the shift.
    let v = 0;
    for (let k = 0; k < nBytes; k++) v |= bytes[byte + k] << (8 * k);
    return (v >>> shift) & ((1 << bits) - 1);
  }
  // Up to 39 bits (7 of shift + 32): combine in float64, which is exact below 2^53.
  let v = 0;
  for (let k = 0; k < nBytes; k++) v += bytes[byte + k] * 2 ** (8 * k);
  return Math.floor(v / 2 ** shift) % 2 ** bits;
}

/** Writes `pattern` (an unsigned `bits`-bit integer) as element `index`, leaving all other bits as they are. */
export function writeBits(bytes: Uint8Array, bits: number, index: number, pattern: number): void {
  checkBits('writeBits', bits);
  checkNonNegativeInteger('writeBits', 'index', index);
  checkFits('writeBits', 'bytes', bytes, bits, index + 1);
  checkPattern('writeBits', 'pattern', bits, pattern);
  writeUnchecked(bytes, bits, index, pattern);
}

function writeUnchecked(bytes: Uint8Array, bits: number, index: number, pattern: number): void {
  if (bits % 8 === 0) {
    // Byte-aligned widths: plain little-endian bytes (Uint8Array stores keep the low 8 bits).
    const o = index * (bits >> 3);
    for (let k = 0; k < bits >> 3; k++) bytes[o + k] = pattern >>> (8 * k);
    return;
  }
  const bitPos = index * bits;
  const byte = Math.floor(bitPos / 8);
  const shift = bitPos - byte * 8;
  // For each byte the element touches, replace just the bits [lo, hi) of the element that land there.
  for (let lo = 0; lo < bits; ) {
    const at = shift + lo; // position in the window starting at `byte`
    const k = at >> 3;
    const inByte = at & 7;
    const n = Math.min(bits - lo, 8 - inByte);
    const part = Math.floor(pattern / 2 ** lo) & ((1 << n) - 1);
    const mask = ((1 << n) - 1) << inByte;
    bytes[byte + k] = (bytes[byte + k] & ~mask) | (part << inByte);
    lo += n;
  }
}

/**
 * Packs `patterns[i]` as element `startElement + i` of `out` (allocated as packedByteLength(bits,
 * startElement + patterns.length) zero bytes when omitted) and returns `out`. Bits outside the written
 * elements keep their values.
 */
export function packBits(
  patterns: ArrayLike<number>,
  bits: number,
  out?: Uint8Array,
  startElement = 0,
): Uint8Array {
  checkBits('packBits', bits);
  checkNonNegativeInteger('packBits', 'startElement', startElement);
  const count = patterns.length;
  const end = startElement + count;
  if (out === undefined) out = new Uint8Array(packedByteLength(bits, end));
  else checkFits('packBits', 'out', out, bits, end);
  // Validate everything before writing anything; the message is built only on failure.
  const mask = bits === 32 ? -1 : (1 << bits) - 1;
  for (let i = 0; i < count; i++) {
    const p = patterns[i];
    if (!(bits === 32 ? p >>> 0 === p : (p & mask) === p))
      checkPattern('packBits', `patterns[${i}]`, bits, p);
  }
  if (count === 0) return out;

  if (bits % 8 === 0) {
    const w = bits >> 3;
    let o = startElement * w;
    if (w === 1) {
      for (let i = 0; i < count; i++) out[o++] = patterns[i];
    } else {
      for (let i = 0; i < count; i++) {
        const p = patterns[i];
        for (let k = 0; k < w; k++) out[o++] = p >>> (8 * k);
      }
    }
    return out;
  }

  // Stream the patterns through an accumulator holding the pending low bits of the current byte. The
  // first byte's bits below the start position (earlier elements) are kept; so are the last byte's bits
  // above the end position (later elements or padding).
  const bitPos = startElement * bits;
  let o = Math.floor(bitPos / 8);
  let accBits = bitPos - o * 8;
  let acc = out[o] & ((1 << accBits) - 1);
  // Widths above 24 are pushed as two halves so the accumulator (< 8 pending + <= 24 new bits) stays
  // within a non-negative int32.
  const split = bits > 24;
  const loBits = split ? 16 : bits;
  const hiBits = bits - loBits;
  for (let i = 0; i < count; i++) {
    const p = patterns[i];
    acc |= (split ? p & 0xffff : p) << accBits;
    accBits += loBits;
    while (accBits >= 8) {
      out[o++] = acc;
      acc >>>= 8;
      accBits -= 8;
    }
    if (split) {
      acc |= (p >>> 16) << accBits;
      accBits += hiBits;
      while (accBits >= 8) {
        out[o++] = acc;
        acc >>>= 8;
        accBits -= 8;
      }
    }
  }
  if (accBits > 0) {
    const keep = 0xff & ~((1 << accBits) - 1);
    out[o] = (out[o] & keep) | acc;
  }
  return out;
}

/**
 * Unpacks elements [startElement, startElement + count) of a `bits`-bit array into `out` (allocated
 * when omitted; must hold at least `count` entries) and returns `out`.
 */
export function unpackBits(
  bytes: Uint8Array,
  bits: number,
  count: number,
  startElement = 0,
  out?: Uint32Array,
): Uint32Array {
  checkBits('unpackBits', bits);
  checkNonNegativeInteger('unpackBits', 'count', count);
  checkNonNegativeInteger('unpackBits', 'startElement', startElement);
  checkFits('unpackBits', 'bytes', bytes, bits, startElement + count);
  if (out === undefined) out = new Uint32Array(count);
  else if (out.length < count) {
    throw new RangeError(
      `unpackBits: out has ${out.length} entries but count is ${count}; pass an out of length >= count`,
    );
  }
  if (count === 0) return out;

  switch (bits) {
    case 8:
      out.set(bytes.subarray(startElement, startElement + count));
      return out;
    case 16: {
      let o = startElement * 2;
      if (LITTLE_ENDIAN && (bytes.byteOffset + o) % 2 === 0) {
        out.set(new Uint16Array(bytes.buffer, bytes.byteOffset + o, count));
        return out;
      }
      for (let i = 0; i < count; i++, o += 2) out[i] = bytes[o] | (bytes[o + 1] << 8);
      return out;
    }
    case 24: {
      let o = startElement * 3;
      for (let i = 0; i < count; i++, o += 3) out[i] = bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16);
      return out;
    }
    case 32: {
      let o = startElement * 4;
      if (LITTLE_ENDIAN && (bytes.byteOffset + o) % 4 === 0) {
        out.set(new Uint32Array(bytes.buffer, bytes.byteOffset + o, count));
        return out;
      }
      // Uint32Array stores take the value modulo 2^32, so the int32 result of `|` needs no `>>> 0`.
      for (let i = 0; i < count; i++, o += 4) {
        out[i] = bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) | (bytes[o + 3] << 24);
      }
      return out;
    }
  }

  // Stream bytes through an accumulator, loading a byte only when the current element still needs
  // bits from it, so nothing past the last element's byte is read.
  const bitPos = startElement * bits;
  let o = Math.floor(bitPos / 8);
  const shift = bitPos - o * 8;
  let acc = 0;
  let accBits = 0;
  if (shift > 0) {
    acc = bytes[o++] >>> shift;
    accBits = 8 - shift;
  }
  if (bits <= 24) {
    // Before a load accBits < bits <= 24, so `byte << accBits` < 2^31 stays non-negative.
    const mask = (1 << bits) - 1;
    for (let i = 0; i < count; i++) {
      while (accBits < bits) {
        acc |= bytes[o++] << accBits;
        accBits += 8;
      }
      out[i] = acc & mask;
      acc >>>= bits;
      accBits -= bits;
    }
    return out;
  }
  // 25..31 bits: take each element as a low 16-bit half and a high half, as packBits does.
  const hiBits = bits - 16;
  const hiMask = (1 << hiBits) - 1;
  for (let i = 0; i < count; i++) {
    while (accBits < 16) {
      acc |= bytes[o++] << accBits;
      accBits += 8;
    }
    const lo = acc & 0xffff;
    acc >>>= 16;
    accBits -= 16;
    while (accBits < hiBits) {
      acc |= bytes[o++] << accBits;
      accBits += 8;
    }
    out[i] = lo + (acc & hiMask) * 0x10000;
    acc >>>= hiBits;
    accBits -= hiBits;
  }
  return out;
}
