// The WASM-SIMD device: one WebAssembly.Memory holding every tensor, kernels precompiled to
// WebAssembly (runtime/artifact.ts), the blocks of their grids taken in chunks by a pool of workers
// sharing that memory. Launches, reads and flushes run in the order they are issued; a
// launch resolves when the kernel has finished.
import type { DType } from '../../dsl/dtype.js';
import { LaunchError } from '../../dsl/ir/errors.js';
import { packedByteLength } from '../../dsl/packing.js';
import { Tensor } from '../../dsl/tensor.js';
import type { WasmArtifact } from '../artifact.js';
import { checkShape } from '../common/shape.js';
import { type BoundLaunch, bindLaunch, checkTensor } from './args.js';
import { withSharedFlag } from './binary.js';
import { writeDescriptor } from './descriptor.js';
import { KernelTrapError, WasmDeviceLostError, WasmModuleError } from './errors.js';
import { wasmFeatures } from './features.js';
import { ALIGN, blockSize, Heap, type HeapStats, PAGE } from './heap.js';
import { planWasmKernel, type WasmPlan } from './plan.js';
import { WorkerPool } from './pool.js';
import { tensorByteLength, WasmTensor, type WasmTensorOwner } from './tensor.js';
import { callerRuns, planThreads, type ThreadOptions, threadEnvironment, warnOnce } from './threads.js';
import { pickWasmVariant } from './variant.js';

export interface WasmDeviceOptions extends ThreadOptions {
  readonly backend?: 'wasm';
  /**
   * The most 64 KiB pages the memory may grow to: default (and at most) 32768, 2 GiB, the maximum
   * kernel modules declare. Less caps the device's memory.
   */
  readonly maxPages?: number;
  /**
   * Run artifacts' relaxed-SIMD variants where this engine validates relaxed SIMD (default true);
   * false always runs the baseline modules (and compiles JIT launches without relaxed SIMD).
   */
  readonly relaxedSimd?: boolean;
}

/** Launch arguments: a WasmTensor per global param, a number per scalar param. */
export type WasmArgs = Readonly<Record<string, WasmTensor | number>>;

/** Memory pages kernel modules declare as their maximum (runtime/artifact.ts, maxPages). */
export const WASM_MAX_PAGES = 32768;
/** Pages the memory starts with (1 MiB); it grows as tensors need. */
const INITIAL_PAGES = 16;
/** The heap starts past address 0, so no tensor sits at a null pointer. */
const HEAP_BASE = ALIGN;
/** Descriptor region size at least (bytes), so that kernels with a few more fields reuse it. */
const MIN_DESCRIPTOR = 64;

type MainFn = (desc: number, blockBegin: number, blockEnd: number, scratch: number) => void;

interface KernelEntry {
  /** The kernel's id in worker messages. */
  readonly key: number;
  readonly plan: WasmPlan;
  /** Compiled (with the memory import's shared flag matching this device) and instantiated here. */
  module: WebAssembly.Module | undefined;
  /** main() of the main thread's instance. */
  main: MainFn | undefined;
  readonly ready: Promise<void>;
}

/**
 * Creates a WASM device. Threads need shared memory: Node always has it; browsers only on
 * cross-origin isolated pages, elsewhere the device runs on one thread (with one console.warn).
 * Workers never keep a Node process alive while idle; destroy() the device to end them.
 */
export async function createWasmDevice(options: WasmDeviceOptions = {}): Promise<WasmDevice> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('createWasmDevice: options must be an object');
  }
  if (options.backend !== undefined && options.backend !== 'wasm') {
    throw new TypeError(
      `createWasmDevice: backend '${String(options.backend)}' is not supported; use 'wasm'`,
    );
  }
  const maxPages = options.maxPages ?? WASM_MAX_PAGES;
  if (!Number.isInteger(maxPages) || maxPages < 1 || maxPages > WASM_MAX_PAGES) {
    throw new TypeError(
      `createWasmDevice: maxPages must be an integer in 1..${WASM_MAX_PAGES}, got ${String(options.maxPages)}`,
    );
  }
  const env = await threadEnvironment();
  const plan = planThreads(options, env);
  if (plan.warning) warnOnce(plan.warning);
  const memory = new WebAssembly.Memory({
    initial: Math.min(INITIAL_PAGES, maxPages),
    maximum: maxPages,
    shared: plan.shared,
  });
  let device: WasmDevice | undefined;
  let pool: WorkerPool | undefined;
  if (plan.threads > 1) {
    // A calling thread that runs blocks counts as one of the threads.
    const caller = callerRuns(options, env, plan.threads);
    try {
      pool = await WorkerPool.start(
        plan.threads - (caller ? 1 : 0),
        memory,
        env.isNode,
        (reason) => device?.workerDied(reason),
        caller,
      );
    } catch (e) {
      warnOnce(
        `tilevm: the WASM device runs on 1 thread instead of ${plan.threads}: ${(e as Error).message}`,
      );
    }
  }
  if (options.relaxedSimd !== undefined && typeof options.relaxedSimd !== 'boolean') {
    throw new TypeError(
      `createWasmDevice: relaxedSimd must be a boolean, got ${String(options.relaxedSimd)}`,
    );
  }
  device = new WasmDevice(memory, plan.shared, maxPages, pool, options.relaxedSimd !== false);
  return device;
}

