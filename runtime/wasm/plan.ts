// A WASM artifact read once into what every launch needs: params as the binder knows them (dtypes
// resolved, dims parsed), the grid expressions, the descriptor fields resolved to their sources, and
// the module bytes checked against this runtime's conventions (runtime/artifact.ts): one imported
// memory env.memory with a maximum, no memory of its own, no active data segments. A malformed
// artifact fails here, naming the kernel and the field.
import type { ScalarExpr } from '../../dsl/ir/scalar.js';
import type { ArtifactGlobal, WasmArtifact } from '../artifact.js';
import { launchNames, type Param, readGrid, readHeader, readParam } from '../common/artifact-plan.js';
import { decodeBase64, type MemoryImport, readModuleLayout } from './binary.js';
import { WasmModuleError } from './errors.js';

export type { Param } from '../common/artifact-plan.js';

/** A descriptor field and where its value comes from. */
export type DescriptorField =
  | { readonly kind: 'tensor'; readonly name: string; readonly type: 'i32' | 'u32'; readonly index: number }
  | { readonly kind: 'value'; readonly name: string; readonly type: 'i32' | 'u32' | 'f32' }
  | {
      readonly kind: 'grid';
      readonly name: string;
      readonly type: 'i32' | 'u32' | 'f32';
      readonly axis: number;
    };

export interface WasmPlan {
  readonly artifact: WasmArtifact;
  readonly params: readonly Param[];
  /** Global params in declaration order. */
  readonly globals: readonly ArtifactGlobal[];
  /** Blocks along x, y, z (missing axes are 1). */
  readonly grid: readonly ScalarExpr[];
  readonly fields: readonly DescriptorField[];
  /** The module as the artifact ships it (memory import declared shared). */
  readonly bytes: Uint8Array;
  readonly memory: MemoryImport;
}

const GRID_AXES: Readonly<Record<string, number>> = { grid_x: 0, grid_y: 1, grid_z: 2 };
const TYPES = new Set(['i32', 'u32', 'f32']);
/** WebAssembly's 32-bit memories hold at most 65536 pages (4 GiB). */
const MAX_PAGES = 65536;

export function planWasmKernel(artifact: WasmArtifact): WasmPlan {
  const { name, fail } = readHeader(artifact, 'tilevm-wasm', 'the module cache key');
  if (typeof artifact.wasm !== 'string') fail('it has no module (wasm, base64)');
  for (const field of ['params', 'grid', 'descriptor', 'features'] as const) {
    if (!Array.isArray(artifact[field])) fail(`${field} is not a list`);
  }
  if (!Number.isInteger(artifact.scratchBytes) || artifact.scratchBytes < 0) {
    fail(`scratchBytes = ${artifact.scratchBytes}; it must be a non-negative integer`);
  }
  if (!Number.isInteger(artifact.maxPages) || artifact.maxPages < 1 || artifact.maxPages > MAX_PAGES) {
    fail(`maxPages = ${artifact.maxPages}; it must be an integer in 1..${MAX_PAGES}`);
  }
  const names = new Set<string>();
  const params = artifact.params.map((p): Param => {
    if (names.has(p.name)) fail(`param '${p.name}' is declared twice`);
    names.add(p.name);
    return readParam(fail, p);
  });
  const globals = artifact.params.filter((p): p is ArtifactGlobal => p.kind === 'global');
  const grid = readGrid(fail, artifact.grid);
  const { symbols, scalars } = launchNames(params);
  const fields = artifact.descriptor.map((f, i): DescriptorField => {
    const at = `descriptor field ${i} '${f.name}' (source '${f.source}', type '${f.type}')`;
    if (!TYPES.has(f.type)) fail(`${at}: the type must be i32, u32 or f32`);
    switch (f.source) {
      case 'tensor': {
        const index = globals.findIndex((g) => g.name === f.name);
        if (index < 0) fail(`${at}: no global param is named '${f.name}'`);
        if (f.type === 'f32') fail(`${at}: a tensor address must be i32 or u32`);
        return { kind: 'tensor', name: f.name, type: f.type as 'i32' | 'u32', index };
      }
      case 'symbol':
      case 'scalar':
        if (!(f.source === 'symbol' ? symbols : scalars).has(f.name)) {
          fail(`${at}: it names nothing the launch provides`);
        }
        return { kind: 'value', name: f.name, type: f.type };
      case 'grid': {
        const axis = GRID_AXES[f.name];
        if (axis === undefined) fail(`${at}: a grid field must be grid_x, grid_y or grid_z`);
        return { kind: 'grid', name: f.name, type: f.type, axis };
      }
      default:
        return fail(`${at}: unknown source`);
    }
  });
  const { bytes, memory } = readModule(artifact, name);
  return { artifact, params, globals, grid, fields, bytes, memory };
}

function readModule(artifact: WasmArtifact, kernel: string): { bytes: Uint8Array; memory: MemoryImport } {
  const fail = (why: string): never => {
    throw new WasmModuleError(kernel, `the module of kernel '${kernel}' ${why}`);
  };
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64(artifact.wasm);
  } catch (e) {
    return fail(`is not valid base64 (${(e as Error).message})`);
  }
  let layout: ReturnType<typeof readModuleLayout>;
  try {
    layout = readModuleLayout(bytes);
  } catch (e) {
    return fail(`is not a valid WebAssembly binary: ${(e as Error).message}`);
  }
  const imports = layout.memoryImports;
  const memory = imports[0];
  if (imports.length !== 1 || memory.module !== 'env' || memory.name !== 'memory' || layout.definesMemory) {
    const found = imports.map((m) => `'${m.module}.${m.name}'`).join(', ') || 'none';
    fail(
      `must import exactly one memory, 'env.memory', and define none (it imports ${found}` +
        `${layout.definesMemory ? ' and defines its own' : ''})`,
    );
  }
  if (memory.memory64) fail('imports a 64-bit memory; this device has a 32-bit one');
  if (memory.maxPages === undefined) fail("imports 'env.memory' without a maximum; declare maximum maxPages");
  if (memory.maxPages !== artifact.maxPages) {
    fail(
      `imports 'env.memory' with maximum ${memory.maxPages} pages, but the artifact says maxPages = ${artifact.maxPages}`,
    );
  }
  if (layout.activeData) {
    fail(
      'has active data segments, which every thread would copy into the shared memory when it ' +
        'instantiates the module, over tensors; use passive segments (memory.init into scratch) or globals',
    );
  }
  return { bytes, memory };
}
