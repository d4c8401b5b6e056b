// GGUF writer (version 3, little-endian): used by the tests and to build synthetic models for benchmarks.
import { ggmlByteLength, ggmlTypeByName } from './ggml-types.js';
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  type GgufValue,
  type GgufValueType,
} from './types.js';

export interface GgufTensorInput {
  readonly name: string;
  /** ggml type name: 'F32', 'F16', 'BF16', 'Q4_0', 'Q4_1', 'Q8_0', ... */
  readonly type: string;
  /** Dimensions in GGUF order (ne[0] innermost): a [rows, cols] matrix is [cols, rows]. */
  readonly ne: readonly number[];
  /** The raw tensor bytes, exactly ggml's size for the type and dims. */
  readonly data: Uint8Array;
}

export interface GgufWriteInput {
  readonly metadata?: Readonly<Record<string, GgufValue>>;
  readonly tensors?: readonly GgufTensorInput[];
  /** Data alignment (a power of two); other than 32 it is recorded as general.alignment. */
  readonly alignment?: number;
}

const encoder = new TextEncoder();

/** A growable little-endian byte buffer. */
class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }

  scalar(type: GgufValueType, v: number | bigint | boolean): void {
    const size = { u8: 1, i8: 1, bool: 1, u16: 2, i16: 2, u32: 4, i32: 4, f32: 4, u64: 8, i64: 8, f64: 8 }[
      type as 'u8'
    ];
    this.reserve(size);
    const o = this.length;
    const d = this.view;
    switch (type) {
      case 'u8':
      case 'bool':
        d.setUint8(o, Number(v));
        break;
      case 'i8':
        d.setInt8(o, Number(v));
        break;
      case 'u16':
        d.setUint16(o, Number(v), true);
        break;
      case 'i16':
        d.setInt16(o, Number(v), true);
        break;
      case 'u32':
        d.setUint32(o, Number(v), true);
        break;
      case 'i32':
        d.setInt32(o, Number(v), true);
        break;
      case 'f32':
        d.setFloat32(o, Number(v), true);
        break;
      case 'f64':
        d.setFloat64(o, Number(v), true);
        break;
      case 'u64':
        d.setBigUint64(o, BigInt(v as bigint | number), true);
        break;
      case 'i64':
        d.setBigInt64(o, BigInt(v as bigint | number), true);
        break;
    }
    this.length += size;
  }

  string(s: string): void {
    const b = encoder.encode(s);
    this.scalar('u64', BigInt(b.length));
    this.bytes(b);
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

const INT_RANGES: Partial<Record<GgufValueType, [number, number]>> = {
  u8: [0, 0xff],
  i8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffffffff],
  i32: [-0x80000000, 0x7fffffff],
};

function writeValue(w: ByteWriter, v: GgufValue, what: string): void {
  switch (v.type) {
    case 'string':
      if (typeof v.value !== 'string') throw new TypeError(`writeGguf: ${what} must be a string`);
      w.string(v.value);
      return;
    case 'array': {
      const code = GGUF_VALUE_TYPES.indexOf(v.itemType);
      if (code < 0) throw new RangeError(`writeGguf: ${what} has unknown item type ${String(v.itemType)}`);
      w.scalar('u32', code);
      w.scalar('u64', BigInt(v.value.length));
      v.value.forEach((item, i) => {
        if (item.type !== v.itemType) {
          throw new TypeError(`writeGguf: ${what}[${i}] is ${item.type} in an array of ${v.itemType}`);
        }
        writeValue(w, item, `${what}[${i}]`);
      });
      return;
    }
    case 'u64':
    case 'i64':
      if (typeof v.value !== 'bigint')
        throw new TypeError(`writeGguf: ${what} (a 64-bit int) must be a bigint`);
      w.scalar(v.type, v.value);
      return;
    case 'bool':
      w.scalar('bool', v.value === true);
      return;
    default: {
      const range = INT_RANGES[v.type];
      if (
        typeof v.value !== 'number' ||
        (range && !(Number.isInteger(v.value) && v.value >= range[0] && v.value <= range[1]))
      ) {
        throw new RangeError(`writeGguf: ${what} = ${String(v.value)} is not a valid ${v.type}`);
      }
      w.scalar(v.type, v.value);
    }
  }
}

/** Serializes metadata and tensors as a GGUF v3 file. */
export function writeGguf(input: GgufWriteInput): Uint8Array {
  const alignment = input.alignment ?? GGUF_DEFAULT_ALIGNMENT;
  if (
    !Number.isInteger(alignment) ||
    alignment < 1 ||
    (alignment & (alignment - 1)) !== 0 ||
    alignment > 2 ** 31
  ) {
    throw new RangeError(`writeGguf: alignment must be a power of two, got ${alignment}`);
  }
  const metadata: Record<string, GgufValue> = { ...(input.metadata ?? {}) };
  const given = metadata['general.alignment'];
  if (given !== undefined && (given.type !== 'u32' || given.value !== alignment)) {
    throw new RangeError(
      `writeGguf: metadata general.alignment (${given.type} ${String(given.value)}) disagrees with alignment ${alignment}`,
    );
  }
  if (alignment !== GGUF_DEFAULT_ALIGNMENT) metadata['general.alignment'] = { type: 'u32', value: alignment };
  const tensors = input.tensors ?? [];

  const w = new ByteWriter();
  w.scalar('u32', GGUF_MAGIC);
  w.scalar('u32', 3);
  w.scalar('u64', BigInt(tensors.length));
  const keys = Object.keys(metadata);
  w.scalar('u64', BigInt(keys.length));
  for (const key of keys) {
    const v = metadata[key];
    const code = GGUF_VALUE_TYPES.indexOf(v?.type);
    if (code < 0) throw new RangeError(`writeGguf: metadata '${key}' has unknown type ${String(v?.type)}`);
    w.string(key);
    w.scalar('u32', code);
    writeValue(w, v, `metadata '${key}'`);
  }
  let offset = 0;
  const names = new Set<string>();
  for (const t of tensors) {
    const type = ggmlTypeByName(t.type);
    if (!type) throw new RangeError(`writeGguf: tensor '${t.name}' has unknown ggml type '${t.type}'`);
    if (names.has(t.name)) throw new RangeError(`writeGguf: tensor name '${t.name}' appears twice`);
    names.add(t.name);
    if (t.ne.length < 1 || t.ne.length > 4 || t.ne.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new RangeError(`writeGguf: tensor '${t.name}' ne [${t.ne}] must be 1..4 non-negative integers`);
    }
    if (t.ne[0] % type.blockSize !== 0) {
      throw new RangeError(
        `writeGguf: tensor '${t.name}' ne[0] = ${t.ne[0]} is not a multiple of ${t.type}'s block size ${type.blockSize}`,
      );
    }
    const size = ggmlByteLength(type, t.ne);
    if (t.data.length !== size) {
      throw new RangeError(
        `writeGguf: tensor '${t.name}' (${t.type} [${t.ne}]) has ${t.data.length} data bytes; it needs ${size}`,
      );
    }
    w.string(t.name);
    w.scalar('u32', t.ne.length);
    for (const d of t.ne) w.scalar('u64', BigInt(d));
    w.scalar('u32', type.code);
    w.scalar('u64', BigInt(offset));
    offset += Math.ceil(size / alignment) * alignment;
  }
  w.pad(alignment);
  // Each tensor's data is padded to the alignment, the last one included, as ggml writes it.
  for (const t of tensors) {
    w.bytes(t.data);
    w.pad(alignment);
  }
  return w.result();
}