export class WasmDevice implements WasmTensorOwner {
  readonly backend = 'wasm' as const;
  /** The linear memory every tensor lives in (shared when `shared`), for interop. */
  readonly memory: WebAssembly.Memory;
  /** Whether `memory` is a shared memory (then kernels run on workers). */
  readonly shared: boolean;
  /** Threads running kernel blocks: the workers, the calling thread where it runs blocks too (callerRuns), or 1 (the calling thread) without workers. */
  readonly threads: number;
  /** WebAssembly features of this engine: 'simd128', and 'relaxed-simd' where it validates. */
  readonly features: ReadonlySet<string>;
  /** Whether launches run artifacts' relaxed-SIMD variants (the engine has it, and it was not turned off). */
  readonly relaxedSimd: boolean;
  readonly #pool: WorkerPool | undefined;
  readonly #heap: Heap;
  readonly #kernels = new Map<string, KernelEntry>();
  readonly #finalizer: FinalizationRegistry<number>;
  #nextKey = 1;
  #bytes: Uint8Array;
  #view: DataView;
  /** The descriptor region, reused by every launch (grown when a kernel needs more). */
  #desc = 0;
  #descCap = 0;
  /** A scratch region per thread: the workers', then the calling thread's (grown likewise). */
  #scratch: number[] = [];
  #scratchCap = 0;
  /** Settles after every queued step; never rejects. */
  #tail: Promise<unknown> = Promise.resolve();
  /** Steps queued or running. */
  #pending = 0;
  /** Blocks of destroyed tensors, freed once no queued step can use them. */
  #retired: number[] = [];
  #lost: WasmDeviceLostError | undefined;
  /** The kernel the workers are running, named when one of them dies. */
  #running: string | undefined;

