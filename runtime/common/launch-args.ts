// Launch arguments checked against a plan, as every device checks them: what bindArgs checks (names,
// dtypes, shapes, symbols, scalar ranges), plus that each tensor is this device's and still alive,
// and that a tensor a kernel writes is not also passed for another param.
import { bindArgs, type TensorLike } from '../../dsl/ir/bind.js';
import { LaunchError } from '../../dsl/ir/errors.js';
import { Tensor } from '../../dsl/tensor.js';
import type { ArtifactGlobal } from '../artifact.js';
import type { Param } from './artifact-plan.js';

/** What the checks need of a device tensor. */
export interface OwnedTensor<Owner> {
  readonly destroyed: boolean;
  ownedBy(owner: Owner): boolean;
}

/** What the checks need of a device's plan. */
export interface ArgsPlan {
  readonly artifact: { readonly kernel: string };
  readonly params: readonly Param[];
  readonly globals: readonly ArtifactGlobal[];
}

export interface BoundArgs<T> {
  /** 'launch of <kernel>', the prefix of every launch error. */
  readonly at: string;
  /** Shape symbols, then scalar params. */
  readonly values: ReadonlyMap<string, number>;
  /** The tensor of each global param, in plan.globals order. */
  readonly tensors: readonly T[];
}

/** A device: its name in messages ('WASM', 'WebGPU'), how to tell its tensors, and itself as owner. */
export interface ArgsDevice<T, Owner> {
  readonly name: string;
  readonly isTensor: (x: unknown) => x is T;
  readonly owner: Owner;
}

export function bindTensorArgs<T extends TensorLike & OwnedTensor<Owner>, Owner>(
  plan: ArgsPlan,
  args: Readonly<Record<string, unknown>>,
  device: ArgsDevice<T, Owner>,
): BoundArgs<T> {
  const kernel = plan.artifact.kernel;
  const at = `launch of '${kernel}'`;
  if (typeof args !== 'object' || args === null) {
    throw new LaunchError(`${at}: the arguments must be an object of tensors and numbers by param name`);
  }
  // Index loops, no iterators: a decode step binds thousands of launches a second.
  const globals = plan.globals;
  for (let i = 0; i < globals.length; i++) {
    const arg = args[globals[i].name];
    if (arg instanceof Tensor) {
      throw new LaunchError(
        `${at}: argument '${globals[i].name}' is a host ${arg}; upload it first (device.upload(tensor))`,
      );
    }
  }
  const { scalars } = bindArgs(kernel, plan.params, args, device.isTensor);
  const tensors: T[] = new Array(globals.length);
  for (let i = 0; i < globals.length; i++) {
    tensors[i] = args[globals[i].name] as T;
    checkOwnedTensor(device.name, at, globals[i].name, tensors[i], device.owner);
  }
  for (let i = 0; i < globals.length; i++) {
    const g = globals[i];
    if (g.access === 'read') continue;
    for (let j = 0; j < globals.length; j++) {
      const other = globals[j];
      if (j !== i && tensors[j] === tensors[i]) {
        throw new LaunchError(
          `${at}: arguments '${g.name}' and '${other.name}' are the same tensor (${tensors[i]}); ` +
            `'${g.name}' is written (access '${g.access}'), so it must not be passed for another param`,
        );
      }
    }
  }
  return { at, values: scalars, tensors };
}

/** Throws unless `t` belongs to `owner` (a `device` device) and is not destroyed. */
export function checkOwnedTensor<Owner>(
  device: string,
  at: string,
  name: string,
  t: OwnedTensor<Owner>,
  owner: Owner,
): void {
  if (!t.ownedBy(owner)) {
    throw new LaunchError(
      `${at}: argument '${name}' (${t}) belongs to another ${device} device; read it back and upload it to this one`,
    );
  }
  if (t.destroyed) throw new LaunchError(`${at}: argument '${name}' (${t}) was destroyed`);
}
