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
  const names = paramNames(params);
  for (const key of Object.keys(args)) {
    if (!names.has(key)) {
      throw new LaunchError(`${at}: unexpected argument '${key}'; the params are ${[...names].join(', ')}`);
    }
  }
  const scalars = new Map<string, number>();
  // Where each symbol was bound: [param, dim] (the message is built only on a mismatch; a launch
  // binds thousands of times per second in a decode loop).
  const boundFrom = new Map<string, readonly [string, number]>();
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
    for (let i = 0; i < p.shape.length; i++) {
      const dim = p.shape[i];
      if (dim.kind !== 'var') continue;
      const value = arg.shape[i];
      const prev = scalars.get(dim.name);
      if (prev !== undefined && prev !== value) {
        throw new LaunchError(
          `${at}: shape symbol ${dim.name} is ${prev} from ${source(boundFrom.get(dim.name))} but ${value} from ${source([p.name, i])} (argument '${p.name}' has shape [${arg.shape.join(', ')}])`,
        );
      }
      if (prev === undefined) {
        scalars.set(dim.name, value);
        boundFrom.set(dim.name, [p.name, i]);
      }
    }
  }
  for (const p of params) {
    if (p.kind !== 'global') continue;
    const arg = args[p.name] as TensorLike;
    for (let i = 0; i < p.shape.length; i++) {
      const dim = p.shape[i];
      // A bare symbol was bound from this very dim, or checked against it in pass 1.
      const want = dim.kind === 'var' ? scalars.get(dim.name) : evalShapeExpr(dim, scalars);
      if (want !== arg.shape[i]) {
        const symbols = [...boundFrom.entries()]
          .map(([s, from]) => `${s} = ${scalars.get(s)} from ${source(from)}`)
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

/** 'x.shape[1]': where a shape symbol was bound. */
function source(from: readonly [string, number] | undefined): string {
  return from ? `${from[0]}.shape[${from[1]}]` : '?';
}

const paramNameSets = new WeakMap<readonly Param[], ReadonlySet<string>>();

/** The param names of a program (cached: programs and plans keep their params array). */
function paramNames(params: readonly Param[]): ReadonlySet<string> {
  let names = paramNameSets.get(params);
  if (!names) {
    names = new Set(params.map((p) => p.name));
    paramNameSets.set(params, names);
  }
  return names;
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
