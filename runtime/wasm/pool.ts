// A pool of workers sharing the device's memory: worker_threads in Node, Web Workers in browsers.
// Each worker instantiates a kernel's module (compiled once, on the main thread) the first time it
// runs it and keeps the instance; a run is one postMessage there and one back. Workers run at most
// one range at a time (the device serializes launches), so each keeps a single pending slot.
//
// In Node the workers are unref'd while idle, so an idle device never keeps the process alive, and
// ref'd while they run, so a pending launch does (destroy() is still the clean way to end).
import { WasmDeviceLostError } from './errors.js';
import { importNode } from './threads.js';
import { BROWSER_WORKER_SOURCE, NODE_WORKER_SOURCE } from './worker-source.js';

/** How long workers may take to start before the pool gives up. */
const STARTUP_TIMEOUT_MS = 30_000;

/** A run that threw in the worker: the error's name and message. */
export interface RunFailure {
  readonly name: string;
  readonly message: string;
}

interface Port {
  post(message: unknown): void;
  terminate(): void;
  ref(): void;
  unref(): void;
}

type Reply = { op: 'ready' } | { op: 'done' } | { op: 'trap'; name: string; message: string };

class Slot {
  readonly loaded = new Set<number>();
  port!: Port;
  /** The reply awaited: startup's 'ready', then each run's outcome. */
  waiting: { resolve(r: RunFailure | undefined): void; reject(e: Error): void } | undefined;

  receive(reply: Reply): void {
    const w = this.waiting;
    this.waiting = undefined;
    if (w === undefined) return;
    this.port.unref();
    w.resolve(reply.op === 'trap' ? { name: reply.name, message: reply.message } : undefined);
  }

  /** Resolves on the next reply; refs the worker meanwhile. */
  expect(): Promise<RunFailure | undefined> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.port.ref();
    });
  }
}

export class WorkerPool {
  readonly size: number;
  readonly #slots: Slot[];
  #dead: Error | undefined;

  private constructor(slots: Slot[]) {
    this.#slots = slots;
    this.size = slots.length;
  }

  /**
   * Starts `size` workers holding `memory`; `onFatal` hears of a worker that died (an uncaught error,
   * a failed script load, an unexpected exit) after startup. Rejects if any worker fails to start.
   */
  static async start(
    size: number,
    memory: WebAssembly.Memory,
    isNode: boolean,
    onFatal: (reason: string) => void,
  ): Promise<WorkerPool> {
    const slots = Array.from({ length: size }, () => new Slot());
    let pool: WorkerPool | undefined;
    let startupFailure: ((e: Error) => void) | undefined;
    const startupFailed = new Promise<never>((_, reject) => {
      startupFailure = reject;
    });
    startupFailed.catch(() => {});
    const fatal = (i: number, why: string): void => {
      const reason = `worker ${i} ${why}`;
      if (pool) {
        if (!pool.#dead) onFatal(reason);
      } else startupFailure?.(new Error(`could not start the WASM device's workers: ${reason}`));
    };
    const spawn = isNode ? await nodeSpawner() : browserSpawner();
    try {
      for (const [i, slot] of slots.entries()) slot.port = spawn(i, slot, (why) => fatal(i, why));
      const ready = Promise.all(
        slots.map((slot) => {
          const reply = slot.expect();
          slot.port.post({ op: 'init', memory });
          return reply;
        }),
      );
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the WASM device's workers did not start within ${STARTUP_TIMEOUT_MS} ms`)),
          STARTUP_TIMEOUT_MS,
        );
      });
      await Promise.race([ready, startupFailed, timeout]).finally(() => clearTimeout(timer));
    } catch (e) {
      for (const slot of slots) slot.port?.terminate();
      throw e;
    }
    pool = new WorkerPool(slots);
    return pool;
  }

  /** Sends worker `i` the module of kernel `key` unless it has it already. */
  load(i: number, key: number, module: WebAssembly.Module): void {
    const slot = this.#slots[i];
    if (slot.loaded.has(key)) return;
    slot.loaded.add(key);
    slot.port.post({ op: 'load', key, module });
  }

  /** Drops kernel `key`'s instances (after a failed load, so that a retry loads it again). */
  unload(key: number): void {
    for (const slot of this.#slots) {
      if (slot.loaded.delete(key)) slot.port.post({ op: 'unload', key });
    }
  }

  /** Runs blocks [begin, end) of kernel `key` on worker `i`; resolves with the failure, if any. */
  run(
    i: number,
    key: number,
    desc: number,
    begin: number,
    end: number,
    scratch: number,
  ): Promise<RunFailure | undefined> {
    if (this.#dead) return Promise.reject(this.#dead);
    const slot = this.#slots[i];
    const reply = slot.expect();
    slot.port.post({ op: 'run', key, desc, begin, end, scratch });
    return reply;
  }

  /** Terminates every worker; runs still pending reject with a WasmDeviceLostError. Idempotent. */
  terminate(reason: string): void {
    if (this.#dead) return;
    this.#dead = new WasmDeviceLostError(reason);
    for (const slot of this.#slots) {
      const w = slot.waiting;
      slot.waiting = undefined;
      slot.port.terminate();
      w?.reject(this.#dead);
    }
  }
}

type Spawner = (index: number, slot: Slot, fail: (why: string) => void) => Port;

async function nodeSpawner(): Promise<Spawner> {
  const { Worker } = await importNode<typeof import('node:worker_threads')>('node:worker_threads');
  const url = new URL(`data:text/javascript,${encodeURIComponent(NODE_WORKER_SOURCE)}`);
  return (index, slot, fail) => {
    const worker = new Worker(url, { name: `tilevm-wasm-${index}` });
    let terminated = false;
    worker.unref();
    worker.on('message', (m: Reply) => slot.receive(m));
    worker.on('error', (e: Error) => fail(`failed: ${e?.name ?? 'Error'}: ${e?.message ?? String(e)}`));
    worker.on('messageerror', (e: Error) => fail(`could not read a message: ${e.message}`));
    worker.on('exit', (code: number) => {
      if (!terminated) fail(`exited unexpectedly (exit code ${code})`);
    });
    return {
      post: (m) => worker.postMessage(m),
      terminate: () => {
        terminated = true;
        void worker.terminate();
      },
      ref: () => worker.ref(),
      unref: () => worker.unref(),
    };
  };
}

/** The worker script's blob: URL, made once a page and kept (workers fetch it asynchronously). */
let browserWorkerUrl: string | undefined;

function browserSpawner(): Spawner {
  browserWorkerUrl ??= URL.createObjectURL(new Blob([BROWSER_WORKER_SOURCE], { type: 'text/javascript' }));
  const url = browserWorkerUrl;
  return (index, slot, fail) => {
    const worker = new Worker(url, { name: `tilevm-wasm-${index}` });
    worker.onmessage = (e: MessageEvent<Reply>) => slot.receive(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      fail(
        `failed: ${e.message || 'the worker script could not be loaded (a Content-Security-Policy forbidding blob: workers?)'}`,
      );
    };
    worker.onmessageerror = () => fail('could not read a message (is the page cross-origin isolated?)');
    return { post: (m) => worker.postMessage(m), terminate: () => worker.terminate(), ref() {}, unref() {} };
  };
}
