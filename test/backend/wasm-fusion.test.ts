// Fused elementwise runs (dsl/backend/wasm/fuse.ts) against the reference interpreter and against the
// same programs compiled without fusion: every output bit-exact (fusion keeps every op's rounding),
// on 1 and 2 worker threads. Shapes leave edge tiles on every side, so both the in-place global path
// (tiles inside the tensor) and the scratch fallback (edge tiles) run; outputs start poisoned.
import { describe, expect, it } from 'vitest';
import { compileWasm } from '../../dsl/backend/wasm/index.js';
import { f4e2m1, f16, f32, i3, i7, u2, u4 } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import type { Program } from '../../dsl/ir/program.js';
import { Tensor } from '../../dsl/tensor.js';
import { gemvF32 } from '../bench/gemv-f32.js';
import { gemv } from '../lang/kernels/gemv.js';
import { type HostArgs, poisoned } from './differential.js';
import {
  expectExactRuns,
  expectValidModules,
  randomF32,
  randomPatterns,
  suiteWasmDevices,
} from './wasm-differential.js';

const devices = suiteWasmDevices();

/** The interpreter, then fused on 1 and 2 threads and unfused on 2 threads: every output bit-exact. */
async function expectExact(program: Program, args: HostArgs): Promise<void> {
  const fused = compileWasm(program);
  const plain = compileWasm(program, { fuse: false });
  expectValidModules(fused, plain);
  expect(fused.wasm).not.toBe(plain.wasm); // fusion changed the code
  await expectExactRuns(program, args, [
    ['fused, 1 thread', devices[0], fused],
    ['fused, 2 threads', devices[1], fused],
    ['unfused, 2 threads', devices[1], plain],
  ]);
}

describe('fused elementwise runs', () => {
  it('f32 GEMV (8 rows unrolled, x shared, accumulator carried through the loop), edge tiles', async () => {
    const [N, K] = [37, 301];
    const x = Tensor.fromArray(f32, [K], randomF32(K, 1));
    const w = Tensor.fromArray(f32, [N, K], randomF32(N * K, 2));
    await expectExact(gemvF32.compile().program, { x, w, y: poisoned(f32, [N]) });
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
      const w = randomPatterns(wt, [N, K], 4);
      const s = Tensor.fromArray(f16, [N, Math.ceil(K / G)], randomF32(N * Math.ceil(K / G), 5, 0.01, 0.05));
      await expectExact(gemv(wt, G, zero).compile().program, { x, w, s, y: poisoned(f32, [N]) });
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
      y: poisoned(f32, [B, M, N]),
      z: poisoned(f32, [B, M, Math.ceil(N / 12)]),
    });
  });
});
