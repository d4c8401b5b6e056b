// The uniform buffer: one 4-byte field per artifact uniform, in order (runtime/artifact.ts).
import type { ArtifactUniform } from '../artifact.js';
import type { Geometry } from './geometry.js';

/** The uniform struct's bytes for one launch; `values` holds shape symbols and scalar params. */
export function uniformBytes(
  fields: readonly ArtifactUniform[],
  values: ReadonlyMap<string, number>,
  geometry: Geometry,
): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(fields.length * 4);
  const view = new DataView(bytes.buffer);
  for (const [i, field] of fields.entries()) {
    const value = field.source === 'grid' ? gridValue(field.name, geometry) : values.get(field.name);
    if (value === undefined) throw new Error(`uniform '${field.name}' (${field.source}) has no value`);
    if (field.type === 'f32') view.setFloat32(i * 4, value, true);
    else view.setUint32(i * 4, value >>> 0, true); // i32 and u32 alike: the value's low 32 bits
  }
  return bytes;
}

function gridValue(name: string, g: Geometry): number | undefined {
  switch (name) {
    case 'grid_x':
      return g.grid[0];
    case 'grid_y':
      return g.grid[1];
    case 'grid_z':
      return g.grid[2];
    case 'dispatch_x':
      return g.dispatch[0];
    case 'dispatch_y':
      return g.dispatch[1];
    default:
      return undefined;
  }
}
