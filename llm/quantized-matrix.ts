/**
 * The weight-only quantized matrix: one type that knows its format and its packed storage. Every
 * quantizer, importer (GGUF, ONNX MatMulNBits) and kernel in llm/ speaks this contract; docs/llm-formats.md
 * has the bit layout.
 *
 * Dequantization (per element, row r, column c, group g = floor(c / group)):
 *   signed int weights:    w = q * scale[r, g]                           (symmetric, no zero point)
 *   unsigned int weights:  w = (q - zero[r, g]) * scale[r, g]            (asymmetric, integer zero point)
 *   unsigned, 'min' offset: w = q * scale[r, g] + min[r, g]              (GGUF Q4_1: a float offset)
 *   float weights:         w = q * scale[r, g]                           (q is the small float's value)
 * computed in float64 and rounded once to f32 (`Math.fround`), which is what dequantize() returns.
 */
import { type DType, type FloatDType, f16, f32, type IntDType } from '../dsl/dtype.js';
import { Tensor } from '../dsl/tensor.js';

/** A weight element type: any VM integer of 1..8 bits (signed or unsigned) or a small float of <= 8 bits. */
export type QuantWeightDType = IntDType | FloatDType;

/** Storage type of the per-group scales (and of `mins`). */
export type ScaleType = 'f16' | 'f32';

/**
 * How unsigned weights are offset. 'zero' (the default): an integer zero point per group, stored in the
 * weight dtype. 'min': a float offset per group, stored in the scale dtype (formats such as GGUF Q4_1 whose
 * `-min / scale` is not an integer). Signed and float weights have no offset.
 */
export type OffsetKind = 'zero' | 'min';

export interface QuantFormat {
  readonly weight: QuantWeightDType;
  /** Elements of one row that share a scale: 32, 64, 128, ... or K for one scale per output channel. */
  readonly group: number;
  readonly scale: ScaleType;
  /** Unsigned ints only; omitted means 'zero'. */
  readonly offset?: OffsetKind;
}

export interface QuantizedMatrix {
  readonly format: QuantFormat;
  /** Output rows (N). */
  readonly n: number;
  /** Reduction dimension (K). */
  readonly k: number;
  /** `format.weight` elements, shape [n, k], row-major (k contiguous), densely bit-packed (dsl/packing.ts). */
  readonly weights: Tensor;
  /** `format.scale` elements, shape [n, ceil(k / group)]. */
  readonly scales: Tensor;
  /** Unsigned weights with offset 'zero' only: `format.weight` elements, shape [n, ceil(k / group)]. */
  readonly zeros?: Tensor;
  /** Unsigned weights with offset 'min' only: `format.scale` elements, shape [n, ceil(k / group)]. */
  readonly mins?: Tensor;
}

/** The dtype object of a scale type name. */
export function scaleDType(scale: ScaleType): FloatDType {
  return scale === 'f16' ? f16 : f32;
}

/** Number of groups per row: ceil(k / group). */
export function groupCount(format: QuantFormat, k: number): number {
  return Math.ceil(k / format.group);
}

/** The offset kind in effect: 'zero' or 'min' for unsigned ints, undefined for signed ints and floats. */
export function offsetKind(format: QuantFormat): OffsetKind | undefined {
  const w = format.weight;
  if (w.kind !== 'int' || w.signed) return undefined;
  return format.offset ?? 'zero';
}

/** A short name such as `u4/g128/f16`, `i3/g32/f32`, `u4/g32/f16/min`, `f8e4m3/g4096/f16`. */
export function formatName(format: QuantFormat): string {
  const base = `${format.weight.name}/g${format.group}/${format.scale}`;
  return format.offset === 'min' ? `${base}/min` : base;
}

/** Describes why `weight` cannot be a quantized weight dtype, or returns undefined when it can. */
function weightProblem(weight: DType): string | undefined {
  if (weight === null || typeof weight !== 'object' || typeof weight.kind !== 'string') {
    return `weight must be a tilevm dtype (e.g. u4, i3, f4e2m1), got ${String(weight)}`;
  }
  if (weight.kind === 'bool') return 'weight bool is not a quantized type; use u1 or i1';
  if (weight.bits > 8) {
    return (
      `weight ${weight.name} has ${weight.bits} bits; quantized weights have 1..8 bits ` +
      '(ints i1..i8 / u1..u8, small floats such as f4e2m1, f8e4m3)'
    );
  }
  return undefined;
}

/**
 * Checks a format and throws a RangeError naming the field and the fix. A group larger than the K it is
 * used with is allowed (one group per row).
 */
