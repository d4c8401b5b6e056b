// Shape rules of the tile instructions, shared by the builder (to infer a result type) and the
// validator (to check one). Each throws a VmError-ready message on mismatch.
import { type DType, isFloat } from '../dtype.js';
import { VmError } from './errors.js';

export type Shape = readonly number[];

export function showShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function numel(shape: Shape): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Row-major element strides of a shape. */
export function stridesOf(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

export function checkShape(shape: Shape, what: string): void {
  for (const [i, d] of shape.entries()) {
    if (!Number.isInteger(d) || d < 1) {
      throw new VmError(
        `${what}: tile dim ${i} is ${d}; tile dims must be positive integers known at compile time`,
      );
    }
  }
}

/** Numpy broadcasting: shapes right-aligned; each pair of dims equal or one of them 1. */
export function broadcastShapes(a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new VmError(
        `shapes ${showShape(a)} and ${showShape(b)} do not broadcast (dim ${i}: ${da} vs ${db})`,
      );
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Can `from` be broadcast to exactly `to`? */
export function broadcastsTo(from: Shape, to: Shape): boolean {
  if (from.length > to.length) return false;
  return from.every((d, i) => d === 1 || d === to[to.length - from.length + i]);
}

export function reduceShape(shape: Shape, axis: number, keepdim: boolean): number[] {
  checkAxis(shape, axis, shape.length);
  return keepdim ? shape.map((d, i) => (i === axis ? 1 : d)) : shape.filter((_, i) => i !== axis);
}

export function unsqueezeShape(shape: Shape, axis: number): number[] {
  checkAxis(shape, axis, shape.length + 1);
  return [...shape.slice(0, axis), 1, ...shape.slice(axis)];
}

export function repeatShape(shape: Shape, repeats: readonly number[]): number[] {
  if (repeats.length !== shape.length) {
    throw new VmError(
      `repeat: ${repeats.length} repeat counts for a rank-${shape.length} tile; give one per axis`,
    );
  }
  return shape.map((d, i) => {
    const r = repeats[i];
    if (!Number.isInteger(r) || r < 1)
      throw new VmError(`repeat: count ${r} on axis ${i} must be a positive integer`);
    return d * r;
  });
}

export function transposeShape(shape: Shape, perm: readonly number[]): number[] {
  const sorted = [...perm].sort((x, y) => x - y);
  if (perm.length !== shape.length || sorted.some((p, i) => p !== i)) {
    throw new VmError(`transpose: [${perm.join(', ')}] is not a permutation of the ${shape.length} axes`);
  }
  return perm.map((p) => shape[p]);
}

export function dotShape(a: Shape, b: Shape, c: Shape): number[] {
  if (a.length !== 2 || b.length !== 2 || c.length !== 2) {
    throw new VmError(
      `dot: operands must be rank 2 ([M, K] @ [K, N] + [M, N]); got ${showShape(a)}, ${showShape(b)}, ${showShape(c)}`,
    );
  }
  if (a[1] !== b[0]) throw new VmError(`dot: inner dims differ: a is ${showShape(a)}, b is ${showShape(b)}`);
  if (c[0] !== a[0] || c[1] !== b[1]) {
    throw new VmError(`dot: accumulator ${showShape(c)} must be [${a[0]}, ${b[1]}]`);
  }
  return [a[0], b[1]];
}

/** A view keeps every row's bit count: leading dims equal, last dim scaled by the width ratio. */
export function viewShape(shape: Shape, from: DType, to: DType): number[] {
  if (shape.length === 0) {
    if (from.bits !== to.bits)
      throw new VmError(`view: a scalar tile of ${from.name} cannot be viewed as ${to.name}`);
    return [];
  }
  const last = shape[shape.length - 1];
  const rowBits = last * from.bits;
  if (rowBits % to.bits !== 0) {
    throw new VmError(
      `view: a row of ${last} x ${from.name} is ${rowBits} bits, not a whole number of ${to.name} (${to.bits} bits)`,
    );
  }
  return [...shape.slice(0, -1), rowBits / to.bits];
}

function checkAxis(shape: Shape, axis: number, limit: number): void {
  if (!Number.isInteger(axis) || axis < 0 || axis >= limit) {
    throw new VmError(`axis ${axis} is out of range for a tile of shape ${showShape(shape)}`);
  }
}

export function isNumeric(d: DType): boolean {
  return d.kind !== 'bool';
}

export function describeKind(d: DType): string {
  return isFloat(d) ? 'a float' : d.kind === 'bool' ? 'bool' : 'an integer';
}
