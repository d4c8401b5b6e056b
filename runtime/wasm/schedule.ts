// How a launch's blocks are shared among the workers, and the control words through which the
// launching thread and the workers talk (runtime/wasm/pool.ts, worker-source.ts). Blocks are taken
// in chunks from an atomic counter, so a worker that the OS descheduled holds up at most one chunk
// instead of a fixed share of the grid.
//
// The control words live in a SharedArrayBuffer of their own, not in the device's memory: a kernel
// writing out of bounds of its tensors could otherwise corrupt the scheduler and hang the device,
// and the array stays valid when the memory grows.

/** Chunks per thread a grid is cut into (when it has enough blocks): enough that a stalled thread's
 * share is taken over by the others, few enough that taking one stays cheap against a block. */
export const CHUNKS_PER_THREAD = 8;

/**
 * Int32 slots of the control array; lines of 16 slots (64 bytes) keep contended words apart.
 *
 * A thread claims a chunk by Atomics.sub on NEXT (the chunks left): an old value v > 0 gives it chunk
 * CHUNKS - v. A job cannot finish while a claimed chunk is unfinished, so the job fields a thread reads
 * after its claim are those of the job it claimed from, even if it woke late for an earlier one; this
 * is why no epoch check is needed and why a launch may end before every woken worker got to run.
 */
export const CONTROL = {
  /** The job: kernel key, descriptor address, blocks in the grid, blocks per chunk, chunks, epoch. */
  KEY: 0,
  DESC: 1,
  TOTAL: 2,
  CHUNK: 3,
  CHUNKS: 4,
  EPOCH: 5,
  /** Chunks not yet claimed (goes negative when threads find none left; reset by the next job). */
  NEXT: 16,
  /** Chunks finished (or skipped after a trap): the job is done when this reaches CHUNKS. */
  FINISHED: 32,
  /** Chunks that trapped. */
  FAILS: 33,
  /** Worker i's line: its wake word (the epoch it was last woken for), its scratch address. */
  WORKER_BASE: 48,
  WORKER_STRIDE: 16,
  WAKE: 0,
  SCRATCH: 1,
} as const;

/** Int32 slots the control array needs for `workers` workers. */
export function controlLength(workers: number): number {
  return CONTROL.WORKER_BASE + CONTROL.WORKER_STRIDE * workers;
}

/** Blocks per chunk for a grid of `total` blocks on `threads` threads (at least 1). */
export function chunkSize(total: number, threads: number): number {
  return Math.max(1, Math.ceil(total / (threads * CHUNKS_PER_THREAD)));
}

/** The threads worth waking for a grid: no more than there are chunks. */
export function participants(total: number, chunk: number, threads: number): number {
  return Math.min(threads, Math.ceil(total / chunk));
}
