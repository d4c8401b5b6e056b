// A pool of workers sharing the device's memory: worker_threads in Node, Web Workers in browsers.
// Each worker instantiates a kernel's module (compiled once, on the main thread, and posted to every
// worker before the first job that uses it) and keeps the instance. A job (one launch) is written
// into shared control words (runtime/wasm/schedule.ts); the workers, and the calling thread when the
// caller lends it, claim chunks of blocks from an atomic counter until none is left. In Node the
// workers block in Atomics.wait and are woken by Atomics.notify, and the pool awaits the finished
// count with Atomics.waitAsync: a launch sends no message. In browsers (and wherever
// Atomics.waitAsync is missing) a job is started by one message per worker, each answering when it
// is done. The device serializes launches: one job at a time.
//
// In Node the workers are unref'd while idle, so an idle device never keeps the process alive, and
// ref'd while a job waits for them, so a pending launch does (destroy() is still the clean way to end).
import { WasmDeviceLostError } from './errors.js';
import { CONTROL, chunkSize, controlLength, participants } from './schedule.js';
import { importNode } from './threads.js';
import { BROWSER_WORKER_SOURCE, NODE_MESSAGE_WORKER_SOURCE, NODE_WORKER_SOURCE } from './worker-source.js';

/** Atomics.waitAsync (ES2024; Node 16+, Chrome 87+), typed here since the project's lib predates it. */
type WaitAsync = (
  array: Int32Array,
  index: number,
  value: number,
) => { async: false; value: string } | { async: true; value: Promise<string> };
const waitAsync = (Atomics as unknown as { waitAsync?: WaitAsync }).waitAsync;

/** How long workers may take to start before the pool gives up. */
const STARTUP_TIMEOUT_MS = 30_000;

/** A chunk that threw: where (worker -1 is the calling thread), and the error's name and message. */
export interface RunFailure {
  readonly worker: number;
  readonly begin: number;
  readonly end: number;
  readonly name: string;
  readonly message: string;
}

/** A launch for the workers: blocks [0, total) of kernel `key`, scratch[i] being worker i's region. */
export interface Job {
  readonly key: number;
  readonly module: WebAssembly.Module;
  readonly desc: number;
  readonly total: number;
  readonly scratch: readonly number[];
  /** Runs blocks [begin, end) on the calling thread; given, the caller claims chunks too. */
  readonly here?: (begin: number, end: number) => void;
}

/** How a job failed: the trap at the lowest blocks, and how many other chunks trapped. */
export interface JobFailure {
  readonly trap: RunFailure;
  readonly others: number;
}

interface Port {
  post(message: unknown): void;
  /** Posts a module load (Node: on the port the worker reads synchronously when woken). */
  postLoad(message: unknown): void;
  terminate(): void;
  ref(): void;
  unref(): void;
}

type Reply = { op: 'ready' } | { op: 'done' } | ({ op: 'trap'; epoch: number } & RunFailure);

/** Whether jobs start by Atomics.notify and end by Atomics.waitAsync, or by messages both ways. */
type WakeMode = 'atomics' | 'message';

interface Pending {
  readonly epoch: number;
  readonly chunks: number;
  readonly traps: RunFailure[];
  /** An Atomics.waitAsync on FINISHED is armed. */
  waiting: boolean;
  /** The workers are ref'd (Node), keeping the process alive until the job ends. */
  reffed: boolean;
  resolve(failure: JobFailure | undefined): void;
  reject(e: Error): void;
}

class Slot {
  readonly loaded = new Set<number>();
  port!: Port;
  /** Startup's 'ready' awaited. */
  started: (() => void) | undefined;
}

export class WorkerPool {
  readonly size: number;
  /** Whether launches lend the calling thread to their jobs (runtime/wasm/threads.ts, callerRuns). */
  readonly callerRuns: boolean;
  readonly #slots: Slot[];
  readonly #control: Int32Array;
  readonly #mode: WakeMode;
  #epoch = 0;
  #job: Pending | undefined;
  #dead: Error | undefined;

  private constructor(slots: Slot[], control: Int32Array, mode: WakeMode, callerRuns: boolean) {
    this.#slots = slots;
    this.#control = control;
    this.#mode = mode;
    this.size = slots.length;
    this.callerRuns = callerRuns && mode === 'atomics';
  }

