/**
 * ONNX Runtime's com.microsoft MatMulNBits weight layout <-> QuantizedMatrix (docs/llm-formats.md).
 *
 *   B            uint8 [N][n_blocks][blob_size], n_blocks = ceil(K / block_size), blob_size = block_size * bits / 8;
 *                codes packed low bits first, each block's blob starting on a byte.
 *   scales       [N * n_blocks], f32 or f16 (the type of the activations).
 *   zero_points  optional: uint8 [N * ceil(n_blocks * bits / 8)], packed like B, each row starting on a
 *                byte; or float [N * n_blocks]; absent means 2^(bits - 1).
 *   w[n, k] = (code - zero_point) * scale
 *
 * Since blob_size * 8 = block_size * bits, B is exactly our dense packing of an [N, n_blocks * block_size]
 * code matrix; only a K that is not a multiple of block_size leaves padding codes at the end of each row.
 * Without zero points, code - 2^(bits-1) is exactly the signed iB value whose two's complement pattern is
 * code ^ 2^(bits-1): those weights import as symmetric iB with no zero tensor. With uint8 zero points they
 * import as uB with integer zeros; float zero points import the same way when every one is an integer in
 * [0, 2^bits - 1], and are rejected otherwise (-zero * scale would have to be rounded into a min).
 */
import { decode, dtypeByName, f16, f32, type IntDType } from '../dsl/dtype.js';
import { packBits, unpackBits } from '../dsl/packing.js';
import { Tensor } from '../dsl/tensor.js';
import { formatName, type QuantizedMatrix, validateQuantizedMatrix } from './quantized-matrix.js';

export interface MatMulNBitsWeights {
  /** Attribute N: output features (rows of the weight). */
  readonly n: number;
  /** Attribute K: input features (the reduction dimension). */
  readonly k: number;
  /** Attribute bits: 2..8. */
  readonly bits: number;
  /** Attribute block_size: a power of two, at least 16. */
  readonly blockSize: number;
  /** Input B, [N][n_blocks][blob_size] flattened. */
  readonly b: Uint8Array;
  /** Input scales, [N * n_blocks]: a Float32Array, or a Uint16Array of f16 bit patterns (ORT's float16 tensors). */
  readonly scales: Float32Array | Uint16Array;
  /** Input zero_points: packed uint8, or float of the scales' type (Float32Array / Uint16Array of f16 bits). */
  readonly zeroPoints?: Uint8Array | Float32Array | Uint16Array;
}

function fail(message: string): never {
  throw new RangeError(`MatMulNBits: ${message}`);
}

function checkAttributes(w: MatMulNBitsWeights): { blocks: number; blobSize: number } {
  for (const key of ['n', 'k'] as const) {
    if (!Number.isSafeInteger(w[key]) || w[key] < 1) fail(`${key} must be a positive integer, got ${w[key]}`);
  }
  if (!Number.isInteger(w.bits) || w.bits < 2 || w.bits > 8) fail(`bits must be 2..8, got ${w.bits}`);
  const bs = w.blockSize;
  if (!Number.isInteger(bs) || bs < 16 || (bs & (bs - 1)) !== 0) {
    fail(`block_size must be a power of two >= 16, got ${bs}`);
  }
  return { blocks: Math.ceil(w.k / bs), blobSize: (bs * w.bits) / 8 };
}

function checkLength(what: string, got: number, need: number, shape: string): void {
  if (got !== need) fail(`${what} has ${got} elements; N = ${shape} needs ${need}`);
}

