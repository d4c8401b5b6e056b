/**
 * GGUF block formats <-> QuantizedMatrix. Each maps exactly (bit for bit) onto one of our formats:
 *
 *   Q4_0  block of 32: f16 d, 16 bytes of nibbles, w = d * (nibble - 8)  ->  i4/g32/f16, code = nibble ^ 8
 *   Q4_1  block of 32: f16 d, f16 m, 16 bytes,    w = d * nibble + m    ->  u4/g32/f16/min, code = nibble
 *   Q8_0  block of 32: f16 d, 32 int8,            w = d * q             ->  i8/g32/f16, code = q
 *
 * In a block, byte j (0..15) holds element j in its low nibble and element j + 16 in its high nibble.
 * Q4_0's nibble - 8 is exactly i4's range [-8, 7], and i4's two's complement pattern of nibble - 8 is
 * nibble ^ 8, so no zero points are needed. Q4_1's offset m is a float (m / d is rarely an integer), so it
 * maps to the 'min' offset, not to an integer zero point.
 */
import { bf16, decode, f16, i4, i8, u4 } from '../../dsl/dtype.js';
import { packBits, unpackBits } from '../../dsl/packing.js';
import { Tensor } from '../../dsl/tensor.js';
import { dequantize } from '../dequantize.js';
import { formatName, type QuantizedMatrix, validateQuantizedMatrix } from '../quantized-matrix.js';
import { ggmlByteLength, ggmlTypeByName } from './ggml-types.js';
import { ggufTensor, ggufTensorData } from './read.js';
import { GgufError, type GgufFile } from './types.js';
import type { GgufTensorInput } from './write.js';

/** The GGUF block types that map onto a QuantizedMatrix. */
export type GgufQuantType = 'Q4_0' | 'Q4_1' | 'Q8_0';

const QK = 32;

function u16At(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}

/** Decodes `n` rows of `k` elements of Q4_0 / Q4_1 / Q8_0 blocks (k a multiple of 32). */
export function decodeGgufBlocks(
  type: GgufQuantType,
  data: Uint8Array,
  n: number,
  k: number,
): QuantizedMatrix {
  const t = ggmlTypeByName(type);
  if (!t || (type !== 'Q4_0' && type !== 'Q4_1' && type !== 'Q8_0')) {
    throw new RangeError(`decodeGgufBlocks: type must be Q4_0, Q4_1 or Q8_0, got ${String(type)}`);
  }
  if (!Number.isSafeInteger(n) || n < 1 || !Number.isSafeInteger(k) || k < 1 || k % QK !== 0) {
    throw new RangeError(
      `decodeGgufBlocks: need n >= 1 and k a positive multiple of ${QK}, got n ${n}, k ${k}`,
    );
  }
  const need = ggmlByteLength(t, [k, n]);
  if (data.length < need) {
    throw new RangeError(`decodeGgufBlocks: ${n} x ${k} ${type} needs ${need} bytes, got ${data.length}`);
  }
  const blocks = k / QK;
  const weight = type === 'Q4_0' ? i4 : type === 'Q4_1' ? u4 : i8;
  const weights = Tensor.zeros(weight, [n, k]);
  const scaleCodes = new Uint32Array(n * blocks);
  const minCodes = type === 'Q4_1' ? new Uint32Array(n * blocks) : undefined;
  const codes = new Uint32Array(k);
  const flip = type === 'Q4_0' ? 8 : 0;
  let o = 0;
  for (let r = 0; r < n; r++) {
    for (let b = 0; b < blocks; b++) {
      const gi = r * blocks + b;
      scaleCodes[gi] = u16At(data, o);
      o += 2;
      if (minCodes) {
        minCodes[gi] = u16At(data, o);
        o += 2;
      }
      const c0 = b * QK;
      if (type === 'Q8_0') {
        for (let j = 0; j < QK; j++) codes[c0 + j] = data[o + j];
        o += QK;
      } else {
        for (let j = 0; j < QK / 2; j++) {
          const byte = data[o + j];
          codes[c0 + j] = (byte & 15) ^ flip;
          codes[c0 + j + QK / 2] = (byte >> 4) ^ flip;
        }
        o += QK / 2;
      }
    }
    packBits(codes, weight.bits, weights.data, r * k);
  }
  const scales = Tensor.zeros(f16, [n, blocks]);
  packBits(scaleCodes, 16, scales.data);
  const format = { weight, group: QK, scale: 'f16' as const };
  if (!minCodes) return { format, n, k, weights, scales };
  const mins = Tensor.zeros(f16, [n, blocks]);
  packBits(minCodes, 16, mins.data);
  return { format: { ...format, offset: 'min' }, n, k, weights, scales, mins };
}

