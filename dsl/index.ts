// tilevm: the language and VM. (Devices arrive through tilevm/runtime.)
export * from './dtype.js';
export { interpret } from './interp/interpret.js';
export { ProgramBuilder } from './ir/builder.js';
export { LaunchError, VmError } from './ir/errors.js';
export type * from './ir/program.js';
export { printProgram } from './ir/print.js';
export { binary, blockIdx, constant, type ScalarExpr, type ScalarLike, scalarVar } from './ir/scalar.js';
export { validateProgram } from './ir/validate.js';
export * from './layout.js';
export { packBits, packedByteLength, readBits, unpackBits, writeBits } from './packing.js';
export { Tensor } from './tensor.js';
