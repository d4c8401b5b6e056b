// The WASM-SIMD device in Node: worker_threads over one shared memory, or one thread over a plain
// memory. Kernels are hand-built with binaryen (SIMD + threads, memory imported shared with maximum
// 32768 pages, main(desc, blockBegin, blockEnd, scratch) as runtime/artifact.ts specifies), so these
// tests need nothing from the compiler.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import binaryen from 'binaryen';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { GlobalSpec, KernelArgs } from '../../dsl/lang/signature.js';
import {
  ALL_DTYPES,
  createDevice,
  createWasmDevice,
  type DType,
  f16,
  f32,
  i32,
  KernelTrapError,
  LaunchError,
  Tensor,
  u3,
  u32,
  type WasmArtifact,
  WasmDevice,
  WasmDeviceLostError,
  WasmModuleError,
  WasmOutOfMemoryError,
  type WasmTensor,
} from '../../runtime/index.js';
import { readModuleLayout, WasmBinaryError, withSharedFlag } from '../../runtime/wasm/binary.js';
import { RELAXED_SIMD_PROBE, SIMD128_PROBE } from '../../runtime/wasm/features.js';
import { Heap } from '../../runtime/wasm/heap.js';
import { CHUNKS_PER_THREAD, chunkSize, participants } from '../../runtime/wasm/schedule.js';
import { planThreads, type ThreadEnvironment } from '../../runtime/wasm/threads.js';
import { randomInt, rng } from '../helpers/random.js';

const run = promisify(execFile);
const MAX_PAGES = 32768;
const { i32: I32, f32: F32, v128: V128, none: NONE } = binaryen;

// ---------------------------------------------------------------------------------------------
// Hand-built kernels.

type M = binaryen.Module;
type Ref = binaryen.ExpressionRef;

/** Locals of main: the four params, then the extra locals a kernel asks for. */
const DESC = 0;
const BEGIN = 1;
const END = 2;
const SCRATCH = 3;

interface ModuleSpec {
  /** Extra locals (indices from 4). */
  readonly locals: readonly binaryen.Type[];
  readonly body: (m: M) => Ref;
  readonly shared?: boolean;
  readonly minPages?: number;
  readonly segments?: (m: M) => binaryen.MemorySegment[];
  /** Extra module setup (other imports, globals). */
  readonly setup?: (m: M) => void;
}

function buildModule(spec: ModuleSpec): Uint8Array {
  const m = new binaryen.Module();
  m.setFeatures(
    binaryen.Features.MVP |
      binaryen.Features.SIMD128 |
      binaryen.Features.Atomics |
      binaryen.Features.BulkMemory,
  );
  const shared = spec.shared ?? true;
  spec.setup?.(m);
  m.setMemory(spec.minPages ?? 1, MAX_PAGES, null, spec.segments?.(m) ?? [], shared, false, '0');
  m.addMemoryImport('0', 'env', 'memory', shared);
  m.addFunction('main', binaryen.createType([I32, I32, I32, I32]), NONE, [...spec.locals], spec.body(m));
  m.addFunctionExport('main', 'main');
  if (!m.validate()) throw new Error('binaryen: invalid test module');
  const bytes = m.emitBinary();
  m.dispose();
  return bytes;
}

const get = (m: M, i: number, t: binaryen.Type = I32): Ref => m.local.get(i, t);
const set = (m: M, i: number, v: Ref): Ref => m.local.set(i, v);
const c = (m: M, v: number): Ref => m.i32.const(v);
/** desc field k (u32). */
const field = (m: M, k: number): Ref => m.i32.load(4 * k, 4, get(m, DESC));
/** for (local = from; local < to (u32); local++) body */
function forRange(m: M, label: string, local: number, from: Ref, to: Ref, body: Ref[]): Ref {
  return m.block(null, [
    set(m, local, from),
    m.block(`${label}_done`, [
      m.loop(
        label,
        m.block(null, [
          m.br(`${label}_done`, m.i32.ge_u(get(m, local), to)),
          ...body,
          set(m, local, m.i32.add(get(m, local), c(m, 1))),
          m.br(label),
        ]),
      ),
    ]),
  ]);
}

let hashes = 0;
function artifact(
  a: Omit<
    WasmArtifact,
    'format' | 'version' | 'consts' | 'hash' | 'wasm' | 'maxPages' | 'features' | 'scratchBytes'
  > &
    Partial<WasmArtifact> & { bytes: Uint8Array },
): WasmArtifact {
  const { bytes, ...rest } = a;
  return {
    format: 'tilevm-wasm',
    version: 1,
    consts: {},
    maxPages: MAX_PAGES,
    features: ['simd128'],
    scratchBytes: 0,
    ...rest,
    wasm: Buffer.from(bytes).toString('base64'),
    hash: `${a.kernel}-${++hashes}`,
  };
}

/**
 * y[i] = x[i] * alpha over blocks of 64 elements: f32x4 while 4 fit, then scalar. alpha goes through
 * the thread's scratch (stored as a splat, loaded back) so that scratch regions are exercised.
 */
function scaleModule(shared = true): Uint8Array {
  const [B, I, LIM, X, Y, N, VA, A] = [4, 5, 6, 7, 8, 9, 10, 11];
  return buildModule({
    shared,
    locals: [I32, I32, I32, I32, I32, I32, V128, F32],
    body: (m) => {
      const addr = (base: number): Ref => m.i32.add(get(m, base), m.i32.shl(get(m, I), c(m, 2)));
      return m.block(null, [
        set(m, X, field(m, 0)),
        set(m, Y, field(m, 1)),
        set(m, N, field(m, 2)),
        set(m, A, m.f32.load(12, 4, get(m, DESC))),
        m.v128.store(0, 16, get(m, SCRATCH), m.f32x4.splat(get(m, A, F32))),
        set(m, VA, m.v128.load(0, 16, get(m, SCRATCH))),
        forRange(m, 'blocks', B, get(m, BEGIN), get(m, END), [
          set(m, I, m.i32.mul(get(m, B), c(m, 64))),
          set(m, LIM, m.i32.add(get(m, I), c(m, 64))),
          set(m, LIM, m.select(m.i32.lt_u(get(m, LIM), get(m, N)), get(m, LIM), get(m, N))),
          m.block('vec_done', [
            m.loop(
              'vec',
              m.block(null, [
                m.br('vec_done', m.i32.gt_u(m.i32.add(get(m, I), c(m, 4)), get(m, LIM))),
                m.v128.store(0, 16, addr(Y), m.f32x4.mul(m.v128.load(0, 16, addr(X)), get(m, VA, V128))),
                set(m, I, m.i32.add(get(m, I), c(m, 4))),
                m.br('vec'),
              ]),
            ),
          ]),
          m.block('tail_done', [
            m.loop(
              'tail',
              m.block(null, [
                m.br('tail_done', m.i32.ge_u(get(m, I), get(m, LIM))),
                m.f32.store(0, 4, addr(Y), m.f32.mul(m.f32.load(0, 4, addr(X)), get(m, A, F32))),
                set(m, I, m.i32.add(get(m, I), c(m, 1))),
                m.br('tail'),
              ]),
            ),
          ]),
        ]),
      ]);
    },
  });
}