/** The GGUF block type a matrix's format maps onto exactly, or undefined. */
export function ggufTypeFor(m: QuantizedMatrix): GgufQuantType | undefined {
  const f = m.format;
  if (f.group !== QK || f.scale !== 'f16' || m.k % QK !== 0) return undefined;
  const w = f.weight;
  if (w.kind !== 'int') return undefined;
  if (w.name === 'i8') return 'Q8_0';
  if (w.name === 'i4') return 'Q4_0';
  if (w.name === 'u4' && f.offset === 'min') return 'Q4_1';
  // u4 with every zero point 8 is Q4_0 too.
  if (w.name === 'u4' && m.zeros && m.zeros.patterns().every((z) => z === 8)) return 'Q4_0';
  return undefined;
}

/** Encodes a matrix as GGUF blocks: i4 or u4-with-zero-8 -> Q4_0, u4/min -> Q4_1, i8 -> Q8_0 (all g32/f16). */
export function encodeGgufBlocks(m: QuantizedMatrix): { type: GgufQuantType; data: Uint8Array } {
  validateQuantizedMatrix(m, 'encodeGgufBlocks');
  const type = ggufTypeFor(m);
  if (!type) {
    throw new RangeError(
      `encodeGgufBlocks: ${formatName(m.format)} with k = ${m.k} has no exact GGUF block type; GGUF takes ` +
        'i4/g32/f16 or u4/g32/f16 with zero points 8 (Q4_0), u4/g32/f16/min (Q4_1), i8/g32/f16 (Q8_0), k a multiple of 32',
    );
  }
  const { n, k } = m;
  const blocks = k / QK;
  const t = ggmlTypeByName(type)!;
  const data = new Uint8Array(ggmlByteLength(t, [k, n]));
  const scales = unpackBits(m.scales.data, 16, n * blocks);
  const mins = m.mins ? unpackBits(m.mins.data, 16, n * blocks) : undefined;
  const flip = m.format.weight.name === 'i4' ? 8 : 0;
  const codes = new Uint32Array(k);
  let o = 0;
  for (let r = 0; r < n; r++) {
    unpackBits(m.weights.data, m.format.weight.bits, k, r * k, codes);
    for (let b = 0; b < blocks; b++) {
      const gi = r * blocks + b;
      data[o++] = scales[gi] & 0xff;
      data[o++] = scales[gi] >> 8;
      if (mins) {
        data[o++] = mins[gi] & 0xff;
        data[o++] = mins[gi] >> 8;
      }
      const c0 = b * QK;
      if (type === 'Q8_0') {
        for (let j = 0; j < QK; j++) data[o + j] = codes[c0 + j];
        o += QK;
      } else {
        for (let j = 0; j < QK / 2; j++) {
          data[o + j] = ((codes[c0 + j] ^ flip) & 15) | (((codes[c0 + j + QK / 2] ^ flip) & 15) << 4);
        }
        o += QK / 2;
      }
    }
  }
  return { type, data };
}

/** A GGUF tensor input for writeGguf holding `m` as a [n, k] matrix (ne = [k, n]). */
export function ggufTensorFromMatrix(name: string, m: QuantizedMatrix): GgufTensorInput {
  const { type, data } = encodeGgufBlocks(m);
  return { name, type, ne: [m.k, m.n], data };
}

/** Rows and columns of a tensor read as a matrix: k = ne[0], n = the product of the other dims. */
function matrixDims(file: GgufFile, name: string): { n: number; k: number } {
  const t = ggufTensor(file, name);
  return { k: t.ne[0], n: t.ne.slice(1).reduce((a, b) => a * b, 1) };
}

/** A Q4_0 / Q4_1 / Q8_0 tensor of a GGUF file as a QuantizedMatrix (rows = every dim but ne[0]). */
export function ggufMatrix(file: GgufFile, name: string): QuantizedMatrix {
  const t = ggufTensor(file, name);
  const type = t.type.name;
  if (type !== 'Q4_0' && type !== 'Q4_1' && type !== 'Q8_0') {
    throw new GgufError(
      `GGUF: tensor '${name}' is ${type}; only Q4_0, Q4_1 and Q8_0 map onto a QuantizedMatrix ` +
        '(use ggufTensorF32 for float tensors)',
    );
  }
  const { n, k } = matrixDims(file, name);
  return decodeGgufBlocks(type, ggufTensorData(file, name), n, k);
}

/** Any F32, F16, BF16, Q4_0, Q4_1 or Q8_0 tensor's values as f32, in GGUF element order. */
export function ggufTensorF32(file: GgufFile, name: string): Float32Array {
  const t = ggufTensor(file, name);
  const data = ggufTensorData(file, name);
  const count = t.ne.reduce((a, b) => a * b, 1);
  switch (t.type.name) {
    case 'F32': {
      const out = new Float32Array(count);
      const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
      for (let i = 0; i < count; i++) out[i] = v.getFloat32(i * 4, true);
      return out;
    }
    case 'F16':
    case 'BF16': {
      const dt = t.type.name === 'F16' ? f16 : bf16;
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = decode(dt, u16At(data, i * 2));
      return out;
    }
    case 'Q4_0':
    case 'Q4_1':
    case 'Q8_0':
      return dequantize(ggufMatrix(file, name));
    default:
      throw new GgufError(`GGUF: tensor '${name}' is ${t.type.name}; decoding it is not supported`);
  }
}
