// The browser side of test/browser/webgpu-browser.test.ts: bundled by esbuild (format esm, platform
// browser) and loaded by a page, it drives the same runtime code Node tests use, through
// navigator.gpu. It only imports the runtime entry, so the bundle shows what a shipped app pulls in.
// The Node side calls `globalThis.tilevmPage` through page.evaluate with plain JSON: artifacts as
// JSON text (as an app would fetch them) and tensors as packed bytes in base64.
import {
  createDevice,
  dtypeByName,
  type GpuTensor,
  Tensor,
  type WebGpuDevice,
  type WgslArtifact,
} from '../../runtime/index.js';

/** A host tensor: a dtype name, a shape and its packed bytes (Tensor.data) in base64. */
export interface TensorData {
  readonly dtype: string;
  readonly shape: readonly number[];
  readonly base64: string;
}

/** One launch: an artifact as JSON text; args name a job tensor (a string) or give a scalar. */
export interface LaunchSpec {
  readonly artifact: string;
  readonly args: Readonly<Record<string, string | number>>;
}

/**
 * Uploads `tensors`, runs `launches` in order (later ones may read what earlier ones wrote), then
 * reads back the tensors named in `read`.
 */
export interface Job {
  readonly tensors: Readonly<Record<string, TensorData>>;
  readonly launches: readonly LaunchSpec[];
  readonly read: readonly string[];
}

export interface PageInfo {
  readonly crossOriginIsolated: boolean;
  readonly secureContext: boolean;
  /** Whether `process` exists here: it must not, or the runtime could take its Node path. */
  readonly hasProcess: boolean;
  readonly href: string;
  readonly userAgent: string;
  /** device.adapter: { vendor: 'google', architecture: 'swiftshader', … } on SwiftShader. */
  readonly adapter: { readonly vendor: string; readonly architecture: string; readonly description: string };
  readonly features: readonly string[];
  readonly maxStorageBufferBindingSize: number;
}

export interface PageApi {
  /** Creates the device (once) and describes the page and adapter. */
  init(): Promise<PageInfo>;
  run(job: Job): Promise<Record<string, TensorData>>;
  /** Destroys the device. */
  dispose(): void;
}

let device: WebGpuDevice | undefined;

function fromBase64(text: string): Uint8Array {
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

function hostTensor(name: string, t: TensorData): Tensor {
  const dtype = dtypeByName(t.dtype);
  if (!dtype) throw new TypeError(`tensor '${name}': unknown dtype '${t.dtype}'`);
  return Tensor.fromBytes(dtype, t.shape, fromBase64(t.base64));
}

function needDevice(): WebGpuDevice {
  if (!device) throw new Error('tilevmPage.init() was not called');
  return device;
}

const api: PageApi = {
  async init() {
    device ??= await createDevice();
    return {
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      secureContext: globalThis.isSecureContext === true,
      hasProcess: typeof (globalThis as { process?: unknown }).process !== 'undefined',
      href: location.href,
      userAgent: navigator.userAgent,
      adapter: {
        vendor: device.adapter.vendor,
        architecture: device.adapter.architecture,
        description: device.adapter.description,
      },
      features: [...device.features].sort(),
      maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
    };
  },

  async run(job) {
    const d = needDevice();
    const gpu = new Map<string, GpuTensor>();
    try {
      for (const [name, t] of Object.entries(job.tensors)) gpu.set(name, d.upload(hostTensor(name, t)));
      for (const launch of job.launches) {
        const artifact = JSON.parse(launch.artifact) as WgslArtifact;
        const args: Record<string, GpuTensor | number> = {};
        for (const [param, arg] of Object.entries(launch.args)) {
          if (typeof arg === 'number') {
            args[param] = arg;
            continue;
          }
          const t = gpu.get(arg);
          if (!t) throw new Error(`launch of '${artifact.kernel}': no job tensor '${arg}' for '${param}'`);
          args[param] = t;
        }
        await d.launch(artifact, args);
      }
      const out: Record<string, TensorData> = {};
      for (const name of job.read) {
        const t = gpu.get(name);
        if (!t) throw new Error(`read: no job tensor '${name}'`);
        const host = await d.read(t);
        out[name] = { dtype: host.dtype.name, shape: host.shape, base64: toBase64(host.data) };
      }
      return out;
    } finally {
      for (const t of gpu.values()) t.destroy();
    }
  },

  dispose() {
    device?.destroy();
    device = undefined;
  },
};

(globalThis as { tilevmPage?: PageApi }).tilevmPage = api;