const SCALE_MODULE = scaleModule();
function scaleArtifact(extra: Partial<WasmArtifact> = {}, bytes = SCALE_MODULE): WasmArtifact {
  return artifact({
    kernel: 'scale',
    params: [
      { kind: 'global', name: 'x', dtype: 'f32', shape: ['N'], access: 'read', binding: 0 },
      { kind: 'global', name: 'y', dtype: 'f32', shape: ['N'], access: 'write', binding: 1 },
      { kind: 'scalar', name: 'alpha', dtype: 'f32' },
    ],
    grid: ['cdiv(N, 64)'],
    descriptor: [
      { name: 'x', source: 'tensor', type: 'u32' },
      { name: 'y', source: 'tensor', type: 'u32' },
      { name: 'N', source: 'symbol', type: 'u32' },
      { name: 'alpha', source: 'scalar', type: 'f32' },
    ],
    scratchBytes: 16,
    bytes,
    ...extra,
  });
}
const SCALE = scaleArtifact();

/**
 * One step per block b: hits[b] += 1 (atomically), coords[b] = bx + 1000 by + 1000000 bz from the grid
 * dims in the descriptor, where[b] = the scratch address of the thread that ran it.
 */
const BLOCKS = (() => {
  const [B, GX, GY] = [4, 5, 6];
  const at = (m: M, k: number): Ref => m.i32.add(field(m, k), m.i32.shl(get(m, B), c(m, 2)));
  const bytes = buildModule({
    locals: [I32, I32, I32],
    body: (m) =>
      m.block(null, [
        set(m, GX, field(m, 3)),
        set(m, GY, field(m, 4)),
        forRange(m, 'blocks', B, get(m, BEGIN), get(m, END), [
          m.drop(m.i32.atomic.rmw.add(0, at(m, 0), c(m, 1))),
          m.i32.store(
            0,
            4,
            at(m, 1),
            m.i32.add(
              m.i32.add(
                m.i32.rem_u(get(m, B), get(m, GX)),
                m.i32.mul(m.i32.rem_u(m.i32.div_u(get(m, B), get(m, GX)), get(m, GY)), c(m, 1000)),
              ),
              m.i32.mul(m.i32.div_u(get(m, B), m.i32.mul(get(m, GX), get(m, GY))), c(m, 1_000_000)),
            ),
          ),
          m.i32.store(0, 4, at(m, 2), get(m, SCRATCH)),
        ]),
      ]),
  });
  return artifact({
    kernel: 'blocks',
    params: ['hits', 'coords', 'where'].map((name, binding) => ({
      kind: 'global' as const,
      name,
      dtype: 'u32',
      shape: ['Z', 'Y', 'X'],
      access: 'write' as const,
      binding,
    })),
    grid: ['X', 'Y', 'Z'],
    descriptor: [
      { name: 'hits', source: 'tensor', type: 'u32' },
      { name: 'coords', source: 'tensor', type: 'u32' },
      { name: 'where', source: 'tensor', type: 'u32' },
      { name: 'grid_x', source: 'grid', type: 'u32' },
      { name: 'grid_y', source: 'grid', type: 'u32' },
      { name: 'grid_z', source: 'grid', type: 'u32' },
    ],
    scratchBytes: 100,
    bytes,
  });
})();

/** out[b] = b, but block `at` executes unreachable. */
const TRAP = (() => {
  const B = 4;
  const bytes = buildModule({
    locals: [I32],
    body: (m) =>
      forRange(m, 'blocks', B, get(m, BEGIN), get(m, END), [
        m.if(m.i32.eq(get(m, B), field(m, 1)), m.unreachable()),
        m.i32.store(0, 4, m.i32.add(field(m, 0), m.i32.shl(get(m, B), c(m, 2))), get(m, B)),
      ]),
  });
  return artifact({
    kernel: 'trap',
    params: [
      { kind: 'global', name: 'out', dtype: 'i32', shape: ['N'], access: 'write', binding: 0 },
      { kind: 'scalar', name: 'at', dtype: 'i32' },
    ],
    grid: ['N'],
    descriptor: [
      { name: 'out', source: 'tensor', type: 'u32' },
      { name: 'at', source: 'scalar', type: 'i32' },
    ],
    bytes,
  });
})();

/** Each block adds `iters` to out[b] one at a time: a kernel that runs as long as asked. */
const SPIN = (() => {
  const [B, K] = [4, 5];
  const bytes = buildModule({
    locals: [I32, I32],
    body: (m) => {
      const p = (): Ref => m.i32.add(field(m, 0), m.i32.shl(get(m, B), c(m, 2)));
      return forRange(m, 'blocks', B, get(m, BEGIN), get(m, END), [
        forRange(m, 'spin', K, c(m, 0), field(m, 1), [
          m.i32.store(0, 4, p(), m.i32.add(m.i32.load(0, 4, p()), c(m, 1))),
        ]),
      ]);
    },
  });
  return artifact({
    kernel: 'spin',
    params: [
      { kind: 'global', name: 'out', dtype: 'u32', shape: ['N'], access: 'write', binding: 0 },
      { kind: 'scalar', name: 'iters', dtype: 'u32' },
    ],
    grid: ['N'],
    descriptor: [
      { name: 'out', source: 'tensor', type: 'u32' },
      { name: 'iters', source: 'scalar', type: 'u32' },
    ],
    bytes,
  });
})();

/** out[b] = ++calls, with calls a mutable global of the instance: shows instances persist. */
const COUNTER = (() => {
  const B = 4;
  const bytes = buildModule({
    locals: [I32],
    setup: (m) => {
      m.addGlobal('calls', I32, true, m.i32.const(0));
    },
    body: (m) =>
      forRange(m, 'blocks', B, get(m, BEGIN), get(m, END), [
        m.global.set('calls', m.i32.add(m.global.get('calls', I32), c(m, 1))),
        m.i32.store(0, 4, m.i32.add(field(m, 0), m.i32.shl(get(m, B), c(m, 2))), m.global.get('calls', I32)),
      ]),
  });
  return artifact({
    kernel: 'counter',
    params: [{ kind: 'global', name: 'out', dtype: 'i32', shape: ['N'], access: 'write', binding: 0 }],
    grid: ['N'],
    descriptor: [{ name: 'out', source: 'tensor', type: 'u32' }],
    bytes,
  });
})();

function randomTensor<D extends DType>(dtype: D, shape: readonly number[], seed: number): Tensor<D> {
  const r = rng(seed);
  const t = Tensor.zeros(dtype, shape);
  for (let i = 0; i < t.size; i++) t.setPattern(i, randomInt(r, 0, 2 ** dtype.bits - 1));
  return t;
}

function randomFloats(n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.fround((r() - 0.5) * 1000));
}

// ---------------------------------------------------------------------------------------------

let one: WasmDevice;
let two: WasmDevice;
let four: WasmDevice;
/** One thread over a plain (non-shared) memory: every module's memory import gets patched. */
let plain: WasmDevice;
let all: WasmDevice[];

