// How many threads a WASM device gets and whether its memory is shared. Threads need a shared
// WebAssembly.Memory, which Node always allows and browsers allow only on cross-origin isolated
// pages; elsewhere the device runs on one thread (warning once, never failing).

export interface ThreadOptions {
  /** Threads running kernel blocks; default: every core (os.availableParallelism(), navigator.hardwareConcurrency). */
  readonly threads?: number;
  /**
   * Whether the memory is a shared WebAssembly.Memory; default: whenever the environment allows it.
   * `false` forces a plain memory and one thread (kernel modules, which declare their memory import
   * shared, are then patched to import a non-shared one).
   */
  readonly shared?: boolean;
  /**
   * Whether a launch's calling thread runs blocks too, alongside threads - 1 workers (default: true
   * where it can, i.e. in Node). It then returns from launch() only after running its share, as a
   * one-thread device does; small launches end without waiting for a worker to wake. `false` runs
   * every block on `threads` workers, so that launch() never blocks the calling thread.
   */
  readonly callerRuns?: boolean;
}

/** What the environment offers. */
export interface ThreadEnvironment {
  readonly isNode: boolean;
  /** `globalThis.crossOriginIsolated` (undefined outside browsers). */
  readonly crossOriginIsolated: boolean | undefined;
  readonly hasSharedArrayBuffer: boolean;
  /** Cores: os.availableParallelism() in Node, navigator.hardwareConcurrency in browsers. */
  readonly parallelism: number;
}

export interface ThreadPlan {
  readonly shared: boolean;
  readonly threads: number;
  /** Why the device runs on one thread although more were wanted (for a single console.warn). */
  readonly warning?: string;
}

export function isNode(): boolean {
  return typeof process !== 'undefined' && typeof process.versions?.node === 'string';
}

/** Imports a Node builtin by a specifier bundlers do not follow. */
export function importNode<T>(specifier: string): Promise<T> {
  return import(/* @vite-ignore */ /* webpackIgnore: true */ specifier) as Promise<T>;
}

export async function threadEnvironment(): Promise<ThreadEnvironment> {
  const hasSharedArrayBuffer = typeof SharedArrayBuffer === 'function';
  if (isNode()) {
    const os = await importNode<typeof import('node:os')>('node:os');
    const parallelism =
      typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
    return { isNode: true, crossOriginIsolated: undefined, hasSharedArrayBuffer, parallelism };
  }
  const g = globalThis as { crossOriginIsolated?: boolean; navigator?: { hardwareConcurrency?: number } };
  return {
    isNode: false,
    crossOriginIsolated: g.crossOriginIsolated,
    hasSharedArrayBuffer,
    parallelism: g.navigator?.hardwareConcurrency ?? 1,
  };
}

/** Decides threads and sharing; throws a TypeError for options that contradict each other or the environment. */
export function planThreads(options: ThreadOptions, env: ThreadEnvironment): ThreadPlan {
  const { threads, shared } = options;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) {
    throw new TypeError(`createWasmDevice: threads must be a positive integer, got ${String(threads)}`);
  }
  if (shared !== undefined && typeof shared !== 'boolean') {
    throw new TypeError(`createWasmDevice: shared must be true or false, got ${String(shared)}`);
  }
  if (options.callerRuns !== undefined && typeof options.callerRuns !== 'boolean') {
    throw new TypeError(
      `createWasmDevice: callerRuns must be true or false, got ${String(options.callerRuns)}`,
    );
  }
  const why = unsharedReason(env);
  if (shared === true && why !== undefined) {
    throw new TypeError(`createWasmDevice: shared memory was requested, but ${why}`);
  }
  if (shared === false) {
    if (threads !== undefined && threads > 1) {
      throw new TypeError(
        `createWasmDevice: threads: ${threads} needs shared memory, but shared: false was passed; ` +
          'pass threads: 1, or leave shared out',
      );
    }
    return { shared: false, threads: 1 };
  }
  const wanted = threads ?? Math.max(1, Math.floor(env.parallelism) || 1);
  if (why === undefined) return { shared: true, threads: wanted };
  if (wanted === 1) return { shared: false, threads: 1 };
  return {
    shared: false,
    threads: 1,
    warning:
      `tilevm: the WASM device runs on 1 thread instead of ${wanted}: ${why}. Serve the page with ` +
      "'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: require-corp' to use threads",
  };
}

/**
 * Whether the calling thread runs blocks alongside the workers: only in Node, where the launch can
 * await the workers with Atomics.waitAsync (browsers keep their main thread free), with more than
 * one thread, unless the options say no.
 */
export function callerRuns(options: ThreadOptions, env: ThreadEnvironment, threads: number): boolean {
  return options.callerRuns !== false && env.isNode && threads > 1 && hasWaitAsync();
}

/** Atomics.waitAsync (ES2024: Node 16+, Chrome 87+; not yet in every browser). */
export function hasWaitAsync(): boolean {
  return typeof (Atomics as { waitAsync?: unknown }).waitAsync === 'function';
}

/** Why shared memory is unavailable here, or undefined when it is available. */
function unsharedReason(env: ThreadEnvironment): string | undefined {
  if (!env.isNode && env.crossOriginIsolated !== true) {
    return 'this page is not cross-origin isolated (crossOriginIsolated is not true), so shared WebAssembly memory is unavailable';
  }
  if (!env.hasSharedArrayBuffer) return 'SharedArrayBuffer is not available here';
  return undefined;
}

let warned = false;

/** console.warn, once per page or process. */
export function warnOnce(message: string): void {
  if (warned) return;
  warned = true;
  console.warn(message);
}
