// Precompiled kernels: what the build plugin (plugin/) and kernel bundles (runtime/bundle.ts) put
// where a `kernel(...)` template stood. Plain artifacts for every const combination and both
// targets, launched without the compiler: this module imports no parser, backend or binaryen.
import type { WasmArtifact, WgslArtifact } from '../dsl/artifact.js';

/** One const combination of a kernel, compiled for both targets. */
export interface PrecompiledVariant {
  readonly consts: Readonly<Record<string, number>>;
  readonly wasm: WasmArtifact;
  /** WGSL variants for different device features, the most demanding first; the last needs none. */
  readonly wgsl: readonly WgslArtifact[];
}

/** A kernel as the plugin emits it (JSON-serializable). */
export interface PrecompiledKernelData {
  readonly format: 'tilevm-precompiled';
  readonly version: 1;
  readonly name: string;
  /** Hash over every variant's artifacts. */
  readonly hash: string;
  /** Where the kernel was defined ('src/app.ts:12:7'), for error messages. */
  readonly origin?: string;
  /** Every const combination; the first holds each const's first candidate (the default). */
  readonly variants: readonly PrecompiledVariant[];
}

/** The part of a device a precompiled kernel launches on (WasmDevice and WebGpuDevice fit). */
export type PrecompiledLaunchDevice =
  | { readonly backend: 'wasm'; launch(artifact: WasmArtifact, args: never): Promise<void> }
  | {
      readonly backend: 'webgpu';
      readonly features: ReadonlySet<string>;
      readonly wgslLanguageFeatures?: ReadonlySet<string>;
      launch(artifact: WgslArtifact, args: never): Promise<void>;
    };

/** Thrown for what a precompiled kernel cannot do, or a const combination it was not built with. */
export class PrecompiledKernelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrecompiledKernelError';
  }
}

/**
 * A kernel compiled at build time. It launches like a `Kernel` on WASM and WebGPU devices; what
 * needs the compiler (interpret, check, compile) throws, since the compiler is not in the bundle.
 */
export class PrecompiledKernel {
  readonly precompiled = true;

  constructor(readonly data: PrecompiledKernelData) {}

  get name(): string {
    return this.data.name;
  }

  get hash(): string {
    return this.data.hash;
  }

  /** Every const combination built, in declaration order (as `Kernel.variants()`). */
  variants(): Record<string, number>[] {
    return this.data.variants.map((v) => ({ ...v.consts }));
  }

  /** The variant for the requested consts; unset consts take their first candidate. */
  variant(consts: Readonly<Record<string, number>> = {}): PrecompiledVariant {
    const defaults = this.data.variants[0].consts;
    for (const key of Object.keys(consts)) {
      if (!Object.hasOwn(defaults, key)) {
        throw new PrecompiledKernelError(
          `kernel '${this.name}' has no const '${key}' (its consts are: ${Object.keys(defaults).join(', ') || 'none'})`,
        );
      }
    }
    const want = { ...defaults, ...consts };
    const found = this.data.variants.find((v) => Object.keys(want).every((k) => v.consts[k] === want[k]));
    if (!found) {
      throw new PrecompiledKernelError(
        `kernel '${this.name}' was not built for consts ${JSON.stringify(want)}; the build has: ` +
          this.data.variants.map((v) => JSON.stringify(v.consts)).join(', '),
      );
    }
    return found;
  }

  /** The WGSL artifact for a device with these features: the most capable one it supports. */
  wgslFor(features: ReadonlySet<string>, consts?: Readonly<Record<string, number>>): WgslArtifact {
    const variant = this.variant(consts);
    const fit = variant.wgsl.find((a) => a.features.every((f) => features.has(f)));
    if (!fit) {
      throw new PrecompiledKernelError(
        `kernel '${this.name}' has no WGSL variant for a device with features [${[...features].sort().join(', ')}]`,
      );
    }
    return fit;
  }

  /** Launches on a WASM or WebGPU device; resolves when the device has run it. */
  launch(
    device: PrecompiledLaunchDevice,
    args: Readonly<Record<string, unknown>>,
    options: { readonly consts?: Readonly<Record<string, number>> } = {},
  ): Promise<void> {
    const backend = (device as { backend?: unknown } | null)?.backend;
    if (backend === 'wasm') {
      const d = device as Extract<PrecompiledLaunchDevice, { backend: 'wasm' }>;
      return d.launch(this.variant(options.consts).wasm, args as never);
    }
    if (backend === 'webgpu') {
      const d = device as Extract<PrecompiledLaunchDevice, { backend: 'webgpu' }>;
      // Artifacts list device features and WGSL language features (packed dots) alike.
      const available = new Set([...d.features, ...(d.wgslLanguageFeatures ?? [])]);
      return d.launch(this.wgslFor(available, options.consts), args as never);
    }
    return Promise.reject(
      new PrecompiledKernelError(
        `kernel '${this.name}' was precompiled, so it launches on WASM and WebGPU devices only ` +
          `(got ${backend === undefined ? 'no device' : `a '${String(backend)}' device`}); ` +
          'run the interpreter on the kernel itself, outside the bundle',
      ),
    );
  }

  interpret(): never {
    throw this.#noCompiler('interpret');
  }

  check(): never {
    throw this.#noCompiler('check');
  }

  compile(): never {
    throw this.#noCompiler('compile');
  }

  #noCompiler(method: string): PrecompiledKernelError {
    const at = this.data.origin ? ` (defined at ${this.data.origin})` : '';
    return new PrecompiledKernelError(
      `kernel '${this.name}'${at} was precompiled by the tilevm build plugin, and the bundle has no ` +
        `compiler for ${method}(); launch it on a device, or exclude the file from the plugin`,
    );
  }
}

/** Builds a launchable kernel from the plugin's data, checking its format first. */
export function precompiled(data: PrecompiledKernelData): PrecompiledKernel {
  const d = data as Partial<PrecompiledKernelData> | null;
  if (d?.format !== 'tilevm-precompiled') {
    throw new PrecompiledKernelError(
      `precompiled(): not a precompiled tilevm kernel (format ${String(d?.format)})`,
    );
  }
  if (d.version !== 1) {
    throw new PrecompiledKernelError(
      `precompiled(): kernel '${String(d.name)}' has format version ${String(d.version)}, this runtime reads version 1; rebuild with the same tilevm version`,
    );
  }
  if (!Array.isArray(d.variants) || d.variants.length === 0) {
    throw new PrecompiledKernelError(`precompiled(): kernel '${String(d.name)}' has no variants`);
  }
  return new PrecompiledKernel(data);
}

/**
 * A device function the plugin compiled into every kernel that uses it. It cannot be interpolated
 * into a kernel compiled at run time; the compiler rejects it (TV3001) with this object's name.
 */
export interface PrecompiledFn {
  readonly precompiledFn: string;
}

export function precompiledFn(name: string): PrecompiledFn {
  return Object.freeze({ precompiledFn: name });
}