beforeAll(async () => {
  [one, two, four, plain] = await Promise.all([
    createWasmDevice({ threads: 1 }),
    createWasmDevice({ threads: 2 }),
    createWasmDevice({ threads: 4 }),
    createWasmDevice({ threads: 1, shared: false }),
  ]);
  all = [one, two, four, plain];
});

afterAll(() => {
  for (const d of all ?? []) d.destroy();
});

describe('createWasmDevice', () => {
  it('makes devices with the threads asked for, over shared memory in Node', () => {
    expect(one.backend).toBe('wasm');
    expect([one.threads, two.threads, four.threads, plain.threads]).toEqual([1, 2, 4, 1]);
    expect(four.shared).toBe(true);
    expect(four.memory.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(plain.shared).toBe(false);
    expect(plain.memory.buffer).toBeInstanceOf(ArrayBuffer);
    expect(one.memoryStats().maximum).toBe(MAX_PAGES * 65536);
  });

  it('defaults to every core', async () => {
    const os = await import('node:os');
    const d = await createWasmDevice();
    expect(d.threads).toBe(os.availableParallelism());
    d.destroy();
  });

  it('is createDevice({ backend: "wasm" })', async () => {
    const d = await createDevice({ backend: 'wasm', threads: 2 });
    expectTypeOf(d).toEqualTypeOf<WasmDevice>();
    expect(d).toBeInstanceOf(WasmDevice);
    expect(d.threads).toBe(2);
    d.destroy();
    await expect(createDevice({ backend: 'cuda' } as never)).rejects.toThrow(
      "createDevice: backend 'cuda' is not supported; use 'webgpu' or 'wasm'",
    );
  });

  it('rejects bad options', async () => {
    await expect(createWasmDevice({ threads: 0 })).rejects.toThrow(
      'createWasmDevice: threads must be a positive integer, got 0',
    );
    await expect(createWasmDevice({ threads: 2, shared: false })).rejects.toThrow(
      'createWasmDevice: threads: 2 needs shared memory, but shared: false was passed; pass threads: 1, or leave shared out',
    );
    await expect(createWasmDevice({ maxPages: 40000 })).rejects.toThrow(
      'createWasmDevice: maxPages must be an integer in 1..32768, got 40000',
    );
  });

  it('reports simd128, and relaxed-simd only where it validates', () => {
    expect(one.features.has('simd128')).toBe(true);
    expect(one.features.has('relaxed-simd')).toBe(WebAssembly.validate(RELAXED_SIMD_PROBE as BufferSource));
    expect(one.features.has('relaxed-simd')).toBe(false); // Node 20 without flags
  });

  it('probes relaxed SIMD with a module that validates exactly when the engine has it', async () => {
    const script = (bytes: Uint8Array): string =>
      `console.log(WebAssembly.validate(new Uint8Array([${[...bytes].join(',')}])))`;
    const plainNode = await run(process.execPath, ['-e', script(RELAXED_SIMD_PROBE)]);
    const flagged = await run(process.execPath, [
      '--experimental-wasm-relaxed-simd',
      '-e',
      script(RELAXED_SIMD_PROBE),
    ]);
    expect([plainNode.stdout.trim(), flagged.stdout.trim()]).toEqual(['false', 'true']);
    expect(WebAssembly.validate(SIMD128_PROBE as BufferSource)).toBe(true);
  });
});

describe('planThreads', () => {
  const node: ThreadEnvironment = {
    isNode: true,
    crossOriginIsolated: undefined,
    hasSharedArrayBuffer: true,
    parallelism: 8,
  };
  const isolated: ThreadEnvironment = {
    isNode: false,
    crossOriginIsolated: true,
    hasSharedArrayBuffer: true,
    parallelism: 6,
  };
  const page: ThreadEnvironment = {
    isNode: false,
    crossOriginIsolated: false,
    hasSharedArrayBuffer: false,
    parallelism: 6,
  };

  it('shares memory in Node and in cross-origin isolated pages', () => {
    expect(planThreads({}, node)).toEqual({ shared: true, threads: 8 });
    expect(planThreads({ threads: 3 }, node)).toEqual({ shared: true, threads: 3 });
    expect(planThreads({}, isolated)).toEqual({ shared: true, threads: 6 });
    expect(planThreads({ threads: 1 }, isolated)).toEqual({ shared: true, threads: 1 });
    expect(planThreads({ shared: false }, node)).toEqual({ shared: false, threads: 1 });
  });

  it('falls back to one thread with a warning on pages that are not isolated', () => {
    expect(planThreads({}, page)).toEqual({
      shared: false,
      threads: 1,
      warning:
        'tilevm: the WASM device runs on 1 thread instead of 6: this page is not cross-origin isolated ' +
        '(crossOriginIsolated is not true), so shared WebAssembly memory is unavailable. Serve the page with ' +
        "'Cross-Origin-Opener-Policy: same-origin' and 'Cross-Origin-Embedder-Policy: require-corp' to use threads",
    });
    expect(planThreads({ threads: 4 }, page).threads).toBe(1);
    expect(planThreads({ threads: 1 }, page)).toEqual({ shared: false, threads: 1 }); // nothing to warn about
    expect(() => planThreads({ shared: true }, page)).toThrow(
      'createWasmDevice: shared memory was requested, but this page is not cross-origin isolated',
    );
  });
});

describe('memory allocator', () => {
  const PAGE = 65536;
  function heap(pages = 1, limitPages = 4): { heap: Heap; grows: number[] } {
    const grows: number[] = [];
    return { heap: new Heap(16, pages * PAGE, limitPages * PAGE, (end) => grows.push(end)), grows };
  }

  it('hands out 16-byte aligned blocks, rounding sizes up', () => {
    const { heap: h } = heap();
    const a = h.alloc(1);
    const b = h.alloc(17);
    const z = h.alloc(0);
    expect([a, b, z]).toEqual([16, 32, 64]);
    expect([h.sizeOf(a), h.sizeOf(b), h.sizeOf(z)]).toEqual([16, 32, 16]);
    expect(h.stats()).toMatchObject({ used: 64, allocations: 3, free: PAGE - 16 - 64, freeBlocks: 1 });
  });

  it('reuses freed blocks first-fit and coalesces neighbours', () => {
    const { heap: h } = heap();
    const blocks = Array.from({ length: 8 }, () => h.alloc(100)); // 112 bytes each
    expect(blocks).toEqual(blocks.map((_, i) => 16 + 112 * i));
    h.free(blocks[1]);
    h.free(blocks[3]);
    h.free(blocks[5]);
    expect(h.stats().freeBlocks).toBe(4); // three holes and the tail
    expect(h.alloc(50)).toBe(blocks[1]); // first fit: the lowest hole
    expect(h.alloc(200)).toBe(16 + 112 * 8); // no hole holds 208 bytes: from the tail
    h.free(blocks[4]); // merges with the holes at 3 and 5
    expect(h.stats().freeBlocks).toBe(3);
    expect(h.alloc(300)).toBe(blocks[3]); // 336 bytes fit in the merged hole
    for (const b of [blocks[0], blocks[1], blocks[2], blocks[3], blocks[6], blocks[7], 16 + 112 * 8])
      h.free(b);
    expect(h.stats()).toMatchObject({
      used: 0,
      allocations: 0,
      freeBlocks: 1,
      free: PAGE - 16,
      largestFree: PAGE - 16,
    });
  });

  it('survives random alloc/free churn without overlaps or leaks', () => {
    const { heap: h } = heap(1, 64);
    const r = rng(42);
    const live = new Map<number, number>();
    const bad: string[] = [];
    for (let step = 0; step < 3000; step++) {
      if (live.size > 0 && r() < 0.45) {
        const keys = [...live.keys()];
        const k = keys[randomInt(r, 0, keys.length - 1)];
        h.free(k);
        live.delete(k);
      } else {
        const size = randomInt(r, 0, 3000);
        const a = h.alloc(size);
        if (a % 16 !== 0) bad.push(`step ${step}: address ${a} is not 16-byte aligned`);
        for (const [b, n] of live)
          if (a + size > b && b + n > a) bad.push(`step ${step}: ${a} overlaps ${b}`);
        live.set(a, Math.max(1, size));
      }
    }
    expect(bad).toEqual([]);
    for (const k of live.keys()) h.free(k);
    const s = h.stats();
    expect(s).toMatchObject({ used: 0, allocations: 0, freeBlocks: 1, free: s.capacity - 16 });
  });

  it('grows the memory when nothing fits, reusing the free tail', () => {
    const { heap: h, grows } = heap(1, 64);
    const a = h.alloc(PAGE - 16 - 1008); // leaves a 1008-byte tail
    const b = h.alloc(20 * PAGE);
    expect(b).toBe(a + PAGE - 16 - 1008); // starts in the old tail
    expect(grows).toEqual([21 * PAGE]); // enough, and at least 16 pages more
    expect(h.capacity).toBe(21 * PAGE);
    h.alloc(2000); // 1008 bytes are left at the end: grow again
    expect(grows).toEqual([21 * PAGE, 37 * PAGE]); // 16 pages more (a quarter of 21 is less)
    h.reserve(30 * PAGE, 'test');
    expect(h.capacity).toBe(grows.at(-1));
    expect(h.capacity).toBeGreaterThanOrEqual(30 * PAGE);
  });

  it('names the requested size when the memory is exhausted', () => {
    const { heap: h } = heap(1, 2);
    h.alloc(PAGE);
    let error: unknown;
    try {
      h.alloc(PAGE, 'device.tensor(f32, [16384])');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(WasmOutOfMemoryError);
    expect((error as WasmOutOfMemoryError).requested).toBe(PAGE);
    expect((error as Error).message).toBe(
      "device.tensor(f32, [16384]): cannot allocate 65536 bytes: it would exceed the memory's maximum of " +
        '131072 bytes (2 pages); 65536 bytes are in use in 1 blocks and the largest free block has 65520 bytes. ' +
        'Destroy tensors no longer needed, or create the device with a larger maxPages',
    );
    expect(() => h.free(12345)).toThrow('Heap.free: 12345 is not the address of an allocated block');
  });

  it('grows the device memory and fails clearly at its maximum', async () => {
    const d = await createWasmDevice({ threads: 2, maxPages: 40 });
    const before = d.memory.buffer.byteLength;
    const big = d.tensor(u32, [500_000]); // 2 MB: more than the first MiB
    expect(d.memory.buffer.byteLength).toBeGreaterThan(before);
    const x = d.upload(Tensor.fromArray(f32, [5], [1, 2, 3, 4, 5]));
    expect((await d.read(x)).toArray()).toEqual([1, 2, 3, 4, 5]);
    expect(() => d.tensor(f32, [1_000_000])).toThrow(
      "device.tensor(f32, [1000000]): cannot allocate 4000000 bytes: it would exceed the memory's maximum of 2621440 bytes (40 pages)",
    );
    big.destroy();
    const again = d.tensor(f32, [500_000]); // fits where `big` was
    expect(again.address).toBeLessThan(x.address);
    d.destroy();
  });
});

describe('tensors', () => {
  const shapes = [[0], [1], [7], [33], [3, 5], [2, 3, 7], [1001]];

  it('round trips every dtype bit-exactly, with odd lengths', async () => {
    for (const [k, dtype] of ALL_DTYPES.entries()) {
      for (const [s, shape] of shapes.entries()) {
        const host = randomTensor(dtype, shape, 1000 * k + s);
        for (const d of [one, plain]) {
          const t = d.upload(host);
          expect(t.byteLength).toBe(Math.max(16, Math.ceil(host.data.length / 16) * 16));
          expect(t.address % 16).toBe(0);
          const back = await d.read(t);
          expect(back.dtype).toBe(dtype);
          expect(back.shape).toEqual(shape);
          expect(back.data, `${dtype.name} [${shape}]`).toEqual(host.data);
          t.destroy();
        }
      }
    }
  });

  it('makes zeroed tensors, even over reused memory', async () => {
    const dirty = one.upload(Tensor.fromArray(u32, [64], new Array(64).fill(0xffffffff)));
    const address = dirty.address;
    dirty.destroy();
    const t = one.tensor(u32, [64]);
    expect(t.address).toBe(address);
    expect((await one.read(t)).toArray()).toEqual(new Array(64).fill(0));
    expect(String(one.tensor(u3, [2, 3]))).toBe('WasmTensor<u3>[2, 3]');
    const empty = one.tensor(f16, [0, 4]);
    expect([empty.size, empty.byteLength]).toEqual([0, 16]);
    t.destroy();
  });

  it('rejects bad shapes, other devices and use after destroy', async () => {
    expect(() => one.tensor(f32, [2, -1])).toThrow(
      'device.tensor: shape [2, -1] has dimension 1 = -1; each dimension must be a non-negative integer',
    );
    expect(() => one.upload([1, 2] as never)).toThrow('device.upload: expected a host Tensor, got Array');
    const t = one.tensor(f32, [4]);
    t.destroy();
    t.destroy();
    expect(t.destroyed).toBe(true);
    await expect(one.read(t)).rejects.toThrow('device.read: WasmTensor<f32>[4] was destroyed');
    expect(() => t.address).toThrow('WasmTensor<f32>[4] was destroyed; it can no longer be used');
    const theirs = two.tensor(f32, [1]);
    await expect(one.read(theirs)).rejects.toThrow(
      'device.read: WasmTensor<f32>[1] belongs to another WASM device',
    );
    theirs.destroy();
  });

  it('types launch arguments as WasmTensors (KernelArgs<P, "wasm">)', () => {
    type P = { x: GlobalSpec<typeof f32>; n: typeof i32 };
    expectTypeOf<KernelArgs<P, 'wasm'>>().toEqualTypeOf<{
      readonly x: WasmTensor<typeof f32>;
      readonly n: number;
    }>();
  });
});

describe('launch', () => {
  it('runs y = x * alpha, identically on 1, 2 and 4 threads and over plain memory', async () => {
    for (const n of [1, 5, 64, 67, 1000, 4099]) {
      const xs = randomFloats(n, n);
      const want = xs.map((v) => Math.fround(v * -1.75));
      for (const d of all) {
        const x = d.upload(Tensor.fromArray(f32, [n], xs));
        const y = d.tensor(f32, [n]);
        await d.launch(SCALE, { x, y, alpha: -1.75 });
        expect((await d.read(y)).toArray(), `n = ${n}, ${d.threads} threads`).toEqual(want);
        x.destroy();
        y.destroy();
      }
    }
  });

  it('covers every block exactly once, each chunk on one thread', async () => {
    for (const [X, Y, Z] of [
      [1, 1, 1],
      [3, 1, 1],
      [7, 3, 2],
      [64, 5, 3],
    ]) {
      const total = X * Y * Z;
      for (const d of [one, two, four]) {
        const [hits, coords, where] = [0, 1, 2].map(() => d.tensor(u32, [Z, Y, X]));
        await d.launch(BLOCKS, { hits, coords, where });
        const at = `${d.threads} threads, grid [${X}, ${Y}, ${Z}]`;
        expect((await d.read(hits)).toArray(), at).toEqual(new Array(total).fill(1));
        const want: number[] = [];
        for (let z = 0; z < Z; z++)
          for (let y = 0; y < Y; y++) for (let x = 0; x < X; x++) want.push(x + 1000 * y + 1e6 * z);
        expect((await d.read(coords)).toArray(), at).toEqual(want);
        // Scratch addresses identify threads: a chunk's blocks all ran on one thread, and no more
        // threads ran than there are chunks.
        const scratch = (await d.read(where)).toArray();
        const single = d.threads === 1 || total === 1;
        const chunk = single ? total : chunkSize(total, d.threads);
        for (const [b, s] of scratch.entries()) {
          expect(s % 16).toBe(0);
          if (b % chunk !== 0) expect(s, `${at}, block ${b}`).toBe(scratch[b - 1]);
        }
        const threads = single ? 1 : participants(total, chunk, d.threads);
        expect(new Set(scratch).size, at).toBeLessThanOrEqual(threads);
        for (const t of [hits, coords, where]) t.destroy();
      }
    }
  });

  it('launches nothing for an empty grid', async () => {
    for (const d of [one, four]) {
      const x = d.tensor(f32, [0]);
      const y = d.tensor(f32, [0]);
      await d.launch(SCALE, { x, y, alpha: 2 });
      x.destroy();
      y.destroy();
    }
  });

  it('keeps launches in order without awaiting each one', async () => {
    for (const d of [one, four]) {
      const n = 3000;
      const xs = randomFloats(n, 7);
      const a = d.upload(Tensor.fromArray(f32, [n], xs));
      const b = d.tensor(f32, [n]);
      const c2 = d.tensor(f32, [n]);
      const launches = [
        d.launch(SCALE, { x: a, y: b, alpha: 2 }),
        d.launch(SCALE, { x: b, y: c2, alpha: 3 }),
        d.launch(SCALE, { x: c2, y: b, alpha: 0.5 }),
      ];
      const first = d.read(c2);
      const last = d.read(b);
      await Promise.all(launches);
      expect((await first).toArray()).toEqual(xs.map((v) => Math.fround(Math.fround(v * 2) * 3)));
      expect((await last).toArray()).toEqual(
        xs.map((v) => Math.fround(Math.fround(Math.fround(v * 2) * 3) * 0.5)),
      );
      await d.flush();
      for (const t of [a, b, c2]) t.destroy();
    }
  });

  it('frees a destroyed tensor only after queued launches have used it', async () => {
    const n = 640;
    const xs = randomFloats(n, 3);
    const x = four.upload(Tensor.fromArray(f32, [n], xs));
    const y = four.tensor(f32, [n]);
    const xAddress = x.address;
    const done = four.launch(SCALE, { x, y, alpha: 4 });
    x.destroy(); // the launch was issued first, with x alive
    const z = four.tensor(f32, [n]); // must not take x's block while the launch may read it
    expect(z.address).not.toBe(xAddress);
    await done;
    expect((await four.read(y)).toArray()).toEqual(xs.map((v) => Math.fround(v * 4)));
    y.destroy();
    z.destroy();
  });

  it('caches one instance per thread and allocates nothing per launch', async () => {
    for (const d of [one, two]) {
      const out = d.tensor(i32, [10]);
      await d.launch(COUNTER, { out });
      const first = (await d.read(out)).toArray();
      const stats = d.memoryStats();
      let highest = Math.max(...first);
      for (let i = 0; i < 20; i++) {
        await d.launch(COUNTER, { out });
        highest = Math.max(highest, ...(await d.read(out)).toArray());
      }
      expect(d.memoryStats()).toEqual(stats);
      const last = (await d.read(out)).toArray();
      if (d.threads === 1) {
        expect(first).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        expect(last).toEqual(first.map((v) => v + 200));
      } else {
        // Each instance counts the blocks it ran, over every launch. The 210 blocks were shared by
        // the two, so one counted at least 105 and wrote that count in the last launch it ran in;
        // an instance made per launch would never count past 10.
        expect(highest).toBeGreaterThanOrEqual(105);
        expect(highest).toBeLessThanOrEqual(210);
      }
      out.destroy();
    }
  });

  it('patches the shared memory import for a plain memory, and shared flags both ways', async () => {
    const layout = readModuleLayout(SCALE_MODULE);
    expect(layout.memoryImports).toMatchObject([
      { module: 'env', name: 'memory', shared: true, minPages: 1, maxPages: MAX_PAGES },
    ]);
    const memory = layout.memoryImports[0];
    const unshared = withSharedFlag(SCALE_MODULE, memory, false);
    expect(unshared.length).toBe(SCALE_MODULE.length);
    expect([...unshared].filter((b, i) => b !== SCALE_MODULE[i])).toHaveLength(1);
    expect(readModuleLayout(unshared).memoryImports[0].shared).toBe(false);
    expect(withSharedFlag(unshared, readModuleLayout(unshared).memoryImports[0], true)).toEqual(SCALE_MODULE);
    const plainMemory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES });
    const sharedMemory = new WebAssembly.Memory({ initial: 1, maximum: MAX_PAGES, shared: true });
    const instantiate = (bytes: Uint8Array, m: WebAssembly.Memory): unknown =>
      new WebAssembly.Instance(new WebAssembly.Module(bytes as BufferSource), { env: { memory: m } });
    expect(() => instantiate(SCALE_MODULE, plainMemory)).toThrow(WebAssembly.LinkError);
    expect(instantiate(unshared, plainMemory)).toBeInstanceOf(WebAssembly.Instance);
    expect(() => instantiate(unshared, sharedMemory)).toThrow(WebAssembly.LinkError);
    // A module declaring its import non-shared runs on a shared-memory device too.
    const n = 100;
    const xs = randomFloats(n, 9);
    for (const d of [plain, four]) {
      for (const bytes of [SCALE_MODULE, scaleModule(false)]) {
        const x = d.upload(Tensor.fromArray(f32, [n], xs));
        const y = d.tensor(f32, [n]);
        await d.launch(scaleArtifact({}, bytes), { x, y, alpha: 3 });
        expect((await d.read(y)).toArray()).toEqual(xs.map((v) => Math.fround(v * 3)));
        x.destroy();
        y.destroy();
      }
    }
  });

  it('finds the memory import among other imports and sections', () => {
    // By hand, since binaryen always emits the memory import first: a custom section, then imports
    // of a function, a global, a table and last the memory, and main.
    const leb = (n: number): number[] => {
      const out: number[] = [];
      do {
        out.push((n & 0x7f) | (n >= 0x80 ? 0x80 : 0));
        n = Math.floor(n / 128);
      } while (n > 0);
      return out;
    };
    const name = (t: string): number[] => [t.length, ...new TextEncoder().encode(t)];
    const section = (id: number, body: number[]): number[] => [id, ...leb(body.length), ...body];
    const entry = (field: string, desc: number[]): number[] => [...name('env'), ...name(field), ...desc];
    const bytes = new Uint8Array([
      ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
      ...section(0, [...name('notes'), 1, 2, 3]),
      ...section(1, [2, 0x60, 1, 0x7f, 0, 0x60, 4, 0x7f, 0x7f, 0x7f, 0x7f, 0]),
      ...section(2, [
        4,
        ...entry('log', [0x00, 0]),
        ...entry('g', [0x03, 0x7d, 0]),
        ...entry('table', [0x01, 0x70, 0x01, 1, 10]),
        ...entry('memory', [0x02, 0x03, 3, ...leb(MAX_PAGES)]),
      ]),
      ...section(3, [1, 1]),
      ...section(7, [1, ...name('main'), 0x00, 1]),
      ...section(10, [1, 2, 0, 0x0b]),
      // One passive data segment and a data count, out of order: only readModuleLayout reads these.
      ...section(11, [1, 1, 2, 7, 7]),
      ...section(12, [1]),
    ]);
    const layout = readModuleLayout(bytes);
    expect(layout).toMatchObject({
      memoryImports: [
        { module: 'env', name: 'memory', shared: true, memory64: false, minPages: 3, maxPages: MAX_PAGES },
      ],
      definesMemory: false,
      activeData: false,
    });
    const valid = bytes.slice(0, bytes.length - 3 - 7); // without data and data count sections
    const patched = withSharedFlag(valid, layout.memoryImports[0], false);
    expect(readModuleLayout(patched).memoryImports[0].shared).toBe(false);
    const module = new WebAssembly.Module(patched as BufferSource);
    expect(WebAssembly.Module.imports(module).map((i) => i.name)).toEqual(['log', 'g', 'table', 'memory']);
    const memory = new WebAssembly.Memory({ initial: 3, maximum: MAX_PAGES });
    const table = new WebAssembly.Table({ initial: 1, maximum: 10, element: 'anyfunc' });
    const env = { log: () => {}, g: 1.5, table, memory };
    expect(new WebAssembly.Instance(module, { env })).toBeInstanceOf(WebAssembly.Instance);
    expect(() => readModuleLayout(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 2, 9, 1]))).toThrow(
      WasmBinaryError,
    );
    expect(() => readModuleLayout(new Uint8Array([1, 2, 3]))).toThrow(
      'malformed WebAssembly module at byte 0: no \\0asm magic number; this is not a WebAssembly binary',
    );
  });

  it("grows the memory to a module's declared minimum", async () => {
    const d = await createWasmDevice({ threads: 2 });
    const bytes = buildModule({ locals: [], minPages: 40, body: (m) => m.nop() });
    const a = scaleArtifact({}, bytes);
    const x = d.tensor(f32, [100]);
    await d.launch(a, { x, y: d.tensor(f32, [100]), alpha: 1 });
    expect(d.memory.buffer.byteLength).toBeGreaterThanOrEqual(40 * 65536);
    d.destroy();
  });

  it('turns a trap into a KernelTrapError naming the kernel and the blocks, and goes on', async () => {
    for (const d of [one, four, plain]) {
      const out = d.tensor(i32, [40]);
      const launch = d.launch(TRAP, { out, at: 25 });
      await expect(launch).rejects.toThrow(KernelTrapError);
      const error = (await launch.catch((e: unknown) => e)) as KernelTrapError;
      expect(error.kernel).toBe('trap');
      if (d.threads === 1) {
        expect(error.blocks).toEqual([0, 40]);
        expect(error.message).toBe(
          "launch of 'trap': the kernel trapped in blocks [0, 40) on the calling thread: RuntimeError: unreachable",
        );
      } else {
        // 40 blocks on 4 threads (3 workers and the calling thread) go in chunks of 2: block 25 is in
        // [24, 26), on whichever thread took it.
        expect(chunkSize(40, 4)).toBe(2);
        expect(error.blocks).toEqual([24, 26]);
        expect(error.message).toMatch(
          /^launch of 'trap': the kernel trapped in blocks \[24, 26\) on (worker [0-2] of 3|the calling thread): RuntimeError: unreachable$/,
        );
      }
      await d.launch(TRAP, { out, at: -1 }); // the device still works
      expect((await d.read(out)).toArray()).toEqual(Array.from({ length: 40 }, (_, i) => i));
      out.destroy();
    }
    const out = four.tensor(i32, [40]);
    await expect(four.launch(TRAP, { out, at: 0 })).rejects.toThrow(
      /^launch of 'trap': the kernel trapped in blocks \[0, 2\) on (worker [0-2] of 3|the calling thread): RuntimeError: unreachable$/,
    );
    out.destroy();
  });

  it('rejects bad arguments with exact messages', async () => {
    const d = two;
    const x = d.tensor(f32, [100]);
    const y = d.tensor(f32, [100]);
    const y99 = d.tensor(f32, [99]);
    const xi = d.tensor(i32, [100]);
    const cases: [Record<string, unknown>, string][] = [
      [{ x, y }, "launch of 'scale': missing argument 'alpha' (alpha: f32)"],
      [
        { x, y, alpha: 1, beta: 2 },
        "launch of 'scale': unexpected argument 'beta'; the params are x, y, alpha",
      ],
      [{ x: xi, y, alpha: 1 }, "launch of 'scale': argument 'x' is i32, but the param is declared f32"],
      [
        { x, y: y99, alpha: 1 },
        "launch of 'scale': shape symbol N is 100 from x.shape[0] but 99 from y.shape[0] (argument 'y' has shape [99])",
      ],
      [{ x, y, alpha: '1' }, "launch of 'scale': argument 'alpha' must be a number (alpha: f32)"],
      [{ x: 3, y, alpha: 1 }, "launch of 'scale': argument 'x' must be a tensor (x: global f32[N])"],
      [
        { x: Tensor.zeros(f32, [100]), y, alpha: 1 },
        "launch of 'scale': argument 'x' is a host Tensor<f32>[100]; upload it first (device.upload(tensor))",
      ],
      [
        { x: one.tensor(f32, [100]), y, alpha: 1 },
        "launch of 'scale': argument 'x' (WasmTensor<f32>[100]) belongs to another WASM device; read it back and upload it to this one",
      ],
      [
        { x: y, y, alpha: 1 },
        "launch of 'scale': arguments 'y' and 'x' are the same tensor (WasmTensor<f32>[100]); 'y' is written (access 'write'), so it must not be passed for another param",
      ],
    ];
    for (const [args, message] of cases) {
      const launch = d.launch(SCALE, args as never);
      await expect(launch).rejects.toThrow(LaunchError);
      await expect(launch).rejects.toThrow(message);
    }
    const dead = d.tensor(f32, [100]);
    dead.destroy();
    await expect(d.launch(SCALE, { x: dead, y, alpha: 1 })).rejects.toThrow(
      "launch of 'scale': argument 'x' (WasmTensor<f32>[100]) was destroyed",
    );
    const out = d.tensor(i32, [4]);
    await expect(d.launch(TRAP, { out, at: 2 ** 31 })).rejects.toThrow(
      "launch of 'trap': argument 'at' = 2147483648 is not a i32 (an integer in -2147483648..2147483647)",
    );
    await expect(
      d.launch({ ...SCALE, features: ['simd128', 'relaxed-simd'], hash: 'relaxed' }, { x, y, alpha: 1 }),
    ).rejects.toThrow(
      "launch of 'scale': the kernel needs WebAssembly feature(s) 'relaxed-simd', which this engine lacks " +
        '(it has: simd128); launch the artifact compiled without them',
    );
    for (const t of [x, y, y99, xi, out]) t.destroy();
  });

  it('rejects malformed artifacts and modules, naming the kernel', async () => {
    const x = one.tensor(f32, [8]);
    const y = one.tensor(f32, [8]);
    const args = { x, y, alpha: 1 };
    const bad = (extra: Partial<WasmArtifact>, bytes?: Uint8Array): Promise<void> =>
      one.launch(scaleArtifact(extra, bytes), args);
    await expect(bad({ format: 'tilevm-wgsl' as never })).rejects.toThrow(
      "artifact of kernel 'scale': not a tilevm-wasm version 1 artifact (format tilevm-wgsl, version 1); rebuild it with this tilevm",
    );
    await expect(bad({ descriptor: [{ name: 'M', source: 'symbol', type: 'u32' }] })).rejects.toThrow(
      "artifact of kernel 'scale': descriptor field 0 'M' (source 'symbol', type 'u32'): it names nothing the launch provides",
    );
    await expect(bad({ descriptor: [{ name: 'x', source: 'tensor', type: 'f32' }] })).rejects.toThrow(
      'a tensor address must be i32 or u32',
    );
    await expect(bad({ grid: [] })).rejects.toThrow(
      "artifact of kernel 'scale': grid has 0 dims; it must have 1 to 3",
    );
    await expect(bad({}, new Uint8Array([1, 2, 3, 4]))).rejects.toThrow(
      "the module of kernel 'scale' is not a valid WebAssembly binary: malformed WebAssembly module at byte 0",
    );
    await expect(bad({ maxPages: 100 })).rejects.toThrow(
      "the module of kernel 'scale' imports 'env.memory' with maximum 32768 pages, but the artifact says maxPages = 100",
    );
    const active = buildModule({
      locals: [],
      segments: (m) => [{ offset: m.i32.const(64), data: new Uint8Array([1]) }],
      body: (m) => m.nop(),
    });
    await expect(bad({}, active)).rejects.toThrow(WasmModuleError);
    await expect(bad({}, active)).rejects.toThrow(
      "the module of kernel 'scale' has active data segments, which every thread would copy into the shared memory",
    );
    const noMain = buildModule({ locals: [], body: (m) => m.nop() });
    const renamed = new TextDecoder('latin1').decode(noMain).replace('main', 'mian');
    await expect(
      bad(
        {},
        Uint8Array.from(renamed, (ch) => ch.charCodeAt(0)),
      ),
    ).rejects.toThrow(
      "the module of kernel 'scale' does not export a function 'main(desc, blockBegin, blockEnd, scratch)'",
    );
    const importsMore = buildModule({
      locals: [],
      setup: (m) => m.addFunctionImport('log', 'env', 'log', binaryen.createType([I32]), NONE),
      body: (m) => m.call('log', [c(m, 1)], NONE),
    });
    await expect(bad({}, importsMore)).rejects.toThrow("the module of kernel 'scale' does not link: ");
    // A failed kernel is not cached, and the device goes on.
    await one.launch(SCALE, args);
    x.destroy();
    y.destroy();
  });
});

