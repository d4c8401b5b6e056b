// kernel(signature)`body`: the user-facing kernel object. It compiles lazily, once per const
// combination, and runs on the reference interpreter (devices add launch() later).
import type { WasmArtifact, WgslArtifact } from '../artifact.js';
import { compileWgsl } from '../backend/wgsl/index.js';
import type { InterpreterDevice } from '../interp/device.js';
import { interpret } from '../interp/interpret.js';
import type { Program } from '../ir/program.js';
import type { Tensor } from '../tensor.js';
import { CompileError, type CompileResult, compileKernelSource } from './compile.js';
import type { Diagnostic } from './diagnostics.js';
import type {
  ConstSpecs,
  ConstValues,
  KernelArgs,
  KernelSignature,
  ParamSpecs,
  TensorKind,
} from './signature.js';
import { SourceText, templateParts } from './source.js';

export interface CompiledKernel {
  readonly name: string;
  readonly program: Program;
  readonly consts: Readonly<Record<string, number>>;
  /** Warnings (errors make compile throw). */
  readonly diagnostics: readonly Diagnostic[];
}

/** A WASM-SIMD device (runtime/wasm's WasmDevice) as launch needs it, without importing the runtime. */
export interface WasmLaunchDevice {
  readonly backend: 'wasm';
  /** Whether the device runs relaxed-SIMD modules; JIT launches are then compiled with relaxed SIMD. */
  readonly relaxedSimd?: boolean;
  launch(artifact: WasmArtifact, args: Readonly<Record<string, unknown>>): Promise<void>;
}

/** Tensors on a WASM device are WasmTensors (registered by runtime/wasm). */
type WasmKind = 'wasm' extends TensorKind ? 'wasm' : 'host';

/** A WebGPU device (runtime/webgpu's WebGpuDevice) as launch needs it, without importing the runtime. */
export interface WebGpuLaunchDevice {
  readonly backend: 'webgpu';
  /** Device features; the artifact is compiled for them (and cached per feature set). */
  readonly features: ReadonlySet<string>;
  /** WGSL language features ('packed_4x8_integer_dot_product'); the artifact is compiled for them too. */
  readonly wgslLanguageFeatures?: ReadonlySet<string>;
  launch(artifact: WgslArtifact, args: Readonly<Record<string, unknown>>): unknown;
}

/** Tensors on a WebGPU device are GpuTensors (registered by runtime/webgpu). */
type WebGpuKind = 'webgpu' extends TensorKind ? 'webgpu' : 'host';

export class Kernel<P extends ParamSpecs = ParamSpecs, C extends ConstSpecs = ConstSpecs> {
  readonly source: SourceText;
  private readonly cache = new Map<string, CompileResult>();
  private readonly wasm = new Map<string, WasmArtifact>();
  /** WASM artifacts by the consts a launch asked for: a repeat launch skips compile() and its keys. */
  private readonly wasmLaunches = new Map<string, WasmArtifact>();
  private readonly wgsl = new Map<string, WgslArtifact>();

  constructor(
    readonly signature: KernelSignature<P, C>,
    parts: readonly string[],
    readonly values: readonly unknown[],
  ) {
    this.source = new SourceText(parts);
  }

  get name(): string {
    return this.signature.name;
  }

  /** Compiles without throwing: the program, or the diagnostics saying why not. */
  check(consts: ConstValues<C> = {}): CompileResult {
    const key = constsKey(consts);
    let result = this.cache.get(key);
    if (!result) {
      result = compileKernelSource(this, consts as Record<string, number>);
      this.cache.set(key, result);
    }
    return result;
  }

  /** Compiles for the given consts (the first candidate of each const by default). */
  compile(consts: ConstValues<C> = {}): CompiledKernel {
    const result = this.check(consts);
    if (!result.program) throw new CompileError(this.name, result.diagnostics, result.sources);
    return {
      name: this.name,
      program: result.program,
      consts: result.consts,
      diagnostics: result.diagnostics,
    };
  }

  /** Every combination of const candidates, in declaration order. */
  variants(): Record<string, number>[] {
    let combos: Record<string, number>[] = [{}];
    for (const [key, spec] of Object.entries(this.signature.consts ?? {})) {
      const candidates = Array.isArray(spec) ? spec : [spec as number];
      combos = combos.flatMap((c) => candidates.map((v) => ({ ...c, [key]: v })));
    }
    return combos;
  }

