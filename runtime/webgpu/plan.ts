// An artifact read once into what every launch needs: params as the binder knows them (dtypes
// resolved, dims parsed), the grid expressions, and the storage bindings in order. A malformed
// artifact fails here, naming the kernel and the field.
import type { ScalarExpr } from '../../dsl/ir/scalar.js';
import type { ArtifactGlobal, WgslArtifact } from '../artifact.js';
import { launchNames, type Param, readGrid, readHeader, readParam } from '../common/artifact-plan.js';

export type { Param } from '../common/artifact-plan.js';

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
  const { fail } = readHeader(artifact, 'tilevm-wgsl', 'the pipeline cache key');
  const params = artifact.params.map((p) => readParam(fail, p));
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
  const grid = readGrid(fail, artifact.grid);
  const { symbols, scalars } = launchNames(params);
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