describe('chunked dispatch', () => {
  let three: WasmDevice;
  /** Two workers and a calling thread that runs no blocks. */
  let twoWorkers: WasmDevice;
  beforeAll(async () => {
    [three, twoWorkers] = await Promise.all([
      createWasmDevice({ threads: 3 }),
      createWasmDevice({ threads: 2, callerRuns: false }),
    ]);
  });
  afterAll(() => {
    three?.destroy();
    twoWorkers?.destroy();
  });

  it('lends the calling thread in Node unless callerRuns is false', async () => {
    expect(three.threads).toBe(3);
    expect(twoWorkers.threads).toBe(2);
    // With the calling thread lent, 3 threads are 2 workers (trap messages below say "of 2").
    await expect(createWasmDevice({ callerRuns: 'yes' as never })).rejects.toThrow(
      'createWasmDevice: callerRuns must be true or false, got yes',
    );
  });

  it('cuts grids into chunks: one block each up to the thread count, a few chunks per thread beyond', () => {
    expect([1, 2, 3].map((t) => chunkSize(2, t))).toEqual([1, 1, 1]); // smaller than the threads
    expect(participants(2, 1, 3)).toBe(2);
    expect(chunkSize(3, 3)).toBe(1); // equal
    expect(participants(3, 1, 3)).toBe(3);
    expect(chunkSize(1000, 3)).toBe(Math.ceil(1000 / (3 * CHUNKS_PER_THREAD))); // larger
    expect(participants(1000, chunkSize(1000, 3), 3)).toBe(3);
    for (const total of [1, 7, 24, 25, 1000, 12345, 2 ** 32 - 1]) {
      for (const threads of [1, 2, 3, 16]) {
        const chunk = chunkSize(total, threads);
        const chunks = Math.ceil(total / chunk);
        expect(chunks).toBeLessThanOrEqual(threads * CHUNKS_PER_THREAD); // the counter stays small
        expect(chunks).toBeGreaterThanOrEqual(Math.min(total, threads * CHUNKS_PER_THREAD) / 2);
      }
    }
  });

  it('gives identical results on 1, 2 and 3 threads for grids smaller than, equal to and larger than the thread count', async () => {
    for (const blocks of [1, 2, 3, 4, 25, 1000]) {
      const n = blocks * 64 - 13; // a partial last block
      const xs = randomFloats(n, 100 + blocks);
      const results: number[][] = [];
      for (const d of [one, two, three, twoWorkers]) {
        const x = d.upload(Tensor.fromArray(f32, [n], xs));
        const y = d.upload(Tensor.fromArray(f32, [n], new Array(n).fill(Number.NaN))); // poisoned
        await d.launch(SCALE, { x, y, alpha: 0.375 });
        results.push((await d.read(y)).toArray());
        const [hits, coords, where] = [0, 1, 2].map(() => d.tensor(u32, [1, 1, blocks]));
        await d.launch(BLOCKS, { hits, coords, where });
        expect((await d.read(hits)).toArray(), `${blocks} blocks, ${d.threads} threads`).toEqual(
          new Array(blocks).fill(1),
        );
        for (const t of [x, y, hits, coords, where]) t.destroy();
      }
      expect(results[0]).toEqual(xs.map((v) => Math.fround(v * 0.375)));
      for (const r of results.slice(1)) expect(r).toEqual(results[0]);
    }
  });

  it('reports a trap in the middle chunk with its blocks and thread, and goes on', async () => {
    for (const [d, where] of [
      [three, '(worker [01] of 2|the calling thread)'],
      [twoWorkers, 'worker [01] of 2'],
    ] as const) {
      const out = d.tensor(i32, [30]);
      const chunk = chunkSize(30, d.threads);
      const [begin, end] = [Math.floor(15 / chunk) * chunk, Math.floor(15 / chunk) * chunk + chunk];
      expect(begin).toBeGreaterThan(0); // the middle chunk, not the first or the last
      expect(end).toBeLessThan(30);
      const error = (await d.launch(TRAP, { out, at: 15 }).catch((e: unknown) => e)) as KernelTrapError;
      expect(error).toBeInstanceOf(KernelTrapError);
      expect(error.blocks).toEqual([begin, end]);
      expect(error.message).toMatch(
        new RegExp(
          `^launch of 'trap': the kernel trapped in blocks \\[${begin}, ${end}\\) on ${where}: RuntimeError: unreachable$`,
        ),
      );
      await d.launch(TRAP, { out, at: -1 });
      expect((await d.read(out)).toArray()).toEqual(Array.from({ length: 30 }, (_, i) => i));
      out.destroy();
    }
  });

  it('runs many small launches back to back, in order', async () => {
    for (const d of [two, three, twoWorkers]) {
      // Grids of 1 (the calling thread), 2, 3 and 5 blocks, launches interleaved among them; each
      // pair swaps input and output every launch, so one run out of order leaves wrong values.
      const pairs = [64, 128, 150, 5 * 64 - 7].map((n, k) => {
        const xs = randomFloats(n, 70 + k);
        return { a: d.upload(Tensor.fromArray(f32, [n], xs)), b: d.tensor(f32, [n]), want: xs };
      });
      const launchRound = (i: number): Promise<void>[] =>
        pairs.map((p) => {
          const alpha = i % 2 === 0 ? 3 : -0.25;
          p.want = p.want.map((v) => Math.fround(v * alpha));
          return i % 2 === 0
            ? d.launch(SCALE, { x: p.a, y: p.b, alpha })
            : d.launch(SCALE, { x: p.b, y: p.a, alpha });
        });
      const issued: Promise<void>[] = [];
      for (let i = 0; i < 60; i++) issued.push(...launchRound(i)); // not awaited one by one
      await Promise.all(issued);
      for (let i = 60; i < 100; i++) await Promise.all(launchRound(i));
      for (const p of pairs) {
        expect((await d.read(p.a)).toArray(), `${d.threads} threads, n = ${p.a.size}`).toEqual(p.want);
        p.a.destroy();
        p.b.destroy();
      }
    }
  });
});

