// The one place that talks to a device: uploads, empty activations, kernel launches and reads, for
// the WASM and WebGPU devices alike. Activations are flat NCHW: [N, C, H*W] f32.
import { f32, type Kernel, Tensor } from '../dsl/index.js';
import type { GpuTensor, WasmDevice, WasmTensor, WebGpuDevice } from '../runtime/index.js';

export type PatnetDevice = WasmDevice | WebGpuDevice;
export type DeviceTensor = WasmTensor<typeof f32> | GpuTensor<typeof f32>;
type AnyKernel = Kernel<never, never>;

export class Runner {
  readonly device: PatnetDevice;

  constructor(device: PatnetDevice) {
    if (!device || (device.backend !== 'wasm' && device.backend !== 'webgpu')) {
      throw new TypeError(
        "PATNet: device must come from createDevice({ backend: 'wasm' | 'webgpu' }) of tilevm/runtime",
      );
    }
    this.device = device;
  }

  /** Threads that run a launch's blocks (the WASM device's; 1 on WebGPU, where tiles ignore it). */
  get threads(): number {
    return this.device.backend === 'wasm' ? this.device.threads : 1;
  }

  upload(data: Float32Array, shape: readonly number[]): DeviceTensor {
    // fromBytes copies the f32 bit patterns as they are (little-endian, like every device).
    const host = Tensor.fromBytes(f32, shape, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return this.device.upload(host) as DeviceTensor;
  }

  empty(shape: readonly number[]): DeviceTensor {
    return this.device.tensor(f32, shape) as DeviceTensor;
  }

  async read(t: DeviceTensor): Promise<Float32Array> {
    const host = await (this.device as WasmDevice).read(t as WasmTensor<typeof f32>);
    return new Float32Array(host.data.buffer.slice(host.data.byteOffset, host.data.byteOffset + t.size * 4));
  }

  launch(k: unknown, args: Readonly<Record<string, DeviceTensor | number>>): Promise<void> {
    return (k as AnyKernel).launch(this.device as WasmDevice, args as never);
  }
}
