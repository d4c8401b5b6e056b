// The allocator for the device's linear memory: 16-byte aligned blocks (so kernels may use whole
// v128 loads and stores), first fit over an address-ordered free list, neighbours coalesced on free,
// and the memory grown (through `grow`) when no free block fits. Bookkeeping lives here in JS, never
// in the memory kernels write.
import { WasmOutOfMemoryError } from './errors.js';

/** Block alignment and size granule in bytes. */
export const ALIGN = 16;
/** WebAssembly page size. */
export const PAGE = 65536;
/** Minimum growth step, to keep memory.grow calls rare. */
const MIN_GROWTH = 16 * PAGE;

export interface HeapStats {
  /** Bytes the memory has now. */
  readonly capacity: number;
  /** Bytes the memory may grow to. */
  readonly maximum: number;
  /** Bytes in allocated blocks (sizes rounded up to 16). */
  readonly used: number;
  /** Bytes in free blocks below `capacity`. */
  readonly free: number;
  readonly largestFree: number;
  readonly allocations: number;
  readonly freeBlocks: number;
}

interface Block {
  addr: number;
  size: number;
}

/** `bytes` rounded up to the block granule (at least one granule). */
export function blockSize(bytes: number): number {
  return Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
}

export class Heap {
  /** Free blocks, ordered by address, never adjacent (adjacent ones are merged). */
  readonly #free: Block[] = [];
  readonly #live = new Map<number, number>();
  readonly #limit: number;
  readonly #grow: (end: number) => void;
  #end: number;
  #used = 0;

  /**
   * Manages [base, end) of a memory that can grow to `limit` bytes; `grow(newEnd)` grows it to exactly
   * `newEnd` bytes (a multiple of 64 KiB) or throws.
   */
  constructor(base: number, end: number, limit: number, grow: (end: number) => void) {
    if (base % ALIGN !== 0 || base > end || end > limit) {
      throw new RangeError(`Heap: bad bounds base ${base}, end ${end}, limit ${limit}`);
    }
    this.#end = end;
    this.#limit = limit;
    this.#grow = grow;
    if (end > base) this.#free.push({ addr: base, size: end - base });
  }

  /** Bytes the memory has now. */
  get capacity(): number {
    return this.#end;
  }

  /**
   * A block of at least `bytes` bytes (16-byte aligned; contents unspecified). Throws a
   * WasmOutOfMemoryError, prefixed by `what`, when it fits nowhere below the limit.
   */
  alloc(bytes: number, what = 'allocation'): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) {
      throw new RangeError(
        `${what}: cannot allocate ${bytes} bytes; the size must be a non-negative integer`,
      );
    }
    const size = blockSize(bytes);
    let i = this.#fit(size);
    if (i < 0) {
      this.#extend(size, bytes, what);
      i = this.#fit(size);
    }
    const block = this.#free[i];
    const addr = block.addr;
    if (block.size === size) this.#free.splice(i, 1);
    else {
      block.addr += size;
      block.size -= size;
    }
    this.#live.set(addr, size);
    this.#used += size;
    return addr;
  }

  /** Returns a block to the free list, merged with free neighbours. */
  free(addr: number): void {
    const size = this.#live.get(addr);
    if (size === undefined) throw new Error(`Heap.free: ${addr} is not the address of an allocated block`);
    this.#live.delete(addr);
    this.#used -= size;
    this.#insertFree(addr, size);
  }

  /** The size of the block at `addr`, or undefined when none is allocated there. */
  sizeOf(addr: number): number | undefined {
    return this.#live.get(addr);
  }

  /** Grows the memory to at least `end` bytes (for modules declaring a larger minimum). */
  reserve(end: number, what: string): void {
    if (end > this.#end) this.#extend(end - this.#end, end - this.#end, what, true);
  }

  stats(): HeapStats {
    let free = 0;
    let largestFree = 0;
    for (const b of this.#free) {
      free += b.size;
      largestFree = Math.max(largestFree, b.size);
    }
    return {
      capacity: this.#end,
      maximum: this.#limit,
      used: this.#used,
      free,
      largestFree,
      allocations: this.#live.size,
      freeBlocks: this.#free.length,
    };
  }

  #fit(size: number): number {
    const free = this.#free;
    for (let i = 0; i < free.length; i++) if (free[i].size >= size) return i;
    return -1;
  }

  /** Grows the memory so that a free block of `size` bytes ends at its end. */
  #extend(size: number, requested: number, what: string, exact = false): void {
    const last = this.#free.at(-1);
    const tail = !exact && last !== undefined && last.addr + last.size === this.#end ? last.size : 0;
    const needed = roundUp(this.#end + size - tail, PAGE);
    if (needed > this.#limit) throw this.#exhausted(requested, what);
    const preferred = Math.min(
      this.#limit,
      Math.max(needed, roundUp(this.#end + Math.max(MIN_GROWTH, this.#end / 4), PAGE)),
    );
    const old = this.#end;
    try {
      this.#grow(preferred);
      this.#end = preferred;
    } catch {
      try {
        this.#grow(needed);
        this.#end = needed;
      } catch (e) {
        throw this.#exhausted(requested, what, e);
      }
    }
    this.#insertFree(old, this.#end - old);
  }

  #insertFree(addr: number, size: number): void {
    const free = this.#free;
    let lo = 0;
    let hi = free.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (free[mid].addr < addr) lo = mid + 1;
      else hi = mid;
    }
    const prev = free[lo - 1];
    const next = free[lo];
    if (prev !== undefined && prev.addr + prev.size === addr) {
      prev.size += size;
      if (next !== undefined && prev.addr + prev.size === next.addr) {
        prev.size += next.size;
        free.splice(lo, 1);
      }
    } else if (next !== undefined && addr + size === next.addr) {
      next.addr = addr;
      next.size += size;
    } else {
      free.splice(lo, 0, { addr, size });
    }
  }

  #exhausted(requested: number, what: string, cause?: unknown): WasmOutOfMemoryError {
    const s = this.stats();
    const engine =
      cause === undefined
        ? `it would exceed the memory's maximum of ${s.maximum} bytes (${s.maximum / PAGE} pages)`
        : `the engine could not grow the memory beyond ${s.capacity} bytes (${String(cause)})`;
    return new WasmOutOfMemoryError(
      requested,
      `${what}: cannot allocate ${requested} bytes: ${engine}; ${s.used} bytes are in use in ` +
        `${s.allocations} blocks and the largest free block has ${s.largestFree} bytes. Destroy tensors ` +
        'no longer needed, or create the device with a larger maxPages',
    );
  }
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}
