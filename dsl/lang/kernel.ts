// kernel(signature)`body`: the user-facing kernel object. It compiles lazily, once per const
// combination, and runs on the reference interpreter (devices add launch() later).
import type { InterpreterDevice } from '../interp/device.js';
import { interpret } from '../interp/interpret.js';
import type { Program } from '../ir/program.js';
import type { Tensor } from '../tensor.js';
import { CompileError, type CompileResult, compileKernelSource } from './compile.js';
import type { Diagnostic } from './diagnostics.js';
import type { ConstSpecs, ConstValues, KernelArgs, KernelSignature, ParamSpecs } from './signature.js';
import { SourceText } from './source.js';

export interface CompiledKernel {
  readonly name: string;
  readonly program: Program;
  readonly consts: Readonly<Record<string, number>>;
  /** Warnings (errors make compile throw). */
  readonly diagnostics: readonly Diagnostic[];
}

export class Kernel<P extends ParamSpecs = ParamSpecs, C extends ConstSpecs = ConstSpecs> {
  readonly source: SourceText;
  private readonly cache = new Map<string, CompileResult>();

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
    const key = JSON.stringify(Object.entries(consts).sort());
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
    return { name: this.name, program: result.program, consts: result.consts, diagnostics: result.diagnostics };
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

  /** Launches on a device (the interpreter today; WebGPU and WASM devices later). */
  launch(device: InterpreterDevice, args: KernelArgs<P>, options: { consts?: ConstValues<C> } = {}): Promise<void> {
    return device.run(this.compile(options.consts).program, args as unknown as Readonly<Record<string, Tensor | number>>);
  }

  /** Runs the kernel on the reference interpreter; write params are updated in place. */
  interpret(args: KernelArgs<P>, options: { consts?: ConstValues<C> } = {}): void {
    interpret(this.compile(options.consts).program, args as unknown as Readonly<Record<string, Tensor | number>>);
  }
}

/** `kernel({ name, params, consts })`body`` */
export function kernel<const P extends ParamSpecs, const C extends ConstSpecs = Record<never, never>>(
  signature: KernelSignature<P, C>,
): (strings: TemplateStringsArray, ...values: unknown[]) => Kernel<P, C> {
  return (strings, ...values) => new Kernel(signature, [...strings.raw], values);
}

/** Compiles a kernel for the given consts; throws CompileError with every diagnostic. */
export function compile<P extends ParamSpecs, C extends ConstSpecs>(k: Kernel<P, C>, options: { consts?: ConstValues<C> } = {}): CompiledKernel {
  return k.compile(options.consts);
}
