// Launch arguments checked against an artifact: what bindArgs checks (names, dtypes, shapes, symbols,
// scalar ranges), plus what only a device knows: the tensor is this device's and still alive, and a
// tensor a kernel writes is not also passed for another param (a buffer cannot be bound writable and
// read-only in one dispatch).
import { bindArgs } from '../../dsl/ir/bind.js';
import { LaunchError } from '../../dsl/ir/errors.js';
import { Tensor } from '../../dsl/tensor.js';
import type { KernelPlan } from './plan.js';
import { GpuTensor, type TensorOwner } from './tensor.js';

export interface BoundLaunch {
  /** Shape symbols, then scalar params. */
  readonly values: ReadonlyMap<string, number>;
  /** The tensor of each global param, in binding order (plan.globals). */
  readonly tensors: readonly GpuTensor[];
}

const isGpuTensor = (x: unknown): x is GpuTensor => x instanceof GpuTensor;

export function bindLaunch(
  plan: KernelPlan,
  args: Readonly<Record<string, unknown>>,
  owner: TensorOwner,
): BoundLaunch {
  const kernel = plan.artifact.kernel;
  const at = `launch of '${kernel}'`;
  if (typeof args !== 'object' || args === null) {
    throw new LaunchError(`${at}: the arguments must be an object of tensors and numbers by param name`);
  }
  for (const g of plan.globals) {
    const arg = args[g.name];
    if (arg instanceof Tensor) {
      throw new LaunchError(
        `${at}: argument '${g.name}' is a host ${arg}; upload it first (device.upload(tensor))`,
      );
    }
  }
  const { scalars } = bindArgs(kernel, plan.params, args, isGpuTensor);
  const tensors = plan.globals.map((g) => args[g.name] as GpuTensor);
  for (const [i, g] of plan.globals.entries()) checkTensor(at, g.name, tensors[i], owner);
  for (const [i, g] of plan.globals.entries()) {
    if (g.access === 'read') continue;
    for (const [j, other] of plan.globals.entries()) {
      if (j !== i && tensors[j] === tensors[i]) {
        throw new LaunchError(
          `${at}: arguments '${g.name}' and '${other.name}' are the same tensor (${tensors[i]}); ` +
            `'${g.name}' is written (access '${g.access}'), so it must not be passed for another param`,
        );
      }
    }
  }
  return { values: scalars, tensors };
}

/** Throws unless `t` belongs to `owner` and is not destroyed. */
export function checkTensor(at: string, name: string, t: GpuTensor, owner: TensorOwner): void {
  if (!t.ownedBy(owner)) {
    throw new LaunchError(
      `${at}: argument '${name}' (${t}) belongs to another WebGPU device; read it back and upload it to this one`,
    );
  }
  if (t.destroyed) throw new LaunchError(`${at}: argument '${name}' (${t}) was destroyed`);
}
