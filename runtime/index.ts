// tilevm/runtime: what a shipped bundle needs to run kernels, with no compiler. Devices (WebGPU,
// WASM-SIMD) join host tensors here; this entry must never import the parser or the backends.
export * from '../dsl/dtype.js';
export { LaunchError } from '../dsl/ir/errors.js';
export { packBits, packedByteLength, readBits, unpackBits, writeBits } from '../dsl/packing.js';
export { Tensor } from '../dsl/tensor.js';
export type {
  ArtifactGlobal,
  ArtifactParam,
  ArtifactScalar,
  ArtifactUniform,
  WasmArtifact,
  WgslArtifact,
} from './artifact.js';
// Kernel bundles (.tvk) written by `tilevm build` (docs/bundle-format.md).
export {
  BUNDLE_VERSION,
  type BundleManifest,
  encodeKernelBundle,
  KernelBundle,
  KernelBundleError,
  type KernelBundleProblem,
  loadKernelBundle,
} from './bundle.js';
// createDevice({ backend: 'webgpu' | 'wasm' }).
export { createDevice, type DeviceOptions } from './device.js';
// Kernels precompiled by the build plugin (tilevm/plugin/*) and kernel bundles (.tvk).
export {
  PrecompiledKernel,
  type PrecompiledKernelData,
  PrecompiledKernelError,
  type PrecompiledVariant,
  precompiled,
  precompiledFn,
} from './precompiled.js';
// The WASM-SIMD device.
export {
  createWasmDevice,
  WASM_MAX_PAGES,
  type WasmArgs,
  WasmDevice,
  type WasmDeviceOptions,
} from './wasm/device.js';
export {
  KernelTrapError,
  WasmDeviceLostError,
  WasmModuleError,
  WasmOutOfMemoryError,
} from './wasm/errors.js';
export type { HeapStats as WasmMemoryStats } from './wasm/heap.js';
export { WasmTensor } from './wasm/tensor.js';
// The WebGPU device.
export {
  type AdapterDescription,
  type WebGpuArgs,
  WebGpuDevice,
  type WebGpuDeviceOptions,
} from './webgpu/device.js';
export { DeviceLostError, ShaderError, WebGpuError, WebGpuUnavailableError } from './webgpu/errors.js';
export { USEFUL_FEATURES } from './webgpu/features.js';
export { foldDispatch, MAX_DISPATCH } from './webgpu/geometry.js';
export { GpuTensor } from './webgpu/tensor.js';
