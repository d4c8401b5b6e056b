// Launch geometry: the logical grid from the artifact's grid expressions, and the dispatch that
// covers it. WebGPU allows at most 65535 workgroups per dispatch dimension, so a long grid is
// folded: total = gx*gy*gz workgroups dispatched as x = min(total, 65535),
// y = min(ceil(total / x), 65535), z = ceil(total / (x*y)); the shader linearizes its workgroup id,
// returns if it is >= total, and unflattens it over the logical grid (runtime/artifact.ts).
import { LaunchError } from '../../dsl/ir/errors.js';
import type { ScalarExpr } from '../../dsl/ir/scalar.js';
import { evalShapeExpr } from '../../dsl/ir/shape-expr.js';

/** Workgroups per dispatch dimension the folding scheme assumes (WebGPU's guaranteed limit). */
export const MAX_DISPATCH = 65535;

export interface Geometry {
  /** Logical blocks along x, y, z. */
  readonly grid: readonly [number, number, number];
  /** gx * gy * gz; 0 launches nothing. */
  readonly total: number;
  /** Workgroups dispatched along x, y, z. */
  readonly dispatch: readonly [number, number, number];
}

/** Evaluates the grid with the launch's symbols and scalars and folds it into a dispatch. */
export function launchGeometry(
  kernel: string,
  grid: readonly ScalarExpr[],
  gridText: readonly string[],
  env: ReadonlyMap<string, number>,
): Geometry {
  const dims: [number, number, number] = [1, 1, 1];
  for (const [axis, e] of grid.entries()) {
    const n = evalShapeExpr(e, env);
    if (n === undefined) {
      throw new LaunchError(
        `launch of '${kernel}': grid dim ${axis} '${gridText[axis]}' uses a symbol that no argument binds`,
      );
    }
    if (!Number.isInteger(n) || n < 0) {
      throw new LaunchError(
        `launch of '${kernel}': grid dim ${axis} '${gridText[axis]}' = ${n}; it must be a non-negative integer`,
      );
    }
    dims[axis] = n;
  }
  const total = dims[0] * dims[1] * dims[2];
  if (total > 0xffffffff) {
    throw new LaunchError(
      `launch of '${kernel}': the grid [${dims.join(', ')}] has ${total} blocks; at most 2^32 - 1 can launch`,
    );
  }
  return { grid: dims, total, dispatch: foldDispatch(total) };
}

/** The dispatch for `total` workgroups (all zeros for 0). */
export function foldDispatch(total: number): [number, number, number] {
  if (total === 0) return [0, 0, 0];
  const x = Math.min(total, MAX_DISPATCH);
  const y = Math.min(Math.ceil(total / x), MAX_DISPATCH);
  const z = Math.ceil(total / (x * y));
  return [x, y, z];
}
