// createDevice: one entry for every backend. `backend: 'webgpu'` (the default) makes a WebGpuDevice,
// `backend: 'wasm'` a WasmDevice; each backend's own factory (createWasmDevice) works as well.
import { createWasmDevice, type WasmDevice, type WasmDeviceOptions } from './wasm/device.js';
import {
  createDevice as createWebGpuDevice,
  type WebGpuDevice,
  type WebGpuDeviceOptions,
} from './webgpu/device.js';

export type DeviceOptions = WebGpuDeviceOptions | (WasmDeviceOptions & { readonly backend: 'wasm' });

/** Creates a WebGPU device (the default, or `backend: 'webgpu'`) or a WASM-SIMD device (`backend: 'wasm'`). */
export function createDevice(options?: WebGpuDeviceOptions): Promise<WebGpuDevice>;
export function createDevice(options: WasmDeviceOptions & { readonly backend: 'wasm' }): Promise<WasmDevice>;
export async function createDevice(options: DeviceOptions = {}): Promise<WebGpuDevice | WasmDevice> {
  const backend = (options as { backend?: unknown } | null)?.backend;
  if (backend === 'wasm') return createWasmDevice(options as WasmDeviceOptions);
  if (backend !== undefined && backend !== 'webgpu') {
    throw new TypeError(
      `createDevice: backend '${String(backend)}' is not supported; use 'webgpu' or 'wasm'`,
    );
  }
  return createWebGpuDevice(options as WebGpuDeviceOptions);
}
