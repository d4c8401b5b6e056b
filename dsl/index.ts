// tilevm: the language and VM. (Devices arrive through tilevm/runtime.)
export * from './dtype.js';
export { interpret } from './interp/interpret.js';
export { ProgramBuilder } from './ir/builder.js';
export { LaunchError, VmError } from './ir/errors.js';
export { printProgram } from './ir/print.js';
export type * from './ir/program.js';
export { binary, blockIdx, constant, type ScalarExpr, type ScalarLike, scalarVar } from './ir/scalar.js';
export { validateProgram } from './ir/validate.js';
// The kernel language.
export { CompileError, type CompileResult } from './lang/compile.js';
export {
  DIAGNOSTIC_CODES,
  type Diagnostic,
  type DiagnosticCode,
  formatDiagnostic,
} from './lang/diagnostics.js';
export { DeviceFn, fn } from './lang/fn.js';
export { type CompiledKernel, compile, Kernel, kernel } from './lang/kernel.js';
export {
  type FnSignature,
  type GlobalSpec,
  global,
  type KernelArgs,
  type KernelSignature,
} from './lang/signature.js';
export * from './layout.js';
export { packBits, packedByteLength, readBits, unpackBits, writeBits } from './packing.js';
export { Tensor } from './tensor.js';

/** Ceiling division for host code (the same as the kernel builtin `cdiv`). */
export function cdiv(a: number, b: number): number {
  return Math.ceil(a / b);
}
export { createInterpreterDevice, type InterpreterDevice } from './interp/device.js';
