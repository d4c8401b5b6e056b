// Kernel and fn signatures: TypeScript values whose types flow into launch arguments, so a wrong
// param name or dtype is a compile error in the user's editor.
import type { DType } from '../dtype.js';
import type { Access } from '../ir/program.js';
import type { Tensor } from '../tensor.js';

/** A global tensor param: `global(u4, ['N', 'K'])`, `global(f32, ['N'], 'write')`. */
export interface GlobalSpec<D extends DType = DType, A extends Access = Access> {
  readonly kind: 'global';
  readonly dtype: D;
  readonly shape: readonly (string | number)[];
  readonly access: A;
}

export function global<D extends DType, A extends Access = 'read'>(
  dtype: D,
  shape: readonly (string | number)[],
  access?: A,
): GlobalSpec<D, A> {
  return { kind: 'global', dtype, shape, access: (access ?? 'read') as A };
}

/** A param is a global tensor, or a dtype for a scalar passed by value. */
export type ParamSpec = GlobalSpec | DType;
export type ParamSpecs = Readonly<Record<string, ParamSpec>>;

/** A const is a number, or a list of candidates to tune over. */
export type ConstSpec = number | readonly number[];
export type ConstSpecs = Readonly<Record<string, ConstSpec>>;

export interface KernelSignature<P extends ParamSpecs = ParamSpecs, C extends ConstSpecs = ConstSpecs> {
  readonly name: string;
  readonly params: P;
  readonly consts?: C;
}

/** Chosen values for some or all consts. */
export type ConstValues<C extends ConstSpecs> = { readonly [K in keyof C]?: number };

/**
 * How a tensor of dtype D looks on each kind of device, by name. Devices add their own entry by
 * declaration merging (e.g. `webgpu: GpuTensor<D>`).
 */
export interface TensorTypes<D extends DType> {
  readonly host: Tensor<D>;
}
export type TensorKind = keyof TensorTypes<DType>;

/** The launch arguments of a kernel with params P, with tensors as device kind K holds them. */
export type KernelArgs<P extends ParamSpecs, K extends TensorKind = 'host'> = {
  readonly [N in keyof P]: P[N] extends GlobalSpec<infer D> ? TensorTypes<D>[K] : number;
};

/** A device function's signature: `fn({ name: 'gelu', params: { x: f32 }, returns: f32 })`. */
export interface FnSignature {
  readonly name: string;
  readonly params: Readonly<Record<string, DType>>;
  readonly returns: DType;
}