  /**
   * Launches on a device: the interpreter, a WASM device or a WebGPU device (the last two compile once
   * per const combination).
   */
  launch(
    device: InterpreterDevice,
    args: KernelArgs<P>,
    options?: { consts?: ConstValues<C> },
  ): Promise<void>;
  launch(
    device: WasmLaunchDevice,
    args: KernelArgs<P, WasmKind>,
    options?: { consts?: ConstValues<C> },
  ): Promise<void>;
  launch(
    device: WebGpuLaunchDevice,
    args: KernelArgs<P, WebGpuKind>,
    options?: { consts?: ConstValues<C> },
  ): Promise<void>;
  launch(
    device: InterpreterDevice | WasmLaunchDevice | WebGpuLaunchDevice,
    args: KernelArgs<P> | KernelArgs<P, WasmKind> | KernelArgs<P, WebGpuKind>,
    options: { consts?: ConstValues<C> } = {},
  ): Promise<void> {
    if (device.backend === 'webgpu') {
      const compiled = this.compile(options.consts);
      const features = [...device.features].sort();
      const language = [...(device.wgslLanguageFeatures ?? [])].sort();
      const key = JSON.stringify([Object.entries(compiled.consts).sort(), features, language]);
      let artifact = this.wgsl.get(key);
      if (!artifact) {
        artifact = compileWgsl(compiled.program, {
          features: device.features,
          languageFeatures: device.wgslLanguageFeatures,
        });
        this.wgsl.set(key, artifact);
      }
      return Promise.resolve(device.launch(artifact, args as Readonly<Record<string, unknown>>)).then(
        () => {},
      );
    }
    if (device.backend === 'wasm') return this.launchWasm(device, args, options.consts);
    return device.run(
      this.compile(options.consts).program,
      args as unknown as Readonly<Record<string, Tensor | number>>,
    );
  }

  private launchWasm(device: WasmLaunchDevice, args: object, consts?: ConstValues<C>): Promise<void> {
    const relaxedSimd = device.relaxedSimd === true;
    // Decode steps launch small kernels thousands of times: the repeat launch is one map lookup.
    const request = `${relaxedSimd ? 'relaxed' : 'baseline'}|${constsKey(consts ?? {})}`;
    const artifact = this.wasmLaunches.get(request);
    if (artifact) return device.launch(artifact, args as Readonly<Record<string, unknown>>);
    return this.compileWasmArtifact(relaxedSimd, consts).then((a) => {
      this.wasmLaunches.set(request, a);
      return device.launch(a, args as Readonly<Record<string, unknown>>);
    });
  }

  /** The WASM artifact for `consts` (its resolved values: requests that resolve alike share it). */
  private async compileWasmArtifact(relaxedSimd: boolean, consts?: ConstValues<C>): Promise<WasmArtifact> {
    const compiled = this.compile(consts);
    const key = `${relaxedSimd ? 'relaxed' : 'baseline'}|${constsKey(compiled.consts)}`;
    let artifact = this.wasm.get(key);
    if (!artifact) {
      // The backend (and binaryen) load on the first WASM launch only.
      const { compileWasm } = await import('../backend/wasm/index.js');
      artifact = compileWasm(compiled.program, { relaxedSimd });
      this.wasm.set(key, artifact);
    }
    return artifact;
  }

  /** Runs the kernel on the reference interpreter; write params are updated in place. */
  interpret(args: KernelArgs<P>, options: { consts?: ConstValues<C> } = {}): void {
    interpret(
      this.compile(options.consts).program,
      args as unknown as Readonly<Record<string, Tensor | number>>,
    );
  }
}

/** A cache key of const values: name=value pairs in name order (cheaper than JSON of sorted entries). */
function constsKey(consts: Readonly<Record<string, number | undefined>>): string {
  let key = '';
  for (const name of Object.keys(consts).sort()) key += `${name}=${consts[name]};`;
  return key;
}

/** `kernel({ name, params, consts })`body`` */
export function kernel<const P extends ParamSpecs, const C extends ConstSpecs = Record<never, never>>(
  signature: KernelSignature<P, C>,
): (strings: TemplateStringsArray, ...values: unknown[]) => Kernel<P, C> {
  return (strings, ...values) => new Kernel(signature, templateParts(strings, 'kernel'), values);
}

/** Compiles a kernel for the given consts; throws CompileError with every diagnostic. */
export function compile<P extends ParamSpecs, C extends ConstSpecs>(
  k: Kernel<P, C>,
  options: { consts?: ConstValues<C> } = {},
): CompiledKernel {
  return k.compile(options.consts);
}
