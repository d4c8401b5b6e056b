// tilevm/llm: weight-only quantized matrices, their quantizer and importers (GGUF, ONNX MatMulNBits).
export * from './dequantize.js';
// GGUF: reader, writer, Q4_0/Q4_1/Q8_0 blocks <-> QuantizedMatrix, a synthetic llama model for benchmarks.
export * from './gguf/blocks.js';
export * from './gguf/ggml-types.js';
export * from './gguf/llama.js';
export * from './gguf/read.js';
export * from './gguf/types.js';
export * from './gguf/write.js';
// Quantized matmul kernels (GEMV/GEMM, float and int8-activation paths) and the host API.
export { QMATMUL_CONSTS, qmatmulKernel } from './kernels/qmatmul.js';
export { QMATMUL_INT_CONSTS, qmatmulIntKernel } from './kernels/qmatmul-int.js';
export { quantizeActKernel } from './kernels/quantize-act.js';
export { splitKReduce } from './kernels/reduce.js';
export { integerWeights, type KernelSpec } from './kernels/spec.js';
export * from './matmul.js';
export * from './onnx-matmulnbits.js';
export * from './quantize.js';
export * from './quantized-matrix.js';
