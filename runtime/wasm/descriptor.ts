// The launch descriptor: one 4-byte little-endian field per artifact descriptor entry, in order
// (runtime/artifact.ts): tensor addresses, shape symbols, scalar params and grid dims.
import type { BoundLaunch } from './args.js';
import type { DescriptorField } from './plan.js';

/** Writes the descriptor of `bound` at byte `at` of `view`. */
export function writeDescriptor(
  view: DataView,
  at: number,
  fields: readonly DescriptorField[],
  bound: BoundLaunch,
): void {
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    let value: number;
    if (f.kind === 'tensor') value = bound.tensors[f.index].rawAddress ?? 0;
    else if (f.kind === 'grid') value = bound.grid[f.axis];
    else value = bound.values.get(f.name) ?? 0;
    if (f.type === 'f32') view.setFloat32(at + 4 * i, value, true);
    else view.setUint32(at + 4 * i, value >>> 0, true); // i32 and u32 alike: the value's low 32 bits
  }
}
