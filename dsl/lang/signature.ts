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
 * The launch arguments of a kernel with params P, given how a tensor of dtype D looks on a device
 * (a host `Tensor` for the interpreter).
 */
export type KernelArgs<P extends ParamSpecs, T extends TensorKind = HostTensors> = {
  readonly [K in keyof P]: P[K] extends GlobalSpec<infer D> ? TensorOf<T, D> : number;
};

/** Maps a dtype to a device's tensor type; devices extend this with their own. */
export interface TensorKind {
  readonly tensor: unknown;
}
export interface HostTensors extends TensorKind {
  readonly tensor: Tensor<this['dtype']>;
  readonly dtype: DType;
}
export type TensorOf<T extends TensorKind, D extends DType> = (T & { readonly dtype: D })['tensor'];

/** A device function's signature: `fn({ name: 'gelu', params: { x: f32 }, returns: f32 })`. */
export interface FnSignature {
  readonly name: string;
  readonly params: Readonly<Record<string, DType>>;
  readonly returns: DType;
}