describe('message-mode dispatch (browsers, and Node without Atomics.waitAsync)', () => {
  it('runs chunked jobs woken by messages, reports traps, and lets the process exit', async () => {
    // The pool picks its mode when imported: without Atomics.waitAsync it uses the message protocol
    // that browsers' workers speak (runtime/wasm/worker-source.ts), and the caller runs no blocks.
    const script = `
      delete Atomics.waitAsync;
      const { createWasmDevice, Tensor, f32, i32 } = await import('./runtime/index.ts');
      const [scale, trap] = JSON.parse(process.env.JOB);
      const d = await createWasmDevice({ threads: 3 });
      const n = 1000;
      const xs = Array.from({ length: n }, (_, i) => (i - 300) * 0.75);
      const x = d.upload(Tensor.fromArray(f32, [n], xs));
      const y = d.tensor(f32, [n]);
      const launches = [];
      for (let i = 0; i < 50; i++) {
        launches.push(d.launch(scale, { x, y, alpha: 2 }), d.launch(scale, { x: y, y: x, alpha: -0.5 }));
      }
      await Promise.all(launches);
      const out = d.tensor(i32, [30]);
      const err = await d.launch(trap, { out, at: 15 }).then(() => 'no trap', (e) => e.message);
      await d.launch(trap, { out, at: -1 });
      const same = (await d.read(x)).toArray().every((v, i) => v === xs[i]);
      console.log(JSON.stringify({ threads: d.threads, same, err, out: (await d.read(out)).toArray() }));
    `;
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url),
      env: { ...process.env, JOB: JSON.stringify([SCALE, TRAP]) },
      timeout: 60_000,
    });
    const got = JSON.parse(stdout.trim()) as { threads: number; same: boolean; err: string; out: number[] };
    expect(got.threads).toBe(3); // three workers: the calling thread is not lent without waitAsync
    expect(got.same).toBe(true); // x * 2 * -0.5, fifty times over: x itself, exactly
    expect(chunkSize(30, 3)).toBe(2);
    expect(got.err).toMatch(
      /^launch of 'trap': the kernel trapped in blocks \[14, 16\) on worker [0-2] of 3: RuntimeError: unreachable$/,
    );
    expect(got.out).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });
});