  /**
   * Starts `size` workers holding `memory`; `onFatal` hears of a worker that died (an uncaught error,
   * a failed script load, an unexpected exit) after startup; `callerRuns`: launches lend the calling
   * thread too (honoured in Node only). Rejects if any worker fails to start.
   */
  static async start(
    size: number,
    memory: WebAssembly.Memory,
    isNode: boolean,
    onFatal: (reason: string) => void,
    callerRuns = false,
  ): Promise<WorkerPool> {
    const control = new Int32Array(new SharedArrayBuffer(4 * controlLength(size)));
    const mode: WakeMode = isNode && waitAsync !== undefined ? 'atomics' : 'message';
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
    const receive = (i: number, reply: Reply): void => {
      if (reply.op === 'ready') {
        slots[i].started?.();
        slots[i].started = undefined;
      } else if (pool) pool.#receive(reply);
    };
    const spawn = isNode ? await nodeSpawner(mode) : browserSpawner();
    try {
      for (const [i, slot] of slots.entries()) {
        slot.port = spawn(
          i,
          (r) => receive(i, r),
          (why) => fatal(i, why),
          { memory, control: control.buffer },
        );
      }
      const ready = Promise.all(
        slots.map(
          (slot) =>
            new Promise<void>((resolve) => {
              slot.started = resolve;
              slot.port.ref();
            }),
        ),
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
    for (const slot of slots) slot.port.unref();
    pool = new WorkerPool(slots, control, mode, callerRuns);
    return pool;
  }

  /**
   * Runs a job on the workers (posting its module to those that lack it); resolves when every chunk
   * is finished, with the failure if one trapped. With `job.here` the calling thread claims chunks
   * too, before this returns.
   */
  run(job: Job): Promise<JobFailure | undefined> {
    if (this.#dead) return Promise.reject(this.#dead);
    const c = this.#control;
    const threads = this.size + (job.here ? 1 : 0);
    const chunk = chunkSize(job.total, threads);
    const chunks = Math.ceil(job.total / chunk);
    const epoch = (this.#epoch = (this.#epoch + 1) | 0 || 1);
    for (const [i, slot] of this.#slots.entries()) {
      // Every worker gets the module: one woken for an earlier job may claim chunks of this one.
      if (!slot.loaded.has(job.key)) {
        slot.loaded.add(job.key);
        slot.port.postLoad({ op: 'load', key: job.key, module: job.module });
      }
      Atomics.store(c, line(i) + CONTROL.SCRATCH, job.scratch[i]);
    }
    Atomics.store(c, CONTROL.KEY, job.key);
    Atomics.store(c, CONTROL.DESC, job.desc);
    Atomics.store(c, CONTROL.TOTAL, job.total | 0);
    Atomics.store(c, CONTROL.CHUNK, chunk);
    Atomics.store(c, CONTROL.CHUNKS, chunks);
    Atomics.store(c, CONTROL.EPOCH, epoch);
    Atomics.store(c, CONTROL.FINISHED, 0);
    Atomics.store(c, CONTROL.FAILS, 0);
    Atomics.store(c, CONTROL.NEXT, chunks); // publishes the job
    const pending: Pending = {
      epoch,
      chunks,
      traps: [],
      waiting: false,
      reffed: false,
      resolve: () => {},
      reject: () => {},
    };
    const done = new Promise<JobFailure | undefined>((resolve, reject) => {
      pending.resolve = resolve;
      pending.reject = reject;
    });
    this.#job = pending;
    const wake = participants(job.total, chunk, threads) - (job.here ? 1 : 0); // the caller is one
    for (let i = 0; i < wake; i++) {
      if (this.#mode === 'atomics') {
        Atomics.store(c, line(i) + CONTROL.WAKE, epoch);
        Atomics.notify(c, line(i) + CONTROL.WAKE, 1);
      } else this.#slots[i].port.post({ op: 'run' });
    }
    if (job.here) {
      this.#work(job.here, pending);
      spinUntil(c, pending.chunks);
    }
    this.#check();
    return done;
  }

  /** The calling thread's share: claims and runs chunks like a worker (runtime/wasm/worker-source.ts). */
  #work(here: (begin: number, end: number) => void, job: Pending): void {
    const c = this.#control;
    const chunk = Atomics.load(c, CONTROL.CHUNK);
    const total = Atomics.load(c, CONTROL.TOTAL) >>> 0;
    let finished = 0;
    for (;;) {
      const left = Atomics.sub(c, CONTROL.NEXT, 1);
      if (left <= 0) break;
      const begin = (job.chunks - left) * chunk;
      const end = Math.min(begin + chunk, total);
      finished++;
      try {
        here(begin, end);
      } catch (e) {
        finished += Math.max(0, Atomics.exchange(c, CONTROL.NEXT, 0));
        const { name, message } = e instanceof Error ? e : { name: 'Error', message: String(e) };
        job.traps.push({ worker: -1, begin, end, name, message });
        Atomics.add(c, CONTROL.FAILS, 1);
        break;
      }
    }
    if (finished > 0) Atomics.add(c, CONTROL.FINISHED, finished);
  }

  /** Terminates every worker; a job still running rejects with a WasmDeviceLostError. Idempotent. */
  terminate(reason: string): void {
    if (this.#dead) return;
    this.#dead = new WasmDeviceLostError(reason);
    const job = this.#job;
    this.#job = undefined;
    for (const slot of this.#slots) slot.port.terminate();
    Atomics.notify(this.#control, CONTROL.FINISHED); // releases a pending Atomics.waitAsync
    job?.reject(this.#dead);
  }

  #receive(reply: Reply): void {
    const job = this.#job;
    if (job === undefined) return;
    if (reply.op === 'trap') {
      if (reply.epoch !== job.epoch) return;
      const { worker, begin, end, name, message } = reply;
      job.traps.push({ worker, begin, end, name, message });
    }
    this.#check();
  }

  /** Ends the job once every chunk is finished and every trap report arrived. */
  #check(): void {
    const job = this.#job;
    if (job === undefined) return;
    const c = this.#control;
    for (;;) {
      const finished = Atomics.load(c, CONTROL.FINISHED);
      if (finished >= job.chunks) break;
      this.#ref(job);
      if (waitAsync === undefined || this.#mode !== 'atomics' || job.waiting) return; // called again later
      const wait = waitAsync(c, CONTROL.FINISHED, finished);
      if (!wait.async) continue;
      job.waiting = true;
      void wait.value.then(() => {
        if (this.#job !== job) return;
        job.waiting = false;
        this.#check();
      });
      return;
    }
    const fails = Atomics.load(c, CONTROL.FAILS);
    if (job.traps.length < fails) {
      this.#ref(job);
      return; // the trap messages are on their way
    }
    this.#job = undefined;
    if (job.reffed) for (const slot of this.#slots) slot.port.unref();
    if (fails === 0) {
      job.resolve(undefined);
      return;
    }
    const first = job.traps.reduce((a, b) => (b.begin < a.begin ? b : a));
    job.resolve({ trap: first, others: fails - 1 });
  }

  /** Keeps the Node process alive while the job waits for the workers. */
  #ref(job: Pending): void {
    if (job.reffed) return;
    job.reffed = true;
    for (const slot of this.#slots) slot.port.ref();
  }
}

/**
 * How long the calling thread, its share done, spins for the workers before awaiting them (ms):
 * measured at 16 blocks of a tiny kernel, 20 us halved the median launch under load.
 */
const SPIN_MS = 0.02;

/**
 * Spins (briefly) until `chunks` chunks are finished: a worker finishing a small job's last chunk
 * is usually a few microseconds away, and Atomics.waitAsync resolves only on a later turn of the
 * event loop.
 */
function spinUntil(c: Int32Array, chunks: number): void {
  if (Atomics.load(c, CONTROL.FINISHED) >= chunks) return;
  const end = performance.now() + SPIN_MS;
  while (Atomics.load(c, CONTROL.FINISHED) < chunks && performance.now() < end) {}
}

/** The control array's index of worker i's line. */
function line(i: number): number {
  return CONTROL.WORKER_BASE + CONTROL.WORKER_STRIDE * i;
}

interface Shared {
  readonly memory: WebAssembly.Memory;
  readonly control: ArrayBufferLike;
}

type Spawner = (
  index: number,
  receive: (r: Reply) => void,
  fail: (why: string) => void,
  shared: Shared,
) => Port;

async function nodeSpawner(mode: WakeMode): Promise<Spawner> {
  const { Worker, MessageChannel } =
    await importNode<typeof import('node:worker_threads')>('node:worker_threads');
  const source = mode === 'atomics' ? NODE_WORKER_SOURCE : NODE_MESSAGE_WORKER_SOURCE;
  const url = new URL(`data:text/javascript,${encodeURIComponent(source)}`);
  return (index, receive, fail, shared) => {
    const worker = new Worker(url, { name: `tilevm-wasm-${index}` });
    let terminated = false;
    worker.unref();
    worker.on('message', receive);
    worker.on('error', (e: Error) => fail(`failed: ${e?.name ?? 'Error'}: ${e?.message ?? String(e)}`));
    worker.on('messageerror', (e: Error) => fail(`could not read a message: ${e.message}`));
    worker.on('exit', (code: number) => {
      if (!terminated) fail(`exited unexpectedly (exit code ${code})`);
    });
    const loads = new MessageChannel();
    loads.port1.unref();
    worker.postMessage({ op: 'init', ...shared, index, loads: loads.port2 }, [loads.port2]);
    const post = (m: unknown): void => worker.postMessage(m);
    return {
      post,
      postLoad: mode === 'atomics' ? (m) => loads.port1.postMessage(m) : post,
      terminate: () => {
        terminated = true;
        loads.port1.close();
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
  return (index, receive, fail, shared) => {
    const worker = new Worker(url, { name: `tilevm-wasm-${index}` });
    worker.onmessage = (e: MessageEvent<Reply>) => receive(e.data);
    worker.onerror = (e: ErrorEvent) => {
      e.preventDefault();
      fail(
        `failed: ${e.message || 'the worker script could not be loaded (a Content-Security-Policy forbidding blob: workers?)'}`,
      );
    };
    worker.onmessageerror = () => fail('could not read a message (is the page cross-origin isolated?)');
    worker.postMessage({ op: 'init', ...shared, index });
    const post = (m: unknown): void => worker.postMessage(m);
    return { post, postLoad: post, terminate: () => worker.terminate(), ref() {}, unref() {} };
  };
}
