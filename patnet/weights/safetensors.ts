// safetensors reader: an 8-byte little-endian header length, a JSON header naming each tensor's
// dtype, shape and [begin, end) byte range in the data section, then the raw little-endian data.
// Every tensor is widened to f32 (F32 is copied; F16, BF16 and F64 are converted).
import { type WeightMap, WeightsError, type WeightTensor } from './types.js';

/** Bytes per element of the dtypes this reader converts to f32. */
const DTYPE_BYTES: Readonly<Record<string, number>> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

/** The `__metadata__` entry of a safetensors header (string values only, as the format requires). */
export type SafetensorsMetadata = Record<string, string>;

export interface SafetensorsFile {
  readonly tensors: WeightMap;
  readonly metadata: SafetensorsMetadata;
}

/**
 * Parses a safetensors file. Throws a WeightsError for a truncated or corrupt file, naming the
 * tensor whose entry or data is bad; `source` names the file in messages.
 */
export function readSafetensors(bytes: Uint8Array, source = 'safetensors file'): SafetensorsFile {
  if (bytes.byteLength < 8) {
    throw new WeightsError(`${source}: ${bytes.byteLength} bytes is too short for a safetensors header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > bytes.byteLength - 8) {
    throw new WeightsError(
      `${source}: the header claims ${headerLength} bytes but the file has ${bytes.byteLength - 8} after the ` +
        'length field (truncated, or not a safetensors file)',
    );
  }
  let header: unknown;
  try {
    header = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)),
    );
  } catch (e) {
    throw new WeightsError(`${source}: the header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) {
    throw new WeightsError(`${source}: the header must be a JSON object`);
  }
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const tensors: WeightMap = new Map();
  let metadata: SafetensorsMetadata = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = readMetadata(entry, source);
      continue;
    }
    tensors.set(name, readTensor(bytes, dataStart, dataLength, name, entry, source));
  }
  return { tensors, metadata };
}

function readMetadata(entry: unknown, source: string): SafetensorsMetadata {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    throw new WeightsError(`${source}: __metadata__ must be an object of strings`);
  }
  const out: SafetensorsMetadata = {};
  for (const [k, v] of Object.entries(entry)) {
    if (typeof v !== 'string') throw new WeightsError(`${source}: __metadata__.${k} must be a string`);
    out[k] = v;
  }
  return out;
}

function readTensor(
  bytes: Uint8Array,
  dataStart: number,
  dataLength: number,
  name: string,
  entry: unknown,
  source: string,
): WeightTensor {
  const at = `${source}: tensor '${name}'`;
  if (typeof entry !== 'object' || entry === null) throw new WeightsError(`${at}: entry must be an object`);
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    throw new WeightsError(
      `${at}: dtype ${JSON.stringify(dtype)} is not supported (use ${Object.keys(DTYPE_BYTES).join(', ')})`,
    );
  }
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new WeightsError(
      `${at}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`,
    );
  }
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
    offsets[1] < offsets[0]
  ) {
    throw new WeightsError(
      `${at}: data_offsets must be [begin, end] with begin <= end, got ${JSON.stringify(offsets)}`,
    );
  }
  const [begin, end] = offsets as number[];
  const size = (shape as number[]).reduce((a, b) => a * b, 1);
  const width = DTYPE_BYTES[dtype];
  if (end - begin !== size * width) {
    throw new WeightsError(
      `${at}: data_offsets [${begin}, ${end}] hold ${end - begin} bytes, but ${dtype}[${shape.join(', ')}] needs ${size * width}`,
    );
  }
  if (end > dataLength) {
    throw new WeightsError(
      `${at}: its data ends at byte ${end} of the data section, which has only ${dataLength} bytes (truncated file)`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + dataStart + begin, end - begin);
  const data = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    if (dtype === 'F32') data[i] = view.getFloat32(i * 4, true);
    else if (dtype === 'F64') data[i] = view.getFloat64(i * 8, true);
    else if (dtype === 'BF16') data[i] = bf16ToF32(view.getUint16(i * 2, true));
    else data[i] = f16ToF32(view.getUint16(i * 2, true));
  }
  return { dtype: 'f32', shape: [...(shape as number[])], data };
}

function bf16ToF32(bits: number): number {
  const buf = new DataView(new ArrayBuffer(4));
  buf.setUint32(0, bits << 16);
  return buf.getFloat32(0);
}

function f16ToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >> 10) & 0x1f;
  const frac = bits & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