describe('destroy', () => {
  it('ends a running launch, the workers and every later call', async () => {
    // The calling thread runs no blocks, so it is free to destroy the device mid-launch.
    const d = await createWasmDevice({ threads: 2, callerRuns: false });
    const out = d.tensor(u32, [4]);
    const started = Date.now();
    const launch = d.launch(SPIN, { out, iters: 4_000_000_000 }); // minutes, unless ended
    const queued = d.read(out);
    await new Promise((r) => setTimeout(r, 100));
    d.destroy();
    d.destroy();
    await expect(launch).rejects.toThrow(WasmDeviceLostError);
    await expect(launch).rejects.toThrow(
      'the WASM device was lost: device.destroy() was called; create a new device',
    );
    await expect(queued).rejects.toThrow(WasmDeviceLostError);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(d.lost).toBe(true);
    expect(() => d.tensor(f32, [1])).toThrow(WasmDeviceLostError);
    expect(() => out.address).toThrow(WasmDeviceLostError);
    await expect(d.read(out)).rejects.toThrow(WasmDeviceLostError);
    await expect(d.launch(SCALE, {} as never)).rejects.toThrow(WasmDeviceLostError);
    await expect(d.flush()).rejects.toThrow(WasmDeviceLostError);
    out.destroy();
  });

  it('lets a Node process exit without destroy(), after awaiting a launch at top level', async () => {
    const job = JSON.stringify(SCALE);
    const script = `
      import { createWasmDevice, Tensor, f32 } from './runtime/index.ts';
      const artifact = JSON.parse(process.env.JOB);
      const device = await createWasmDevice({ threads: 3 });
      const x = device.upload(Tensor.fromArray(f32, [300], Array.from({ length: 300 }, (_, i) => i)));
      const y = device.tensor(f32, [300]);
      await device.launch(artifact, { x, y, alpha: 2 });
      const out = (await device.read(y)).toArray();
      console.log(out[299], device.threads);
    `;
    const started = Date.now();
    const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url),
      env: { ...process.env, JOB: job },
      timeout: 30_000,
    });
    expect(stdout.trim()).toBe('598 3');
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
