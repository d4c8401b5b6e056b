// The reference interpreter as a device: kernels launch on it like on WebGPU or WASM, with host
// Tensors as device memory. Tests and users debugging a kernel run it here.
import type { Program } from '../ir/program.js';
import type { Tensor } from '../tensor.js';
import { interpret } from './interpret.js';

export interface InterpreterDevice {
  readonly backend: 'interp';
  /** Runs a compiled program; resolves when every block has run. */
  run(program: Program, args: Readonly<Record<string, Tensor | number>>): Promise<void>;
}

export function createInterpreterDevice(): InterpreterDevice {
  return {
    backend: 'interp',
    async run(program, args) {
      interpret(program, args);
    },
  };
}
