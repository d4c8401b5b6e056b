/// <reference types="@webgpu/types" />
// The WebGPU device: tensors, launches of precompiled WGSL artifacts, batched submission, readback,
// and loss. Launches keep their order: one whose kernel is still compiling queues every later launch
// and read behind it.
import type { DType } from '../../dsl/dtype.js';
import { LaunchError } from '../../dsl/ir/errors.js';
import { Tensor } from '../../dsl/tensor.js';
import type { WgslArtifact } from '../artifact.js';
import { checkShape } from '../common/shape.js';
import { requestAdapter, wgslLanguageFeatures } from './adapter.js';
import { bindLaunch, checkTensor } from './args.js';
import { CommandBatch } from './batch.js';
import { DeviceLostError, WebGpuError } from './errors.js';
import { deviceDescriptor, type FeatureOptions } from './features.js';
import { launchGeometry } from './geometry.js';
import { type CompiledKernel, compileKernel } from './pipeline.js';
import { type KernelPlan, planKernel } from './plan.js';
import { bufferByteLength, GpuTensor, type TensorOwner } from './tensor.js';
import { uniformBytes } from './uniforms.js';

export interface WebGpuDeviceOptions extends FeatureOptions {
  readonly backend?: 'webgpu';
  readonly powerPreference?: GPUPowerPreference;
}

/** Launch arguments: a GpuTensor per global param, a number per scalar param. */
export type WebGpuArgs = Readonly<Record<string, GpuTensor | number>>;

/** How long a failed map waits for the device's `lost` promise before reporting the failure as is. */
const LOSS_GRACE_MS = 1000;
const TENSOR_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

interface KernelEntry {
  readonly plan: KernelPlan;
  /** The pipeline once compiled; until then (or on failure) the promise. */
  compiled: CompiledKernel | undefined;
  readonly compiling: Promise<CompiledKernel>;
}

/** Creates a WebGPU device (navigator.gpu in browsers, Dawn in Node; see docs/architecture.md). */
export async function createDevice(options: WebGpuDeviceOptions = {}): Promise<WebGpuDevice> {
  if (options.backend !== undefined && options.backend !== 'webgpu') {
    throw new TypeError(`createDevice: backend '${String(options.backend)}' is not supported; use 'webgpu'`);
  }
  const adapter = await requestAdapter(options.powerPreference);
  const gpu = await adapter.requestDevice(deviceDescriptor(adapter, options));
  const info = adapter.info;
  // disableFeatures also hides WGSL language features, so tests can force the fallbacks.
  const disabled = new Set(options.disableFeatures ?? []);
  const language = new Set([...wgslLanguageFeatures()].filter((f) => !disabled.has(f)));
  return new WebGpuDevice(
    gpu,
    {
      vendor: info?.vendor ?? '',
      architecture: info?.architecture ?? '',
      device: info?.device ?? '',
      description: info?.description ?? '',
    },
    language,
  );
}

export interface AdapterDescription {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
}

export class WebGpuDevice implements TensorOwner {
  readonly backend = 'webgpu' as const;
  /** The underlying GPUDevice, for interop. */
  readonly gpu: GPUDevice;
  /** The adapter, e.g. { vendor: 'google', architecture: 'swiftshader', … } on SwiftShader. */
  readonly adapter: AdapterDescription;
  /** Features the device was created with ('shader-f16', 'subgroups', 'timestamp-query', …). */
  readonly features: ReadonlySet<string>;
  /** WGSL language features of the implementation ('packed_4x8_integer_dot_product', …). */
  readonly wgslLanguageFeatures: ReadonlySet<string>;
  readonly limits: GPUSupportedLimits;
  readonly #batch: CommandBatch;
  readonly #kernels = new Map<string, KernelEntry>();
  /** Settles after every queued step (launches waiting for a compile, reads behind them); never rejects. */
  #queue: Promise<void> | undefined;
  #lost: DeviceLostError | undefined;
  /** Rejects with the DeviceLostError when the device is lost. */
  readonly #lostSignal: Promise<never>;
  #failLost!: (e: DeviceLostError) => void;
  #uncaptured: GPUError | undefined;