export function validateFormat(format: QuantFormat, where = 'QuantFormat'): void {
  if (format === null || typeof format !== 'object') {
    throw new TypeError(`${where}: expected { weight, group, scale }, got ${String(format)}`);
  }
  const problem = weightProblem(format.weight);
  if (problem) throw new RangeError(`${where}: ${problem}`);
  if (!Number.isSafeInteger(format.group) || format.group < 1) {
    throw new RangeError(
      `${where}: group must be a positive integer (32, 64, 128, ... or K for per-channel), got ${format.group}`,
    );
  }
  if (format.scale !== 'f16' && format.scale !== 'f32') {
    throw new RangeError(`${where}: scale must be 'f16' or 'f32', got ${String(format.scale)}`);
  }
  const w = format.weight;
  if (format.offset !== undefined) {
    if (format.offset !== 'zero' && format.offset !== 'min') {
      throw new RangeError(`${where}: offset must be 'zero' or 'min', got ${String(format.offset)}`);
    }
    if (w.kind !== 'int' || w.signed) {
      throw new RangeError(
        `${where}: offset '${format.offset}' applies to unsigned int weights only; ${w.name} ` +
          `${w.kind === 'int' ? 'is symmetric (scale only)' : 'is a float (scale only)'}; drop offset`,
      );
    }
  }
}

function checkTensor(
  where: string,
  name: string,
  t: Tensor | undefined,
  dtype: DType,
  shape: readonly number[],
): void {
  if (t === undefined) throw new RangeError(`${where}: ${name} is missing; expected ${dtype.name}[${shape}]`);
  if (t.dtype.name !== dtype.name) {
    throw new RangeError(`${where}: ${name} has dtype ${t.dtype.name}; the format needs ${dtype.name}`);
  }
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new RangeError(`${where}: ${name} has shape [${t.shape}]; expected [${shape}]`);
  }
}

/** Checks that a QuantizedMatrix is internally consistent (format, dims, tensor dtypes and shapes). */
export function validateQuantizedMatrix(m: QuantizedMatrix, where = 'QuantizedMatrix'): void {
  validateFormat(m.format, `${where}.format`);
  for (const [name, v] of [
    ['n', m.n],
    ['k', m.k],
  ] as const) {
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new RangeError(`${where}: ${name} must be a positive integer, got ${v}`);
    }
  }
  const groups = groupCount(m.format, m.k);
  checkTensor(where, 'weights', m.weights, m.format.weight, [m.n, m.k]);
  checkTensor(where, 'scales', m.scales, scaleDType(m.format.scale), [m.n, groups]);
  const offset = offsetKind(m.format);
  if (offset === 'zero') checkTensor(where, 'zeros', m.zeros, m.format.weight, [m.n, groups]);
  else if (m.zeros !== undefined) {
    throw new RangeError(`${where}: zeros given but ${formatName(m.format)} has no integer zero points`);
  }
  if (offset === 'min') checkTensor(where, 'mins', m.mins, scaleDType(m.format.scale), [m.n, groups]);
  else if (m.mins !== undefined) {
    throw new RangeError(`${where}: mins given but ${formatName(m.format)} has no float offsets`);
  }
}

/**
 * The matrix's first `rows` rows (a copy of their bytes): for checking or timing a slice of a large
 * matrix. Every packed tensor's rows must end on a byte: rows * k * bits (and rows * groups
 * * bits for zero points) a multiple of 8.
 */
export function firstRows(m: QuantizedMatrix, rows: number): QuantizedMatrix {
  if (!Number.isInteger(rows) || rows < 1 || rows > m.n) {
    throw new RangeError(`firstRows: rows must be an integer in [1, ${m.n}], got ${rows}`);
  }
  const slice = (t: Tensor, cols: number, what: string): Tensor => {
    const bits = rows * cols * t.dtype.bits;
    if (bits % 8 !== 0) {
      throw new RangeError(
        `firstRows: ${rows} rows of the ${what} (${cols} x ${t.dtype.name} each) end mid-byte; take a row count that makes rows * ${cols} * ${t.dtype.bits} a multiple of 8`,
      );
    }
    return Tensor.fromBytes(t.dtype, [rows, cols], t.data.subarray(0, bits / 8));
  };
  const groups = groupCount(m.format, m.k);
  return {
    ...m,
    n: rows,
    weights: slice(m.weights, m.k, 'weights'),
    scales: slice(m.scales, groups, 'scales'),
    ...(m.zeros ? { zeros: slice(m.zeros, groups, 'zero points') } : {}),
    ...(m.mins ? { mins: slice(m.mins, groups, 'mins') } : {}),
  };
}