  /** @internal Use `createWasmDevice()`. */
  constructor(
    memory: WebAssembly.Memory,
    shared: boolean,
    maxPages: number,
    pool: WorkerPool | undefined,
    relaxedSimd = true,
  ) {
    this.memory = memory;
    this.shared = shared;
    this.#pool = pool;
    this.threads = pool ? pool.size + (pool.callerRuns ? 1 : 0) : 1;
    this.features = wasmFeatures();
    this.relaxedSimd = relaxedSimd && this.features.has('relaxed-simd');
    this.#bytes = new Uint8Array(memory.buffer);
    this.#view = new DataView(memory.buffer);
    this.#heap = new Heap(HEAP_BASE, memory.buffer.byteLength, maxPages * PAGE, (end) => {
      const pages = (end - this.memory.buffer.byteLength) / PAGE;
      if (pages > 0) this.memory.grow(pages);
    });
    this.#finalizer = new FinalizationRegistry((address) => this.#release(address));
  }

  /** Whether the device was destroyed (or lost a worker): every call then throws a WasmDeviceLostError. */
  get lost(): boolean {
    return this.#lost !== undefined;
  }

  /** A zero-filled tensor. */
  tensor<D extends DType>(dtype: D, shape: readonly number[]): WasmTensor<D> {
    this.assertAlive();
    checkDType('device.tensor', dtype);
    const s = checkShape('device.tensor', shape);
    const bytes = tensorByteLength(dtype.bits, s.size);
    const address = this.#heap.alloc(bytes, `device.tensor(${dtype.name}, [${s.shape.join(', ')}])`);
    this.#memoryBytes().fill(0, address, address + bytes);
    return this.#adopt(new WasmTensor(this, dtype, s.shape, s.size, address));
  }

  /** Copies a host tensor's packed bytes into a new device tensor. */
  upload<D extends DType>(host: Tensor<D>): WasmTensor<D> {
    this.assertAlive();
    if (!(host instanceof Tensor)) {
      throw new TypeError(`device.upload: expected a host Tensor, got ${describe(host)}`);
    }
    const bytes = tensorByteLength(host.dtype.bits, host.size);
    const address = this.#heap.alloc(bytes, `device.upload(${host})`);
    const memory = this.#memoryBytes();
    memory.set(host.data, address);
    memory.fill(0, address + host.data.length, address + bytes);
    return this.#adopt(new WasmTensor(this, host.dtype, host.shape, host.size, address));
  }

  /** Copies a device tensor back into a new host tensor, after every launch issued before. */
  read<D extends DType>(t: WasmTensor<D>): Promise<Tensor<D>> {
    try {
      this.assertAlive();
      this.#checkOwn('device.read', t);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#enqueue(undefined, () => {
      this.#checkOwn('device.read', t);
      const address = t.rawAddress!;
      const bytes = packedByteLength(t.dtype.bits, t.size);
      return Tensor.fromBytes(t.dtype, t.shape, this.#memoryBytes().subarray(address, address + bytes));
    });
  }

  /**
   * Launches a kernel: runs blocks [0, gx*gy*gz) of its grid, taken in chunks by the workers, after
   * every launch issued before. Resolves when the kernel has finished. Rejects with a
   * LaunchError for bad arguments, a WasmModuleError when the module does not compile or link, and a
   * KernelTrapError when the kernel traps.
   */
  async launch(artifact: WasmArtifact, args: WasmArgs): Promise<void> {
    this.assertAlive();
    const kernel = this.#kernel(pickWasmVariant(artifact, this.relaxedSimd));
    this.#checkFeatures(kernel.plan);
    const bound = bindLaunch(kernel.plan, args, this);
    return this.#enqueue(kernel.module ? undefined : kernel.ready, () => this.#run(kernel, bound));
  }

  /** Resolves when every launch and read issued before has finished. */
  async flush(): Promise<void> {
    this.assertAlive();
    await this.#enqueue(undefined, () => {});
  }

  /** Memory use: capacity, maximum, bytes in use and free, the largest free block. */
  memoryStats(): HeapStats {
    return this.#heap.stats();
  }

  /** Terminates the workers and drops the memory and every tensor in it; later calls throw. */
  destroy(): void {
    this.#markLost('device.destroy() was called');
  }

  /** @internal A worker died; the device cannot go on. */
  workerDied(reason: string): void {
    this.#markLost(
      this.#running === undefined ? reason : `${reason} while running kernel '${this.#running}'`,
    );
  }

  /** @internal Frees a destroyed tensor's block once no queued step can use it (WasmTensorOwner). */
  retire(address: number, tensor: WasmTensor): void {
    this.#finalizer.unregister(tensor);
    this.#release(address);
  }

  /** @internal Throws the WasmDeviceLostError once the device is lost (WasmTensorOwner). */
  assertAlive(): void {
    if (this.#lost) throw this.#lost;
  }

  #adopt<D extends DType>(t: WasmTensor<D>): WasmTensor<D> {
    this.#finalizer.register(t, t.rawAddress!, t);
    return t;
  }

  #release(address: number): void {
    if (this.#lost) return;
    if (this.#pending === 0) this.#heap.free(address);
    else this.#retired.push(address);
  }

  #kernel(artifact: WasmArtifact): KernelEntry {
    const hash = artifact?.hash;
    const cached = typeof hash === 'string' ? this.#kernels.get(hash) : undefined;
    if (cached) return cached;
    const plan = planWasmKernel(artifact);
    const entry: KernelEntry = {
      key: this.#nextKey++,
      plan,
      module: undefined,
      main: undefined,
      ready: Promise.resolve(),
    };
    (entry as { ready: Promise<void> }).ready = this.#prepare(entry).catch((e: unknown) => {
      // A failed kernel is not cached: the launch that needed it reports the error.
      if (this.#kernels.get(artifact.hash) === entry) this.#kernels.delete(artifact.hash);
      throw e;
    });
    entry.ready.catch(() => {});
    this.#kernels.set(artifact.hash, entry);
    return entry;
  }

  /** Compiles the module (its memory import's shared flag set to match) and instantiates it here. */
  async #prepare(entry: KernelEntry): Promise<void> {
    const { plan } = entry;
    const kernel = plan.artifact.kernel;
    const of = `the module of kernel '${kernel}'`;
    const maximum = this.#heap.stats().maximum / PAGE;
    if (plan.memory.maxPages! < maximum) {
      throw new WasmModuleError(
        kernel,
        `${of} imports a memory of at most ${plan.memory.maxPages} pages, but this device's memory may grow ` +
          `to ${maximum} pages; build it with maxPages = ${WASM_MAX_PAGES}`,
      );
    }
    const bytes =
      plan.memory.shared === this.shared ? plan.bytes : withSharedFlag(plan.bytes, plan.memory, this.shared);
    this.#heap.reserve(
      plan.memory.minPages * PAGE,
      `${of} (its minimum memory of ${plan.memory.minPages} pages)`,
    );
    let module: WebAssembly.Module;
    try {
      module = await WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
    } catch (e) {
      throw new WasmModuleError(kernel, `${of} does not compile: ${(e as Error).message}`);
    }
    const main = WebAssembly.Module.exports(module).find((x) => x.name === 'main');
    if (main?.kind !== 'function') {
      throw new WasmModuleError(
        kernel,
        `${of} does not export a function 'main(desc, blockBegin, blockEnd, scratch)'`,
      );
    }
    let instance: WebAssembly.Instance;
    try {
      instance = await WebAssembly.instantiate(module, { env: { memory: this.memory } });
    } catch (e) {
      throw new WasmModuleError(kernel, `${of} does not link: ${(e as Error).message}`);
    }
    entry.module = module;
    entry.main = instance.exports.main as MainFn;
  }

  #checkFeatures(plan: WasmPlan): void {
    const missing = plan.artifact.features.filter((f) => !this.features.has(f));
    if (missing.length > 0) {
      throw new LaunchError(
        `launch of '${plan.artifact.kernel}': the kernel needs WebAssembly feature(s) ` +
          `${missing.map((f) => `'${f}'`).join(', ')}, which this engine lacks (it has: ` +
          `${[...this.features].sort().join(', ') || 'none'}); launch the artifact compiled without them`,
      );
    }
  }

  /** Runs a launch whose kernel is ready: now when the grid is one block or there are no workers. */
  #run(kernel: KernelEntry, bound: BoundLaunch): Promise<void> | undefined {
    const { plan } = kernel;
    const name = plan.artifact.kernel;
    const at = `launch of '${name}'`;
    for (const [i, t] of bound.tensors.entries()) checkTensor(at, plan.globals[i].name, t, this);
    const total = bound.total;
    if (total === 0) return undefined;
    this.#ensureRegions(plan, at);
    writeDescriptor(this.#memoryView(), this.#desc, plan.fields, bound);
    const pool = this.#pool;
    if (pool === undefined || total === 1) {
      try {
        kernel.main!(this.#desc, 0, total, this.#scratch[this.#scratch.length - 1]);
      } catch (e) {
        throw trapError(name, 0, total, 'the calling thread', failureOf(e), 0);
      }
      return undefined;
    }
    return this.#dispatch(pool, kernel, total);
  }

  /**
   * Runs blocks [0, total) on the workers, which take them in chunks (runtime/wasm/schedule.ts); in
   * Node the calling thread takes chunks too (pool.ts, callerRuns).
   */
  async #dispatch(pool: WorkerPool, kernel: KernelEntry, total: number): Promise<void> {
    const name = kernel.plan.artifact.kernel;
    const desc = this.#desc;
    const scratch = this.#scratch;
    const main = kernel.main!;
    const here = pool.callerRuns
      ? (b: number, e: number) => main(desc, b, e, scratch[scratch.length - 1])
      : undefined;
    this.#running = name;
    const failure = await pool
      .run({ key: kernel.key, module: kernel.module!, desc, total, scratch, here })
      .finally(() => {
        this.#running = undefined;
      });
    if (failure === undefined) return;
    const { trap, others } = failure;
    const where = trap.worker < 0 ? 'the calling thread' : `worker ${trap.worker} of ${pool.size}`;
    throw trapError(name, trap.begin, trap.end, where, trap, others);
  }

  /** Makes the descriptor and scratch regions big enough for `plan` (only when nothing runs). */
  #ensureRegions(plan: WasmPlan, at: string): void {
    const heap = this.#heap;
    const desc = blockSize(Math.max(MIN_DESCRIPTOR, plan.fields.length * 4));
    if (desc > this.#descCap) {
      if (this.#descCap > 0) heap.free(this.#desc);
      this.#descCap = 0;
      this.#desc = heap.alloc(desc, `${at}: the launch descriptor`);
      this.#descCap = desc;
    }
    const scratch = blockSize(plan.artifact.scratchBytes);
    if (scratch > this.#scratchCap) {
      for (const region of this.#scratch) heap.free(region);
      this.#scratch = [];
      this.#scratchCap = 0;
      const regions: number[] = [];
      try {
        for (let i = 0; i <= (this.#pool?.size ?? 0); i++) {
          regions.push(
            heap.alloc(scratch, `${at}: scratch of ${plan.artifact.scratchBytes} bytes per thread`),
          );
        }
      } catch (e) {
        for (const region of regions) heap.free(region);
        throw e;
      }
      this.#scratch = regions;
      this.#scratchCap = scratch;
    }
  }

  /**
   * Runs `step` after every queued step and after `wait` (now, when nothing is queued and nothing
   * needs waiting for). Rejects when `wait` or `step` fails; later steps still run.
   */
  #enqueue<T>(wait: Promise<unknown> | undefined, step: () => T | Promise<T> | undefined): Promise<T> {
    if (wait === undefined && this.#pending === 0) {
      let result: T | Promise<T> | undefined;
      try {
        result = step();
      } catch (e) {
        return Promise.reject(e);
      }
      if (!(result instanceof Promise)) return Promise.resolve(result as T);
      return this.#track(result);
    }
    return this.#track(
      this.#tail
        .then(() => wait)
        .then(() => {
          this.assertAlive();
          return step();
        }) as Promise<T>,
    );
  }

  #track<T>(run: Promise<T>): Promise<T> {
    this.#pending++;
    const settle = (): void => {
      if (--this.#pending > 0) return;
      const retired = this.#retired;
      this.#retired = [];
      if (!this.#lost) for (const address of retired) this.#heap.free(address);
    };
    this.#tail = run.then(settle, settle);
    return run;
  }

  #memoryBytes(): Uint8Array {
    const buffer = this.memory.buffer;
    if (this.#bytes.buffer !== buffer) {
      this.#bytes = new Uint8Array(buffer);
      this.#view = new DataView(buffer);
    }
    return this.#bytes;
  }

  #memoryView(): DataView {
    this.#memoryBytes();
    return this.#view;
  }

  #checkOwn(fn: string, t: WasmTensor): void {
    if (!(t instanceof WasmTensor)) throw new TypeError(`${fn}: expected a WasmTensor, got ${describe(t)}`);
    if (!t.ownedBy(this)) throw new Error(`${fn}: ${t} belongs to another WASM device`);
    if (t.destroyed) throw new Error(`${fn}: ${t} was destroyed`);
  }

  #markLost(reason: string): void {
    if (this.#lost) return;
    this.#lost = new WasmDeviceLostError(reason);
    this.#pool?.terminate(reason);
    this.#kernels.clear();
    this.#retired = [];
  }
}

function checkDType(fn: string, dtype: DType): void {
  if (
    typeof dtype !== 'object' ||
    dtype === null ||
    typeof dtype.bits !== 'number' ||
    typeof dtype.name !== 'string'
  ) {
    throw new TypeError(`${fn}: expected a dtype (f32, u4, …), got ${describe(dtype)}`);
  }
}

/** A trap's error name and message. */
interface RunFailure {
  readonly name: string;
  readonly message: string;
}

function failureOf(e: unknown): RunFailure {
  return e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) };
}

function trapError(
  kernel: string,
  begin: number,
  end: number,
  where: string,
  failure: RunFailure,
  others: number,
): KernelTrapError {
  const also = others > 0 ? ` (${others} other chunk${others === 1 ? '' : 's'} failed too)` : '';
  return new KernelTrapError(
    kernel,
    [begin, end],
    `launch of '${kernel}': the kernel trapped in blocks [${begin}, ${end}) on ${where}: ` +
      `${failure.name}: ${failure.message}${also}`,
  );
}

function describe(x: unknown): string {
  if (x === null || typeof x !== 'object') return String(x);
  return (x as object).constructor?.name ?? 'an object';
}