  /** @internal Use `createDevice()`. */
  constructor(
    gpu: GPUDevice,
    adapter: AdapterDescription,
    languageFeatures: ReadonlySet<string> = new Set(),
  ) {
    this.gpu = gpu;
    this.adapter = adapter;
    this.features = new Set(gpu.features as unknown as Iterable<string>);
    this.wgslLanguageFeatures = languageFeatures;
    this.limits = gpu.limits;
    this.#batch = new CommandBatch(gpu, () => this.#submit());
    this.#lostSignal = new Promise<never>((_, reject) => {
      this.#failLost = reject;
    });
    this.#lostSignal.catch(() => {});
    gpu.lost.then((info) => {
      const detail = info.message ? `${info.message} (reason: ${info.reason})` : `reason: ${info.reason}`;
      this.#markLost(detail);
    });
    gpu.addEventListener('uncapturederror', (event) => {
      this.#uncaptured ??= (event as GPUUncapturedErrorEvent).error;
    });
  }

  /** Whether the device was lost or destroyed (every call then throws a DeviceLostError). */
  get lost(): boolean {
    return this.#lost !== undefined;
  }

  /** A zero-filled tensor. */
  tensor<D extends DType>(dtype: D, shape: readonly number[]): GpuTensor<D> {
    this.#assertAlive();
    const s = checkShape('device.tensor', shape);
    return new GpuTensor(
      this,
      dtype,
      s.shape,
      s.size,
      this.#createTensorBuffer('device.tensor', dtype, s.size),
    );
  }

  /** Copies a host tensor's packed bytes into a new device tensor. */
  upload<D extends DType>(host: Tensor<D>): GpuTensor<D> {
    this.#assertAlive();
    if (!(host instanceof Tensor)) {
      throw new TypeError(`device.upload: expected a host Tensor, got ${describe(host)}`);
    }
    const buffer = this.#createTensorBuffer('device.upload', host.dtype, host.size);
    if (host.data.byteLength > 0) this.gpu.queue.writeBuffer(buffer, 0, host.data as Uint8Array<ArrayBuffer>);
    return new GpuTensor(this, host.dtype, host.shape, host.size, buffer);
  }

  /** Copies a device tensor back into a new host tensor, after every launch issued before. */
  async read<D extends DType>(t: GpuTensor<D>): Promise<Tensor<D>> {
    this.#assertAlive();
    this.#checkOwn('device.read', t);
    const staging = this.gpu.createBuffer({
      label: 'tilevm readback',
      size: t.byteLength,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    try {
      await this.#inOrder(undefined, () => {
        this.#checkOwn('device.read', t);
        this.#batch.copy(t.buffer, staging, t.byteLength);
        this.#submit();
      });
      await this.#untilLost(staging.mapAsync(GPUMapMode.READ));
      const result = Tensor.fromBytes(t.dtype, t.shape, new Uint8Array(staging.getMappedRange()));
      this.#throwUncaptured();
      return result;
    } catch (e) {
      throw await this.#explain(e);
    } finally {
      staging.destroy();
    }
  }

  /**
   * Launches a kernel. Resolves once the launch is encoded (the first launch of a kernel waits for
   * its compilation); the GPU runs it when the batch is submitted: at the next read or flush, or at
   * the end of the current turn. Rejects with a LaunchError for bad arguments and a ShaderError when
   * the kernel does not compile.
   */
  async launch(artifact: WgslArtifact, args: WebGpuArgs): Promise<void> {
    this.#assertAlive();
    const kernel = this.#kernel(artifact);
    const { plan } = kernel;
    const bound = bindLaunch(plan, args, this);
    const geometry = launchGeometry(plan.artifact.kernel, plan.grid, plan.artifact.grid, bound.values);
    const at = `launch of '${plan.artifact.kernel}'`;
    const maxBinding = this.limits.maxStorageBufferBindingSize;
    for (const [i, t] of bound.tensors.entries()) {
      if (t.byteLength > maxBinding) {
        throw new LaunchError(
          `${at}: argument '${plan.globals[i].name}' (${t}) has ${t.byteLength} bytes, more than this device ` +
            `binds in one storage buffer (maxStorageBufferBindingSize = ${maxBinding})`,
        );
      }
    }
    const encode = (compiled: CompiledKernel): void => {
      for (const [i, t] of bound.tensors.entries()) checkTensor(at, plan.globals[i].name, t, this);
      if (geometry.total === 0) return;
      const entries: GPUBindGroupEntry[] = bound.tensors.map((t, i) => ({
        binding: plan.globals[i].binding,
        resource: { buffer: t.buffer },
      }));
      if (plan.artifact.uniforms.length > 0) {
        const bytes = uniformBytes(plan.artifact.uniforms, bound.values, geometry);
        entries.push({ binding: plan.artifact.uniformBinding, resource: this.#batch.uniform(bytes) });
      }
      const bindGroup = this.gpu.createBindGroup({
        label: plan.artifact.kernel,
        layout: compiled.layout,
        entries,
      });
      const [x, y, z] = geometry.dispatch;
      this.#batch.dispatch(compiled.pipeline, bindGroup, x, y, z);
    };
    const compiled = kernel.compiled;
    if (compiled && this.#queue === undefined) {
      encode(compiled);
      return;
    }
    await this.#inOrder(kernel.compiling, () => encode(kernel.compiled!));
  }

  /** Submits every pending launch and resolves when the GPU has finished them. */
  async flush(): Promise<void> {
    this.#assertAlive();
    await this.#inOrder(undefined, () => this.#submit());
    await this.#untilLost(this.gpu.queue.onSubmittedWorkDone());
    this.#throwUncaptured();
  }

  /** Destroys the device and every tensor on it; later calls throw a DeviceLostError. */
  destroy(): void {
    if (this.#lost) return;
    this.#markLost('device.destroy() was called');
    this.gpu.destroy();
  }

  /** Frees a tensor's buffer once pending commands no longer need it (TensorOwner). */
  retire(buffer: GPUBuffer): void {
    if (this.#lost) buffer.destroy();
    else this.#batch.retire(buffer);
  }

  #kernel(artifact: WgslArtifact): KernelEntry {
    const hash = artifact?.hash;
    const cached = typeof hash === 'string' ? this.#kernels.get(hash) : undefined;
    if (cached) return cached;
    const plan = planKernel(artifact);
    this.#checkFeatures(plan);
    const compiling = this.#untilLost(compileKernel(this.gpu, plan));
    const entry: KernelEntry = { plan, compiled: undefined, compiling };
    this.#kernels.set(artifact.hash, entry);
    compiling.then(
      (compiled) => {
        entry.compiled = compiled;
      },
      () => {
        // A failed compile is not cached: the launch that needed it reports the error.
        if (this.#kernels.get(artifact.hash) === entry) this.#kernels.delete(artifact.hash);
      },
    );
    return entry;
  }

  #checkFeatures(plan: KernelPlan): void {
    const missing = plan.artifact.features.filter(
      (f) => !this.features.has(f) && !this.wgslLanguageFeatures.has(f),
    );
    if (missing.length > 0) {
      throw new LaunchError(
        `launch of '${plan.artifact.kernel}': the kernel needs device feature(s) ${missing.map((f) => `'${f}'`).join(', ')}, ` +
          `which this device lacks (it has: ${[...this.features].sort().join(', ')}); launch the artifact ` +
          'compiled without them',
      );
    }
  }

  /**
   * Runs `step` now when nothing is queued and nothing needs waiting for; else after every queued
   * step and after `wait`. Rejects when `wait` or `step` fails (later steps still run).
   */
  #inOrder(wait: Promise<unknown> | undefined, step: () => void): Promise<void> {
    if (wait === undefined && this.#queue === undefined) {
      step();
      return Promise.resolve();
    }
    const done = (this.#queue ?? Promise.resolve())
      .then(() => wait)
      .then(() => {
        this.#assertAlive();
        step();
      });
    const tail = done.then(
      () => {},
      () => {},
    );
    this.#queue = tail;
    tail.then(() => {
      if (this.#queue === tail) this.#queue = undefined;
    });
    return done;
  }

  #submit(): void {
    if (this.#lost) return;
    this.#batch.submit();
  }

  #createTensorBuffer(fn: string, dtype: DType, size: number): GPUBuffer {
    const bytes = bufferByteLength(dtype.bits, size);
    if (bytes > this.limits.maxBufferSize) {
      throw new RangeError(
        `${fn}: ${size} ${dtype.name} elements need ${bytes} bytes, more than this device's ` +
          `maxBufferSize (${this.limits.maxBufferSize})`,
      );
    }
    return this.gpu.createBuffer({
      label: `tilevm ${dtype.name}[${size}]`,
      size: bytes,
      usage: TENSOR_USAGE(),
    });
  }

  #checkOwn(fn: string, t: GpuTensor): void {
    if (!(t instanceof GpuTensor)) throw new TypeError(`${fn}: expected a GpuTensor, got ${describe(t)}`);
    if (!t.ownedBy(this)) throw new Error(`${fn}: ${t} belongs to another WebGPU device`);
    if (t.destroyed) throw new Error(`${fn}: ${t} was destroyed`);
  }

  #markLost(reason: string): void {
    if (this.#lost) return;
    this.#lost = new DeviceLostError(reason);
    this.#batch.discard();
    this.#failLost(this.#lost);
  }

  #assertAlive(): void {
    if (this.#lost) throw this.#lost;
  }

  /** `p`, or a DeviceLostError as soon as the device is lost (GPU waits never hang on a dead device). */
  #untilLost<T>(p: Promise<T>): Promise<T> {
    return Promise.race([p, this.#lostSignal]);
  }

  /** A failure during a GPU wait, as the DeviceLostError when the device went away meanwhile. */
  async #explain(e: unknown): Promise<unknown> {
    if (e instanceof DeviceLostError || e instanceof LaunchError) return e;
    if (!this.#lost && (e as Error)?.name === 'AbortError') {
      // Dawn rejects pending maps before it resolves `lost`; give it a moment to say why.
      await Promise.race([this.#lostSignal, new Promise((r) => setTimeout(r, LOSS_GRACE_MS))]).catch(
        () => {},
      );
    }
    return this.#lost ?? e;
  }

  #throwUncaptured(): void {
    const error = this.#uncaptured;
    if (error === undefined) return;
    this.#uncaptured = undefined;
    throw new WebGpuError(`WebGPU reported an error, so results may be wrong: ${error.message}`);
  }
}

function describe(x: unknown): string {
  if (x === null || typeof x !== 'object') return String(x);
  return (x as object).constructor?.name ?? 'an object';
}
