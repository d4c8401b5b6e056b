// Fused elementwise runs (dsl/backend/wasm/fuse.ts) against the reference interpreter and against the
// same programs compiled without fusion: every output bit-exact (fusion keeps every op's rounding),
// on 1 and 2 worker threads. Shapes leave edge tiles on every side, so both the in-place global path
// (tiles inside the tensor) and the scratch fallback (edge tiles) run; outputs start poisoned.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWasm, fromBase64 } from '../../dsl/backend/wasm/index.js';
import { type DType, f4e2m1, f16, f32, i3, i7, u2, u4 } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import { interpret } from '../../dsl/interp/interpret.js';
import type { Program } from '../../dsl/ir/program.js';
import { Tensor } from '../../dsl/tensor.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { gemvF32 } from '../bench/gemv-f32.js';
import { randomInt, rng } from '../helpers/random.js';
import { gemv } from '../lang/kernels/gemv.js';

const devices: WasmDevice[] = [];

beforeAll(async () => {
  devices.push(await createWasmDevice({ threads: 1 }), await createWasmDevice({ threads: 2 }));
});

afterAll(() => {
  for (const d of devices) d.destroy();
});

type Args = Record<string, Tensor | number>;

function clone(args: Args): Args {
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, typeof v === 'number' ? v : v.clone()]));
}

/** Every written tensor: the interpreter's, then fused on 1 and 2 threads and unfused on 2 threads. */
async function runAll(
  program: Program,
  args: Args,
): Promise<{ name: string; want: Tensor; got: [string, Tensor][] }[]> {
  const want = clone(args);
  interpret(program, want);
  const outs = program.params.filter((p) => p.kind === 'global' && p.access !== 'read').map((p) => p.name);
  const results = outs.map((name) => ({ name, want: want[name] as Tensor, got: [] as [string, Tensor][] }));
  const fused = compileWasm(program);
  const plain = compileWasm(program, { fuse: false });
  for (const a of [fused, plain])
    expect(WebAssembly.validate(fromBase64(a.wasm) as Uint8Array<ArrayBuffer>)).toBe(true);
  expect(fused.wasm).not.toBe(plain.wasm); // fusion changed the code
  for (const [label, device, artifact] of [
    ['fused, 1 thread', devices[0], fused],
    ['fused, 2 threads', devices[1], fused],
    ['unfused, 2 threads', devices[1], plain],
  ] as const) {
    const dev = Object.fromEntries(
      Object.entries(args).map(([k, v]) => [k, typeof v === 'number' ? v : device.upload(v)]),
    );
    await device.launch(artifact, dev);
    for (const r of results) r.got.push([label, await device.read(dev[r.name] as never)]);
    for (const v of Object.values(dev)) if (typeof v !== 'number') v.destroy();
  }
  return results;
}

async function expectExact(program: Program, args: Args): Promise<void> {
  for (const r of await runAll(program, args)) {
    const w = r.want.patterns();
    for (const [label, got] of r.got) {
      const g = got.patterns();
      const bad: string[] = [];
      for (let i = 0; i < w.length && bad.length < 5; i++)
        if (g[i] !== w[i]) bad.push(`[${i}] got 0x${g[i].toString(16)} want 0x${w[i].toString(16)}`);
      expect(bad, `${r.name}, ${label}`).toEqual([]);
    }
  }
}

function poison(d: DType, shape: number[]): Tensor {
  return Tensor.zeros(d, shape).fill(Number.NaN);
}

function randomF32(n: number, seed: number, lo = -2, hi = 2): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * r()));
}

function randomBits(d: DType, shape: number[], seed: number): Tensor {
  const r = rng(seed);
  const t = Tensor.zeros(d, shape);
  for (let i = 0; i < t.size; i++) t.setPattern(i, randomInt(r, 0, 2 ** d.bits - 1));
  return t;
}

describe('fused elementwise runs', () => {
  it('f32 GEMV (8 rows unrolled, x shared, accumulator carried through the loop), edge tiles', async () => {
    const [N, K] = [37, 301];
    const x = Tensor.fromArray(f32, [K], randomF32(K, 1));
    const w = Tensor.fromArray(f32, [N, K], randomF32(N * K, 2));
    await expectExact(gemvF32.compile().program, { x, w, y: poison(f32, [N]) });
  });

  it.each([
    ['u4', u4, 8],
    ['i3', i3, 0],
    ['u2', u2, 1],
    ['i7', i7, 0],
    ['f4e2m1', f4e2m1, 0],
  ] as const)(
    'quantized GEMV, %s weights: dequantization fused with the scale and x',
    async (_, wt, zero) => {
      const [N, K, G] = [21, 333, 32];
      const x = Tensor.fromArray(f32, [K], randomF32(K, 3));
      const w = randomBits(wt, [N, K], 4);
      const s = Tensor.fromArray(f16, [N, Math.ceil(K / G)], randomF32(N * Math.ceil(K / G), 5, 0.01, 0.05));
      await expectExact(gemv(wt, G, zero).compile().program, { x, w, s, y: poison(f32, [N]) });
    },
  );

  it('a 3-d chain over 20 rows (not unrolled): broadcasts, where, max, integer casts, f16 math, a value stored for later', async () => {
    const k = kernel({
      name: 'chain3d',
      params: {
        a: global(f32, ['B', 'M', 'N']),
        c: global(f32, ['M']),
        h: global(f16, ['N']),
        y: global(f32, ['B', 'M', 'N'], 'write'),
        z: global(f32, ['B', 'M', 'cdiv(N, 12)'], 'write'),
      },
      consts: { BB: 2, BM: 20, BN: 12 },
    })`
      grid(cdiv(B, BB), cdiv(M, BM), cdiv(N, BN));
      threads(64);
      const b0 = blockIdx.x * BB;
      const m0 = blockIdx.y * BM;
      const n0 = blockIdx.z * BN;
      const t = load(a, [b0, m0, n0], [BB, BM, BN]);
      const col = load(c, [m0], [BM]).unsqueeze(1);
      const hv = load(h, [n0], [BN]);
      const q = (t * 7.0).to(i8).to(f32);
      const u = where(t > col, q, max(t, 0.25) - col) + (hv * hv).to(f32);
      store(y, [b0, m0, n0], u);
      store(z, [b0, m0, blockIdx.z], u.sum(2, { keepdim: true }));
    `;
    const [B, M, N] = [5, 45, 29];
    const a = Tensor.fromArray(f32, [B, M, N], randomF32(B * M * N, 6, -20, 20));
    const c = Tensor.fromArray(f32, [M], randomF32(M, 7));
    const h = Tensor.fromArray(f16, [N], randomF32(N, 8, -300, 300));
    await expectExact(k.compile().program, {
      a,
      c,
      h,
      y: poison(f32, [B, M, N]),
      z: poison(f32, [B, M, Math.ceil(N / 12)]),
    });
  });
});
