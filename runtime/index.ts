// tilevm/runtime: what a shipped bundle needs to run kernels, with no compiler. Devices (WebGPU,
// WASM-SIMD) join host tensors here; this entry must never import the parser or the backends.
export * from '../dsl/dtype.js';
export { packBits, packedByteLength, readBits, unpackBits, writeBits } from '../dsl/packing.js';
export { Tensor } from '../dsl/tensor.js';
