// safetensors writer (the format patnet/weights/safetensors.ts reads): an 8-byte little-endian
// header length, a JSON header padded with spaces to a multiple of 8 bytes, then each tensor's raw
// little-endian f32 data, in the order given, at 4-byte-aligned offsets (so a reader can view it as
// a Float32Array in place).
import { type WeightMap, WeightsError } from './types.js';

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Serialises f32 weights; `metadata` becomes the header's `__metadata__` (string values only). */
export function writeSafetensors(weights: WeightMap, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of weights) {
    if (name === '__metadata__') throw new WeightsError("a tensor cannot be named '__metadata__'");
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== numel) {
      throw new WeightsError(
        `tensor '${name}': shape [${t.shape.join(', ')}] has ${numel} elements but its data has ${t.data.length}`,
      );
    }
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  let at = 8 + headerLength;
  for (const t of weights.values()) {
    if (HOST_LITTLE_ENDIAN) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    else for (let i = 0; i < t.data.length; i++) view.setFloat32(at + 4 * i, t.data[i]!, true);
    at += t.data.byteLength;
  }
  return out;
}
