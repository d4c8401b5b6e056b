// What a quantized-matmul kernel is specialized on: weight, scale and activation dtypes, the group
// size and the offset kind. Kernels are built once per spec (and compiled once per const combination
// by the Kernel itself).
import { dtypeByName } from '../../dsl/dtype.js';
import { type DType, type FloatDType, global, Tensor } from '../../dsl/index.js';
import type { Kernel } from '../../dsl/lang/kernel.js';

export interface KernelSpec {
  /** Weight element dtype: ints of 1..8 bits or small floats. */
  readonly weight: DType;
  /** Scale (and min) storage dtype: f16 or f32. */
  readonly scale: FloatDType;
  /** Activation dtype: f32 or f16. */
  readonly act: FloatDType;
  /** Elements per scale group along K; >= K for one scale per output channel. */
  readonly group: number;
  /** 'zero': integer zero points in the weight dtype; 'min': float offsets; none for symmetric. */
  readonly offset?: 'zero' | 'min' | undefined;
  /**
   * Signed weights stored as unsigned codes q + signBias (signBias = 2^(bits - 1); storedWeight
   * gives their dtype): the WASM kernels then decode them without a sign step (matmul.ts). 0 or
   * absent: stored as the weight dtype.
   */
  readonly signBias?: number | undefined;
}

/** The dtype the kernel's w holds: the weight dtype, or its unsigned twin under a sign bias. */
export function storedWeight(spec: KernelSpec): DType {
  return spec.signBias ? unsignedTwin(spec.weight) : spec.weight;
}

/** The unsigned int dtype of a signed int dtype's width: where sign-biased codes are stored. */
export function unsignedTwin(weight: DType): DType {
  const twin = dtypeByName(`u${weight.bits}`);
  if (weight.kind !== 'int' || !weight.signed || !twin) {
    throw new RangeError(`a sign bias needs signed int weights, got ${weight.name}`);
  }
  return twin;
}

/** The OFF const of the kernels: 0 no offset, 1 zero point, 2 float min. */
export function offsetCode(spec: KernelSpec): 0 | 1 | 2 {
  return spec.offset === 'zero' ? 1 : spec.offset === 'min' ? 2 : 0;
}

export function specKey(spec: KernelSpec): string {
  const bias = spec.signBias ? `/bias${spec.signBias}` : '';
  return `${spec.weight.name}/${spec.scale.name}/${spec.act.name}/g${spec.group}/${spec.offset ?? 'none'}${bias}`;
}

/** The params every kernel shares: activations x[M, K], weights w[N, K], scales and offsets. */
export function quantParams(spec: KernelSpec) {
  const groups = `cdiv(K, ${spec.group})`;
  return {
    x: global(spec.act, ['M', 'K']),
    w: global(storedWeight(spec), ['N', 'K']),
    s: global(spec.scale, ['N', groups]),
    ...(spec.offset === 'zero' ? { zp: global(spec.weight, ['N', groups]) } : {}),
    ...(spec.offset === 'min' ? { mn: global(spec.scale, ['N', groups]) } : {}),
  };
}

const kernels = new Map<string, Kernel>();

/** One kernel per (family, spec), built on first use. */
export function cached(family: string, spec: KernelSpec, build: () => Kernel): Kernel {
  const key = `${family}:${specKey(spec)}`;
  let k = kernels.get(key);
  if (!k) {
    k = build();
    kernels.set(key, k);
  }
  return k;
}

/**
 * How the integer path sees the weights: as integers `wi` of dtype i8 (or i16 when they do not fit),
 * with w = wi * scale / mul. Ints map with mul = 1 (after subtracting the zero point); small floats
 * whose values are all integers once multiplied by a power of two `mul` map too (f4e2m1 x2, f5e2m2 x4,
 * f6e2m3 x8 fit i8; f6e3m2 x16 fits i16); formats that fit neither (f8e4m3, f8e5m2) have no integer
 * path. NaN and infinite codes are ignored (quantizers never write them).
 */
export function integerWeights(spec: KernelSpec): { wi: 'i8' | 'i16'; mul: number } | undefined {
  const w = spec.weight;
  if (w.kind === 'int') {
    if (w.bits > 8) return undefined;
    return { wi: !w.signed && w.bits === 8 ? 'i16' : 'i8', mul: 1 };
  }
  if (w.kind !== 'float' || w.bits > 8) return undefined;
  const values = floatValues(w);
  for (let mul = 1; mul <= 2 ** 16; mul *= 2) {
    if (!values.every((v) => Number.isInteger(v * mul))) continue;
    const max = Math.max(...values.map((v) => Math.abs(v * mul)));
    if (max <= 127) return { wi: 'i8', mul };
    if (max <= 32767) return { wi: 'i16', mul };
    return undefined;
  }
  return undefined;
}

/** Every finite value of a small float dtype. */
function floatValues(dtype: DType): number[] {
  const out: number[] = [];
  for (let code = 0; code < 2 ** dtype.bits; code++) {
    const v = Tensor.fromBytes(dtype, [1], new Uint8Array([code])).get(0);
    if (Number.isFinite(v)) out.push(v);
  }
  return out;
}
