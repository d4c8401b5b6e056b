// Launch arguments checked against an artifact: what bindArgs checks (names, dtypes, shapes, symbols,
// scalar ranges), plus what only a device knows: the tensor is this device's and still alive, and a
// tensor a kernel writes is not also passed for another param (as on WebGPU, so that a launch valid
// on one device is valid on the other; blocks may run in any order, so aliasing would race).
import { LaunchError } from '../../dsl/ir/errors.js';
import { evalShapeExpr } from '../../dsl/ir/shape-expr.js';
import { bindTensorArgs, checkOwnedTensor } from '../common/launch-args.js';
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
  const {
    at,
    values: scalars,
    tensors,
  } = bindTensorArgs(plan, args, { name: 'WASM', isTensor: isWasmTensor, owner });
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
  checkOwnedTensor('WASM', at, name, t, owner);
}
