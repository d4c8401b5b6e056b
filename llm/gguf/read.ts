/**
 * GGUF reader (versions 2 and 3, little-endian): header, metadata key/values of every type, tensor infos,
 * alignment and the data section. Every read is bounds-checked, and counts are checked against the bytes
 * left before anything is allocated, so a corrupt or truncated file gives a GgufError naming the field and
 * its byte offset rather than a crash, a hang or a huge allocation.
 */
import { ggmlByteLength, ggmlTypeByCode } from './ggml-types.js';
import {
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  GgufError,
  type GgufFile,
  type GgufTensorInfo,
  type GgufValue,
  type GgufValueType,
} from './types.js';

/** ggml's GGML_MAX_DIMS. */
const MAX_DIMS = 4;
/** Arrays of arrays are legal; deeper nesting than this is treated as corruption. */
const MAX_ARRAY_DEPTH = 8;

/** Smallest encoding of one item of each value type, to bound counts before looping over them. */
const MIN_SIZE: Record<GgufValueType, number> = {
  u8: 1,
  i8: 1,
  bool: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  u64: 8,
  i64: 8,
  f64: 8,
  string: 8,
  array: 12,
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

class Cursor {
  pos = 0;
  private readonly view: DataView;

  /** `fileLength` > bytes.length: the bytes are the start of a longer file, so running out means "pass more". */
  constructor(
    readonly bytes: Uint8Array,
    private readonly fileLength = bytes.length,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes of the file after the cursor: what counts and lengths are checked against. */
  get remaining(): number {
    return this.fileLength - this.pos;
  }

  private get prefix(): boolean {
    return this.fileLength > this.bytes.length;
  }

  /** Throws unless `n` more bytes exist; `what` names the field being read. */
  need(n: number, what: string): void {
    if (n > this.bytes.length - this.pos) {
      throw new GgufError(
        this.prefix
          ? `GGUF header longer than the bytes given: reading ${what} at byte ${this.pos} needs ${n} bytes ` +
              `but only ${this.bytes.length} were passed; pass more of the file`
          : `GGUF truncated: reading ${what} at byte ${this.pos} needs ${n} bytes but the file ends at byte ` +
              `${this.bytes.length}`,
      );
    }
  }

  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.pos++);
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /**
   * A u64 that must be a count/size/offset: a safe integer no larger than `max`. `bytesLeft` says the
   * limit comes from the bytes left, where a truncated file is as likely a cause as a corrupt one.
   */
  size(what: string, max: number, why: string, bytesLeft = true): number {
    const at = this.pos;
    const v = this.u64(what);
    if (v > BigInt(max)) {
      const cause = bytesLeft ? 'GGUF truncated or corrupt' : 'GGUF corrupt';
      throw new GgufError(`${cause}: ${what} at byte ${at} is ${v}, ${why}`);
    }
    return Number(v);
  }

  string(what: string): string {
    const at = this.pos;
    const len = this.size(
      `${what} length`,
      this.remaining - 8,
      `longer than the ${this.remaining - 8} bytes left`,
    );
    this.need(len, what); // within the file, but maybe past the bytes given
    const raw = this.bytes.subarray(this.pos, this.pos + len);
    this.pos += len;
    try {
      return utf8.decode(raw);
    } catch {
      throw new GgufError(`GGUF corrupt: ${what} at byte ${at} is not valid UTF-8`);
    }
  }

  value(type: GgufValueType, what: string, depth: number): GgufValue {
    const v = this.view;
    switch (type) {
      case 'u8':
        return { type, value: this.u8(what) };
      case 'i8':
        this.need(1, what);
        return { type, value: v.getInt8(this.pos++) };
      case 'bool': {
        const at = this.pos;
        const b = this.u8(what);
        if (b > 1)
          throw new GgufError(`GGUF corrupt: ${what} at byte ${at} is a bool of value ${b} (0 or 1)`);
        return { type, value: b === 1 };
      }
      case 'u16':
      case 'i16': {
        this.need(2, what);
        const value = type === 'u16' ? v.getUint16(this.pos, true) : v.getInt16(this.pos, true);
        this.pos += 2;
        return { type, value };
      }
      case 'u32':
        return { type, value: this.u32(what) };
      case 'i32':
      case 'f32': {
        this.need(4, what);
        const value = type === 'i32' ? v.getInt32(this.pos, true) : v.getFloat32(this.pos, true);
        this.pos += 4;
        return { type, value };
      }
      case 'u64':
        return { type, value: this.u64(what) };
      case 'i64': {
        this.need(8, what);
        const value = v.getBigInt64(this.pos, true);
        this.pos += 8;
        return { type, value };
      }
      case 'f64': {
        this.need(8, what);
        const value = v.getFloat64(this.pos, true);
        this.pos += 8;
        return { type, value };
      }
      case 'string':
        return { type, value: this.string(what) };
      case 'array': {
        if (depth >= MAX_ARRAY_DEPTH) {
          throw new GgufError(
            `GGUF corrupt: ${what} at byte ${this.pos} nests arrays deeper than ${MAX_ARRAY_DEPTH}`,
          );
        }
        const itemType = this.valueType(`${what} item type`);
        const min = MIN_SIZE[itemType];
        const count = this.size(
          `${what} length`,
          Math.floor(this.remaining / min),
          `more ${itemType} items than the ${this.remaining - 8} bytes left can hold`,
        );
        const items = new Array<GgufValue>(count);
        for (let i = 0; i < count; i++) items[i] = this.value(itemType, `${what}[${i}]`, depth + 1);
        return { type, itemType, value: items };
      }
    }
  }

  valueType(what: string): GgufValueType {
    const at = this.pos;
    const code = this.u32(what);
    const t = GGUF_VALUE_TYPES[code];
    if (t === undefined) {
      throw new GgufError(
        `GGUF corrupt: ${what} at byte ${at} is ${code}; value types are 0..${GGUF_VALUE_TYPES.length - 1}`,
      );
    }
    return t;
  }
}

function readAlignment(metadata: ReadonlyMap<string, GgufValue>): number {
  const a = metadata.get('general.alignment');
  if (a === undefined) return GGUF_DEFAULT_ALIGNMENT;
  if (a.type !== 'u32' || a.value === 0 || (a.value & (a.value - 1)) !== 0) {
    throw new GgufError(
      `GGUF corrupt: general.alignment must be a u32 power of two, got ${a.type} ${String(a.value)}`,
    );
  }
  return a.value;
}

function readTensorInfo(c: Cursor, index: number): GgufTensorInfo {
  const at = c.pos;
  const name = c.string(`tensor #${index} name`);
  const what = `tensor '${name}' (#${index}, at byte ${at})`;
  const nDimsAt = c.pos;
  const nDims = c.u32(`${what} dimension count`);
  if (nDims < 1 || nDims > MAX_DIMS) {
    throw new GgufError(
      `GGUF corrupt: ${what} has ${nDims} dimensions at byte ${nDimsAt}; ggml allows 1..${MAX_DIMS}`,
    );
  }
  const ne: number[] = [];
  let elements = 1;
  for (let d = 0; d < nDims; d++) {
    const n = c.size(`${what} ne[${d}]`, Number.MAX_SAFE_INTEGER, 'too large', false);
    ne.push(n);
    elements *= n;
  }
  if (!Number.isSafeInteger(elements)) {
    throw new GgufError(`GGUF corrupt: ${what} has dims [${ne}], too many elements to address`);
  }
  const typeAt = c.pos;
  const code = c.u32(`${what} type`);
  const type = ggmlTypeByCode(code);
  if (type === undefined) {
    throw new GgufError(
      `GGUF unsupported: ${what} has ggml type code ${code} at byte ${typeAt}, unknown to this reader`,
    );
  }
  if (ne[0] % type.blockSize !== 0) {
    throw new GgufError(
      `GGUF corrupt: ${what} is ${type.name} with ne[0] = ${ne[0]}, not a multiple of its block size ${type.blockSize}`,
    );
  }
  const offset = c.size(`${what} data offset`, Number.MAX_SAFE_INTEGER, 'too large', false);
  return { name, ne, type, offset, byteLength: ggmlByteLength(type, ne) };
}

export interface ReadGgufOptions {
  /**
   * The whole file's length when `bytes` is only its start (enough to hold the header and tensor infos,
   * e.g. the first few MB of a multi-GB model): tensor bounds are checked against this length, and
   * ggufTensorData serves only tensors that lie inside the bytes given.
   */
  readonly fileLength?: number;
}

/** Parses a GGUF file (or its start, see ReadGgufOptions). Tensor data are not copied (see ggufTensorData). */
export function readGguf(bytes: Uint8Array, options: ReadGgufOptions = {}): GgufFile {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('readGguf: pass the file as a Uint8Array');
  const fileLength = options.fileLength ?? bytes.length;
  if (!Number.isSafeInteger(fileLength) || fileLength < bytes.length) {
    throw new RangeError(
      `readGguf: fileLength ${fileLength} must be an integer >= the ${bytes.length} bytes given`,
    );
  }
  const c = new Cursor(bytes, fileLength);
  const magic = c.u32('the magic "GGUF"');
  if (magic !== GGUF_MAGIC) {
    const text = Array.from(bytes.subarray(0, 4), (b) =>
      b >= 32 && b < 127 ? String.fromCharCode(b) : '.',
    ).join('');
    throw new GgufError(`not a GGUF file: it starts with '${text}', expected 'GGUF'`);
  }
  const version = c.u32('version');
  if (version !== 2 && version !== 3) {
    if (version === 0x02000000 || version === 0x03000000) {
      throw new GgufError('GGUF unsupported: the file is big-endian; only little-endian GGUF is read');
    }
    throw new GgufError(
      `GGUF unsupported: version ${version}; this reader handles versions 2 and 3` +
        (version === 1
          ? ' (version 1 used 32-bit counts; re-convert the model with a current llama.cpp)'
          : ''),
    );
  }
  // Each tensor info takes at least 8 + 4 + 8 + 4 + 8 bytes, each key/value at least 8 + 4 + 1.
  const tensorCount = c.size(
    'tensor count',
    Math.floor(c.remaining / 32),
    'more tensors than the file can hold',
  );
  const kvCount = c.size(
    'metadata count',
    Math.floor(c.remaining / 13),
    'more key/values than the file can hold',
  );

  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < kvCount; i++) {
    const at = c.pos;
    const key = c.string(`metadata key #${i}`);
    const type = c.valueType(`metadata '${key}' type`);
    const value = c.value(type, `metadata '${key}'`, 0);
    if (metadata.has(key))
      throw new GgufError(`GGUF corrupt: metadata key '${key}' at byte ${at} appears twice`);
    metadata.set(key, value);
  }
  const alignment = readAlignment(metadata);

  const tensors: GgufTensorInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const t = readTensorInfo(c, i);
    if (names.has(t.name)) throw new GgufError(`GGUF corrupt: tensor name '${t.name}' appears twice`);
    if (t.offset % alignment !== 0) {
      throw new GgufError(
        `GGUF corrupt: tensor '${t.name}' data offset ${t.offset} is not a multiple of the alignment ${alignment}`,
      );
    }
    names.add(t.name);
    tensors.push(t);
  }
  const dataOffset = Math.ceil(c.pos / alignment) * alignment;
  const dataBytes = fileLength - dataOffset;
  // Data ranges must lie inside the file and must not overlap.
  const byOffset = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 0; i < byOffset.length; i++) {
    const t = byOffset[i];
    if (t.offset + t.byteLength > dataBytes) {
      throw new GgufError(
        `GGUF truncated: tensor '${t.name}' (${t.type.name} [${t.ne}]) needs bytes [${dataOffset + t.offset}, ` +
          `${dataOffset + t.offset + t.byteLength}) but the file ends at byte ${fileLength}`,
      );
    }
    const next = byOffset[i + 1];
    if (next && t.offset + t.byteLength > next.offset) {
      throw new GgufError(
        `GGUF corrupt: tensors '${t.name}' and '${next.name}' overlap (data offsets ${t.offset} + ${t.byteLength} > ${next.offset})`,
      );
    }
  }
  return { version, metadata, tensors, alignment, dataOffset, fileLength, bytes };
}

/** The tensor's info, or a GgufError listing the tensors that exist. */
export function ggufTensor(file: GgufFile, name: string): GgufTensorInfo {
  const t = file.tensors.find((x) => x.name === name);
  if (!t) {
    const names = file.tensors.map((x) => x.name);
    const shown = names.slice(0, 12).join(', ') + (names.length > 12 ? ', ...' : '');
    throw new GgufError(`GGUF: no tensor '${name}'; the file has ${names.length}: ${shown}`);
  }
  return t;
}

/** A view (no copy) of the tensor's raw bytes. */
export function ggufTensorData(file: GgufFile, name: string): Uint8Array {
  const t = ggufTensor(file, name);
  const start = file.dataOffset + t.offset;
  if (start + t.byteLength > file.bytes.length) {
    throw new GgufError(
      `GGUF: tensor '${name}' lies at bytes [${start}, ${start + t.byteLength}) of the file, beyond the ` +
        `${file.bytes.length} bytes given to readGguf; read that range of the file`,
    );
  }
  return file.bytes.subarray(start, start + t.byteLength);
}
