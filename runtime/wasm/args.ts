// Launch arguments checked against an artifact: what bindArgs checks (names, dtypes, shapes, symbols,
// scalar ranges), plus what only a device knows: the tensor is this device's and still alive, and a
// tensor a kernel writes is not also passed for another param (as on WebGPU, so that a launch valid
// on one device is valid on the other; blocks may run in any order, so aliasing would race).
import { bindArgs } from '../../dsl/ir/bind.js';
import { LaunchError } from '../../dsl/ir/errors.js';
import { evalShapeExpr } from '../../dsl/ir/shape-expr.js';
import { Tensor } from '../../dsl/tensor.js';
import type { WasmPlan } from './plan.js';
import { WasmTensor, type WasmTensorOwner } from './tensor.js';

export interface BoundLaunch {
  /** Shape symbols, then scalar params. */
  readonly values: ReadonlyMap<string, number>;
  /** The tensor of each global param, in declaration order (plan.globals). */
  readonly tensors: readonly WasmTensor[];
  /** Blocks along x, y, z. */
  readonly grid: readonly [number, number, number];
  /** gx * gy * gz; 0 launches nothing. */
  readonly total: number;
}

const isWasmTensor = (x: unknown): x is WasmTensor => x instanceof WasmTensor;

export function bindLaunch(
  plan: WasmPlan,
  args: Readonly<Record<string, unknown>>,
  owner: WasmTensorOwner,
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
  const { scalars } = bindArgs(kernel, plan.params, args, isWasmTensor);
  const tensors = plan.globals.map((g) => args[g.name] as WasmTensor);
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
  const grid: [number, number, number] = [1, 1, 1];
  for (const [axis, e] of plan.grid.entries()) {
    const text = plan.artifact.grid[axis];
    const n = evalShapeExpr(e, scalars);
    if (n === undefined) {
      throw new LaunchError(`${at}: grid dim ${axis} '${text}' uses a symbol that no argument binds`);
    }
    if (!Number.isInteger(n) || n < 0) {
      throw new LaunchError(`${at}: grid dim ${axis} '${text}' = ${n}; it must be a non-negative integer`);
    }
    grid[axis] = n;
  }
  const total = grid[0] * grid[1] * grid[2];
  if (total > 0xffffffff) {
    throw new LaunchError(
      `${at}: the grid [${grid.join(', ')}] has ${total} blocks; at most 2^32 - 1 can launch`,
    );
  }
  return { values: scalars, tensors, grid, total };
}

/** Throws unless `t` belongs to `owner` and is not destroyed. */
export function checkTensor(at: string, name: string, t: WasmTensor, owner: WasmTensorOwner): void {
  if (!t.ownedBy(owner)) {
    throw new LaunchError(
      `${at}: argument '${name}' (${t}) belongs to another WASM device; read it back and upload it to this one`,
    );
  }
  if (t.destroyed) throw new LaunchError(`${at}: argument '${name}' (${t}) was destroyed`);
}