/** MatMulNBits weights as a QuantizedMatrix (exact: see the module comment for the mapping). */
export function fromMatMulNBits(w: MatMulNBitsWeights): QuantizedMatrix {
  const { blocks, blobSize } = checkAttributes(w);
  const { n, k, bits, blockSize } = w;
  if (!(w.b instanceof Uint8Array)) fail('B must be a Uint8Array');
  checkLength('B', w.b.length, n * blocks * blobSize, `${n} x n_blocks ${blocks} x blob_size ${blobSize}`);
  const f16Scales = w.scales instanceof Uint16Array;
  if (!f16Scales && !(w.scales instanceof Float32Array)) {
    fail('scales must be a Float32Array or a Uint16Array of f16 bit patterns');
  }
  checkLength('scales', w.scales.length, n * blocks, `${n} x n_blocks ${blocks}`);
  const scaleDt = f16Scales ? f16 : f32;
  let scales: Tensor;
  if (f16Scales) {
    scales = Tensor.zeros(scaleDt, [n, blocks]);
    packBits(w.scales, 16, scales.data);
  } else scales = Tensor.fromArray(scaleDt, [n, blocks], w.scales);

  // Integer zero points per (row, block), or undefined for the default 2^(bits - 1).
  let zeros: Uint32Array | undefined;
  const zp = w.zeroPoints;
  if (zp instanceof Uint8Array) {
    const rowBytes = Math.ceil((blocks * bits) / 8);
    checkLength(
      'zero_points (uint8)',
      zp.length,
      n * rowBytes,
      `${n} x ceil(n_blocks ${blocks} * bits ${bits} / 8)`,
    );
    zeros = new Uint32Array(n * blocks);
    for (let r = 0; r < n; r++) {
      unpackBits(zp.subarray(r * rowBytes, (r + 1) * rowBytes), bits, blocks, 0, zeros.subarray(r * blocks));
    }
  } else if (zp instanceof Float32Array || zp instanceof Uint16Array) {
    if (zp instanceof Uint16Array !== f16Scales) fail('float zero_points must have the type of scales');
    checkLength('zero_points (float)', zp.length, n * blocks, `${n} x n_blocks ${blocks}`);
    zeros = new Uint32Array(n * blocks);
    for (let i = 0; i < zp.length; i++) {
      const z = zp instanceof Uint16Array ? decode(f16, zp[i]) : zp[i];
      if (!Number.isInteger(z) || z < 0 || z >= 2 ** bits) {
        fail(
          `zero_points[${i}] (row ${Math.floor(i / blocks)}, block ${i % blocks}) is ${z}, not an integer in ` +
            `[0, ${2 ** bits - 1}]; only integer zero points map exactly onto a QuantizedMatrix`,
        );
      }
      zeros[i] = z;
    }
  } else if (zp !== undefined) {
    fail('zero_points must be a Uint8Array (packed) or a Float32Array / Uint16Array (float)');
  }

  const weight = dtypeByName(`${zeros ? 'u' : 'i'}${bits}`) as IntDType;
  const weights = Tensor.zeros(weight, [n, k]);
  const codes = new Uint32Array(k);
  const flip = zeros ? 0 : 2 ** (bits - 1);
  const rowCodes = blocks * blockSize;
  for (let r = 0; r < n; r++) {
    unpackBits(w.b, bits, k, r * rowCodes, codes);
    if (flip) for (let c = 0; c < k; c++) codes[c] ^= flip;
    packBits(codes, bits, weights.data, r * k);
  }
  const format = { weight, group: blockSize, scale: f16Scales ? ('f16' as const) : ('f32' as const) };
  if (!zeros) return { format, n, k, weights, scales };
  const zt = Tensor.zeros(weight, [n, blocks]);
  packBits(zeros, bits, zt.data);
  return { format, n, k, weights, scales, zeros: zt };
}

/**
 * A QuantizedMatrix in MatMulNBits layout: int weights of 2..8 bits, group a power of two >= 16. Signed
 * iB weights are written as codes ^ 2^(B-1) without zero points; unsigned ones with packed uint8 zero
 * points. Padding codes of a partial last block are 0.
 */
export function toMatMulNBits(m: QuantizedMatrix): MatMulNBitsWeights {
  validateQuantizedMatrix(m, 'toMatMulNBits');
  const w = m.format.weight;
  const g = m.format.group;
  if (w.kind !== 'int' || w.bits < 2 || m.format.offset === 'min' || g < 16 || (g & (g - 1)) !== 0) {
    fail(
      `${formatName(m.format)} has no MatMulNBits layout; it takes int weights of 2..8 bits (i2..i8, or u2..u8 ` +
        'with integer zero points) and a group that is a power of two >= 16',
    );
  }
  const { n, k } = m;
  const bits = w.bits;
  const blocks = Math.ceil(k / g);
  const rowCodes = blocks * g;
  const b = new Uint8Array((n * rowCodes * bits) / 8);
  const codes = new Uint32Array(k);
  const flip = w.signed ? 2 ** (bits - 1) : 0;
  for (let r = 0; r < n; r++) {
    unpackBits(m.weights.data, bits, k, r * k, codes);
    if (flip) for (let c = 0; c < k; c++) codes[c] ^= flip;
    packBits(codes, bits, b, r * rowCodes);
  }
  const scales =
    m.format.scale === 'f16'
      ? Uint16Array.from(unpackBits(m.scales.data, 16, n * blocks))
      : new Float32Array(m.scales.toFloat32Array());
  if (w.signed) return { n, k, bits, blockSize: g, b, scales };
  const rowBytes = Math.ceil((blocks * bits) / 8);
  const zeroPoints = new Uint8Array(n * rowBytes);
  const zeros = m.zeros!.patterns();
  for (let r = 0; r < n; r++) {
    packBits(zeros.subarray(r * blocks, (r + 1) * blocks), bits, zeroPoints.subarray(r * rowBytes));
  }
  return { n, k, bits, blockSize: g, b, scales, zeroPoints };
}
