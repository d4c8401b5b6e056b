// An artifact read once into what every launch needs: params as the binder knows them (dtypes
// resolved, dims parsed), the grid expressions, and the storage bindings in order. A malformed
// artifact fails here, naming the kernel and the field.
import { dtypeByName } from '../../dsl/dtype.js';
import type { bindArgs } from '../../dsl/ir/bind.js';
import type { ScalarExpr } from '../../dsl/ir/scalar.js';
import { parseShapeExpr } from '../../dsl/ir/shape-expr.js';
import type { ArtifactGlobal, WgslArtifact } from '../artifact.js';

/** The binder's Param (dsl/ir/program.ts), named without importing the IR. */
export type Param = Parameters<typeof bindArgs>[1][number];

const GRID_UNIFORMS = new Set(['grid_x', 'grid_y', 'grid_z', 'dispatch_x', 'dispatch_y']);

export interface KernelPlan {
  readonly artifact: WgslArtifact;
  readonly params: readonly Param[];
  /** Global params in binding order. */
  readonly globals: readonly ArtifactGlobal[];
  /** Blocks along x, y, z (missing axes are 1). */
  readonly grid: readonly ScalarExpr[];
}

export function planKernel(artifact: WgslArtifact): KernelPlan {
  const name = typeof artifact?.kernel === 'string' ? artifact.kernel : '?';
  const fail = (why: string): never => {
    throw new Error(`artifact of kernel '${name}': ${why}`);
  };
  if (artifact?.format !== 'tilevm-wgsl' || artifact.version !== 1) {
    fail(
      `not a tilevm-wgsl version 1 artifact (format ${String(artifact?.format)}, version ` +
        `${String(artifact?.version)}); rebuild it with this tilevm`,
    );
  }
  if (typeof artifact.hash !== 'string' || artifact.hash === '')
    fail('it has no hash (the pipeline cache key)');
  const parse = (what: string, text: string): ScalarExpr => {
    try {
      return parseShapeExpr(text);
    } catch (e) {
      return fail(`${what}: ${(e as Error).message}`);
    }
  };
  const params = artifact.params.map((p): Param => {
    const dtype = dtypeByName(p.dtype) ?? fail(`param '${p.name}' has unknown dtype '${p.dtype}'`);
    if (p.kind === 'scalar') return { kind: 'scalar', name: p.name, dtype };
    const shape = p.shape.map((d, i) => parse(`param '${p.name}' dim ${i}`, d));
    return { kind: 'global', name: p.name, dtype, shape, access: p.access };
  });
  const globals = artifact.params
    .filter((p): p is ArtifactGlobal => p.kind === 'global')
    .sort((a, b) => a.binding - b.binding);
  const bindings = new Set<number>();
  for (const g of globals) {
    if (
      !Number.isInteger(g.binding) ||
      g.binding < 0 ||
      bindings.has(g.binding) ||
      g.binding === artifact.uniformBinding
    ) {
      fail(`param '${g.name}' has binding ${g.binding}, which is invalid or taken`);
    }
    bindings.add(g.binding);
  }
  if (artifact.grid.length < 1 || artifact.grid.length > 3) {
    fail(`grid has ${artifact.grid.length} dims; it must have 1 to 3`);
  }
  const grid = artifact.grid.map((g, i) => parse(`grid dim ${i}`, g));
  const symbols = new Set<string>();
  for (const p of params) {
    if (p.kind === 'global') for (const d of p.shape) if (d.kind === 'var') symbols.add(d.name);
  }
  const scalars = new Set(params.filter((p) => p.kind === 'scalar').map((p) => p.name));
  for (const u of artifact.uniforms) {
    const known =
      u.source === 'grid'
        ? GRID_UNIFORMS.has(u.name)
        : (u.source === 'symbol' ? symbols : scalars).has(u.name);
    if (!known) fail(`uniform '${u.name}' (source '${u.source}') names nothing the launch provides`);
  }
  if (!Number.isInteger(artifact.threads) || artifact.threads < 1) fail(`threads = ${artifact.threads}`);
  return { artifact, params, globals, grid };
}
