// Binding launch arguments to a program's params: every tensor present with the declared dtype and
// rank, shape symbols consistent across tensors, derived dims equal to their expressions, scalar
// params in range. Errors name the param and both shapes.
import type { DType } from '../dtype.js';
import { LaunchError } from './errors.js';
import type { Param } from './program.js';
import { printScalar } from './scalar.js';
import { evalShapeExpr } from './shape-expr.js';

/** What the binder needs of a tensor argument (host or device). */
export interface TensorLike {
  readonly dtype: DType;
  readonly shape: readonly number[];
}

export interface Binding {
  /** Shape symbol values, then scalar param values. */
  readonly scalars: ReadonlyMap<string, number>;
}

function describe(p: Param): string {
  return p.kind === 'scalar'
    ? `${p.name}: ${p.dtype.name}`
    : `${p.name}: global ${p.dtype.name}[${p.shape.map(printScalar).join(', ')}]`;
}

export function bindArgs(
  kernelName: string,
  params: readonly Param[],
  args: Readonly<Record<string, unknown>>,
  isTensor: (x: unknown) => x is TensorLike,
): Binding {
  const at = `launch of '${kernelName}'`;
  const names = new Set(params.map((p) => p.name));
  for (const key of Object.keys(args)) {
    if (!names.has(key)) {
      throw new LaunchError(`${at}: unexpected argument '${key}'; the params are ${[...names].join(', ')}`);
    }
  }
  const scalars = new Map<string, number>();
  const boundFrom = new Map<string, string>();
  // Pass 1: bare-symbol dims bind symbols; pass 2 checks every dim.
  for (const p of params) {
    const arg = args[p.name];
    if (arg === undefined) throw new LaunchError(`${at}: missing argument '${p.name}' (${describe(p)})`);
    if (p.kind === 'scalar') {
      if (typeof arg !== 'number')
        throw new LaunchError(`${at}: argument '${p.name}' must be a number (${describe(p)})`);
      checkScalarArg(at, p.name, p.dtype, arg);
      continue;
    }
    if (!isTensor(arg))
      throw new LaunchError(`${at}: argument '${p.name}' must be a tensor (${describe(p)})`);
    if (arg.dtype.name !== p.dtype.name) {
      throw new LaunchError(
        `${at}: argument '${p.name}' is ${arg.dtype.name}, but the param is declared ${p.dtype.name}`,
      );
    }
    if (arg.shape.length !== p.shape.length) {
      throw new LaunchError(
        `${at}: argument '${p.name}' has shape [${arg.shape.join(', ')}] (rank ${arg.shape.length}), but the param is [${p.shape.map(printScalar).join(', ')}] (rank ${p.shape.length})`,
      );
    }
    for (const [i, dim] of p.shape.entries()) {
      if (dim.kind !== 'var') continue;
      const value = arg.shape[i];
      const prev = scalars.get(dim.name);
      const source = `${p.name}.shape[${i}]`;
      if (prev !== undefined && prev !== value) {
        throw new LaunchError(
          `${at}: shape symbol ${dim.name} is ${prev} from ${boundFrom.get(dim.name)} but ${value} from ${source} (argument '${p.name}' has shape [${arg.shape.join(', ')}])`,
        );
      }
      if (prev === undefined) {
        scalars.set(dim.name, value);
        boundFrom.set(dim.name, source);
      }
    }
  }
  for (const p of params) {
    if (p.kind !== 'global') continue;
    const arg = args[p.name] as TensorLike;
    for (const [i, dim] of p.shape.entries()) {
      const want = evalShapeExpr(dim, scalars);
      if (want !== arg.shape[i]) {
        const symbols = [...boundFrom.entries()]
          .map(([s, from]) => `${s} = ${scalars.get(s)} from ${from}`)
          .join(', ');
        throw new LaunchError(
          `${at}: argument '${p.name}' has shape [${arg.shape.join(', ')}], but dim ${i} should be ${printScalar(dim)} = ${want}${symbols ? ` (${symbols})` : ''}`,
        );
      }
    }
  }
  for (const p of params) if (p.kind === 'scalar') scalars.set(p.name, args[p.name] as number);
  return { scalars };
}

function checkScalarArg(at: string, name: string, dtype: DType, value: number): void {
  if (dtype.kind === 'int') {
    if (!Number.isInteger(value) || value < dtype.min || value > dtype.max) {
      throw new LaunchError(
        `${at}: argument '${name}' = ${value} is not a ${dtype.name} (an integer in ${dtype.min}..${dtype.max})`,
      );
    }
  } else if (dtype.kind === 'bool') {
    if (value !== 0 && value !== 1)
      throw new LaunchError(`${at}: argument '${name}' = ${value} must be 0 or 1 (bool)`);
  }
}
