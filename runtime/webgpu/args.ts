// Launch arguments checked against an artifact: what bindArgs checks (names, dtypes, shapes, symbols,
// scalar ranges), plus what only a device knows: the tensor is this device's and still alive, and a
// tensor a kernel writes is not also passed for another param (a buffer cannot be bound writable and
// read-only in one dispatch).
import { bindTensorArgs, checkOwnedTensor } from '../common/launch-args.js';
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
  const { values, tensors } = bindTensorArgs(plan, args, { name: 'WebGPU', isTensor: isGpuTensor, owner });
  return { values, tensors };
}

/** Throws unless `t` belongs to `owner` and is not destroyed. */
export function checkTensor(at: string, name: string, t: GpuTensor, owner: TensorOwner): void {
  checkOwnedTensor('WebGPU', at, name, t, owner);
}
