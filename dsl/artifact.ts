// Compiled-kernel formats: produced by the backends (dsl/backend), consumed by the runtime. A leaf
// module: pure types, so the runtime can import it without the compiler.
// A compiled kernel as the runtime receives it: plain data (JSON-serializable), so the runtime
// never needs the compiler. The WGSL backend (dsl/backend/wgsl) produces it; bundles store it.

/** A global tensor param, in binding order. */
export interface ArtifactGlobal {
  readonly kind: 'global';
  readonly name: string;
  /** A dtype name (`dtypeByName` resolves it). */
  readonly dtype: string;
  /** Dims as shape-expression text: 'N', 'K / 128', 'cdiv(K, 32)', '4'. */
  readonly shape: readonly string[];
  readonly access: 'read' | 'write' | 'readwrite';
  /** @group(0) @binding(n) of its storage buffer. */
  readonly binding: number;
}

export interface ArtifactScalar {
  readonly kind: 'scalar';
  readonly name: string;
  readonly dtype: string;
}

export type ArtifactParam = ArtifactGlobal | ArtifactScalar;

/** One 4-byte field of the uniform buffer, in order (std140-compatible: all fields are 4 bytes). */
export interface ArtifactUniform {
  readonly name: string;
  /**
   * A shape symbol (from tensor shapes), a scalar param, or launch geometry the shader needs to
   * recover blockIdx from a folded dispatch: 'grid_x', 'grid_y', 'grid_z' (logical blocks per
   * axis) and 'dispatch_x', 'dispatch_y' (workgroups dispatched along x and y), all u32. The runtime
   * dispatches total = gx*gy*gz workgroups as x = min(total, 65535), y = min(ceil(total / x), 65535),
   * z = ceil(total / (x*y)); the shader linearizes its workgroup id, returns if it is >= total, and
   * unflattens it into (x, y, z) over the logical grid.
   */
  readonly source: 'symbol' | 'scalar' | 'grid';
  /** How the value is written: i32 and u32 as integers (wrapped), f32 as a float. */
  readonly type: 'i32' | 'u32' | 'f32';
}

export interface WgslArtifact {
  readonly format: 'tilevm-wgsl';
  readonly version: 1;
  readonly kernel: string;
  readonly consts: Readonly<Record<string, number>>;
  /** Hash of everything below; the pipeline cache key. */
  readonly hash: string;
  readonly wgsl: string;
  readonly entryPoint: string;
  /** Threads per block = @workgroup_size(threads). */
  readonly threads: number;
  readonly params: readonly ArtifactParam[];
  /** Blocks along x, y, z, as shape-expression text over shape symbols and scalar params. */
  readonly grid: readonly string[];
  /** Fields of the uniform struct at @group(0) @binding(uniformBinding). */
  readonly uniforms: readonly ArtifactUniform[];
  readonly uniformBinding: number;
  /** Device features the shader needs ('shader-f16', 'subgroups'); a variant without them exists. */
  readonly features: readonly string[];
}

/**
 * A kernel compiled to WebAssembly (SIMD128). One module per kernel and const combination; it
 * imports one linear memory (`env.memory`, declared shared with a maximum of `maxPages`; the
 * runtime flips the shared flag when threads are unavailable) and exports
 *   main(desc: i32, blockBegin: i32, blockEnd: i32, scratch: i32)
 * which runs the blocks [blockBegin, blockEnd) of the grid linearized x-fastest. `desc` points to
 * the launch descriptor: one 4-byte field per entry of `descriptor`, in order; `scratch` points to
 * `scratchBytes` bytes (16-byte aligned) private to the calling thread.
 */
export interface WasmArtifact {
  readonly format: 'tilevm-wasm';
  readonly version: 1;
  readonly kernel: string;
  readonly consts: Readonly<Record<string, number>>;
  /** Hash of everything below; the module cache key. */
  readonly hash: string;
  /** The module bytes, base64-encoded (so the artifact stays JSON). */
  readonly wasm: string;
  readonly params: readonly ArtifactParam[];
  /** Blocks along x, y, z as shape-expression text (as in WgslArtifact). */
  readonly grid: readonly string[];
  /**
   * Launch descriptor fields: 'tensor' is a global param's byte address in memory (name = param);
   * 'symbol' and 'scalar' as for WGSL uniforms; 'grid' is grid_x, grid_y or grid_z.
   */
  readonly descriptor: readonly {
    readonly name: string;
    readonly source: 'tensor' | 'symbol' | 'scalar' | 'grid';
    readonly type: 'i32' | 'u32' | 'f32';
  }[];
  readonly scratchBytes: number;
  readonly maxPages: number;
  /** 'simd128' always; 'relaxed-simd' for the variant that needs it. */
  readonly features: readonly string[];
  /**
   * Optional relaxed-SIMD variant of this (baseline) module: the same kernel, params, grid and
   * descriptor, its own `wasm`, `scratchBytes`, `hash`, and 'relaxed-simd' in its `features` (it has
   * no `relaxed` of its own). A WASM device runs it where the engine validates relaxed SIMD and
   * the device was not made with `relaxedSimd: false`; everywhere else the baseline module runs.
   * Floats may differ within the tolerance of docs/wasm-backend.md (fused multiply-add).
   */
  readonly relaxed?: WasmArtifact;
}
