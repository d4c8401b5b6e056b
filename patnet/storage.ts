// Weight storage precision. 'f32' keeps every weight as f32 on the device; 'f16' stores the weight
// matrices (every conv, GEMM and linear weight: >99% of the bytes) as IEEE binary16, rounded once at
// load time after folding, and the kernels convert each loaded tile with `.to(f32)` so all
// arithmetic and every activation stays f32. Biases, the iRPE table and the per-channel gate vectors
// stay f32: they are a fraction of a percent of the bytes and feed additions, where f16 rounding
// would be pure loss. docs/patnet.md ("f16 weight storage") measures the error, speed and memory.
import { f16, f32, Tensor } from '../dsl/index.js';
import type { DeviceTensor, Runner } from './runner.js';

export type WeightStorage = 'f32' | 'f16';
export const WEIGHT_STORAGES: readonly WeightStorage[] = ['f32', 'f16'];

/** The largest finite binary16 value; a weight past it (after rounding) cannot be stored. */
const F16_MAX = 65504;

/** Validates a user-given storage name (API option or CLI flag); `where` names the option. */
export function parseWeightStorage(value: unknown, where: string): WeightStorage {
  if (value === undefined) return 'f32';
  if (value === 'f32' || value === 'f16') return value;
  throw new TypeError(`PATNet: ${where} must be 'f32' or 'f16', not ${JSON.stringify(value)}`);
}

/** The dtype a kernel declares for weights stored as `s` (the kernels' spec field `weights`). */
export function weightDType(s: WeightStorage | undefined): typeof f32 | typeof f16 {
  return s === 'f16' ? f16 : f32;
}

/**
 * Uploads a weight matrix in the chosen storage. An f16 tensor is typed as a DeviceTensor because
 * it only ever flows into kernels specialised with `weights: 'f16'` and is never read back.
 * `name` names the layer in the error for a value f16 cannot hold.
 */
export function uploadWeight(
  runner: Runner,
  data: Float32Array,
  shape: readonly number[],
  storage: WeightStorage,
  name: string,
): DeviceTensor {
  if (storage === 'f32') return runner.upload(data, shape);
  for (let i = 0; i < data.length; i++) {
    // |v| >= 65520 rounds to Infinity in binary16; NaN would poison the layer either way.
    if (!(Math.abs(data[i]) < F16_MAX + 16)) {
      throw new RangeError(
        `PATNet: weight '${name}' holds ${data[i]} at index ${i} (after BatchNorm folding), which f16 ` +
          `storage cannot represent (max ${F16_MAX}); load the model with weights: 'f32' storage`,
      );
    }
  }
  const bits = f32ToF16Bits(data);
  const host = Tensor.fromBytes(f16, shape, new Uint8Array(bits.buffer, bits.byteOffset, bits.byteLength));
  return runner.device.upload(host) as unknown as DeviceTensor;
}

/**
 * binary16 bit patterns of `src`, rounded to nearest even: what `encode(f16, v)` gives, about 8x
 * faster than encoding element by element (2.2M values in ~35 ms on the loaded VM). Overflow gives
 * Infinity and NaN stays NaN (uploadWeight refuses both before calling this).
 */
export function f32ToF16Bits(src: Float32Array): Uint16Array {
  const words = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Uint16Array(src.length);
  for (let i = 0; i < src.length; i++) {
    const x = words[i];
    const sign = (x >>> 16) & 0x8000;
    const abs = x & 0x7fffffff;
    let h: number;
    if (abs >= 0x7f800000)
      h = abs > 0x7f800000 ? 0x7e00 : 0x7c00; // NaN, Infinity
    else if (abs >= 0x477ff000)
      h = 0x7c00; // >= 65520 rounds past the largest f16
    else if (abs >= 0x38800000) {
      // Normal in f16: rebias the exponent (127 -> 15) and round the 13 dropped bits to even.
      const rebased = abs - 0x38000000;
      h = (rebased + 0xfff + ((rebased >>> 13) & 1)) >>> 13;
    } else {
      // Subnormal or zero in f16: the value in units of 2^-24, rounded half to even (exact in f64).
      const units = Math.abs(src[i]) * 2 ** 24;
      const lo = Math.floor(units);
      const rest = units - lo;
      h = rest > 0.5 || (rest === 0.5 && (lo & 1) === 1) ? lo + 1 : lo;
    }
    out[i] = sign | h;
  }
  return out;
}

/** Bytes a weight of `count` elements takes on the device in storage `s`. */
export function weightBytes(count: number, s: WeightStorage): number {
  return count * (s === 'f16' ? 2 : 4);
}
