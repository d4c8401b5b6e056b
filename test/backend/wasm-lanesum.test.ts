// Lane-wise sums fused at the end of an elementwise run (fuse-plan.ts `reductions`, fuse.ts):
// `t.reshape(..., L / 4, 4).sum(-2)` accumulates each row's 4-lane chunks in a v128 register, in the
// interpreter's order (lane j adds elements j, j + 4, ... from +0), and stores the sums once per
// row. Covered: rows unrolled (5) and not (20, an outer loop), the summed value also stored for
// later, whole-word sub-byte rows feeding the sum (gemvGrouped), rows at odd bit phases, edge tiles,
// 1 and 2 threads, outputs poisoned. Every output bit-exact against the interpreter.
import { describe, expect, it } from 'vitest';
import { compileWasm } from '../../dsl/backend/wasm/index.js';
import { type DType, f4e2m1, f16, f32, i3, i4, i7, u1, u2, u4 } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import { Tensor } from '../../dsl/tensor.js';
import { randomInt, rng } from '../helpers/random.js';
import { gemvGrouped } from '../lang/kernels/gemv.js';
import { poisoned } from './differential.js';
import { expectExactOnDevices, moduleText, suiteWasmDevices } from './wasm-differential.js';

const devices = suiteWasmDevices();

function randomF32(n: number, seed: number): number[] {
  const r = rng(seed);
  // Some exact zeros of both signs, so +0 / -0 sums are exercised.
  return Array.from({ length: n }, (_, i) =>
    i % 11 === 0 ? (i % 22 === 0 ? -0 : 0) : Math.fround(r() * 4 - 2),
  );
}

function laneSum(BR: number, BC: number, keep: boolean) {
  return kernel({
    name: `lanesum_${BR}_${BC}_${keep}`,
    params: {
      a: global(f32, ['R', 'C']),
      b: global(f32, ['C']),
      y: global(f32, ['R', 'T'], 'write'),
      z: global(f32, ['R', 'C'], 'write'),
    },
    consts: { BR, BC, KEEP: keep ? 1 : 0 },
  })`
    grid(cdiv(R, BR), cdiv(C, BC));
    threads(32);
    const r0 = blockIdx.x * BR;
    const c0 = blockIdx.y * BC;
    const p = load(a, [r0, c0], [BR, BC]) * load(b, [c0], [BC]).unsqueeze(0) - 0.5;
    store(y, [r0, blockIdx.y * 4], p.reshape(BR, BC / 4, 4).sum(1));
    if (KEEP == 1) { store(z, [r0, c0], p); }
  `;
}

describe('lane-wise sums at the end of fused runs', () => {
  it.each([
    [5, 36, false],
    [20, 36, false],
    [5, 36, true],
    [3, 4, false],
  ] as const)('rows %i, width %i, value also stored: %s', async (BR, BC, keep) => {
    const [R, C] = [23, 36 * 3 + 20];
    const program = laneSum(BR, BC, keep).compile().program;
    if (!keep) {
      // The sum stays in v128 registers: no scalar add anywhere.
      const text = moduleText(compileWasm(program));
      expect(text).toMatch(/f32x4\.add/);
      expect(text).not.toMatch(/f32\.add/);
    }
    const a = Tensor.fromArray(f32, [R, C], randomF32(R * C, BR + BC));
    const b = Tensor.fromArray(f32, [C], randomF32(C, 7));
    await expectExactOnDevices(devices, program, {
      a,
      b,
      y: poisoned(f32, [R, Math.ceil(C / BC) * 4]),
      z: poisoned(f32, [R, C]),
    });
  });

  it.each([
    ['u4', u4, 8, 392],
    ['u4, odd K (rows at bit phase 4)', u4, 8, 391],
    ['i4', i4, 0, 392],
    ['u2', u2, 1, 392],
    ['i3', i3, 0, 392],
    ['u1', u1, 0, 392],
    ['i7', i7, 0, 392],
    ['f4e2m1', f4e2m1, 0, 392],
  ] as const)('gemvGrouped, %s weights, edge tiles', async (_, wt: DType, zero, K) => {
    const [N, G] = [21, 32];
    const r = rng(K + wt.bits);
    const x = Tensor.fromArray(f32, [K], randomF32(K, 3));
    const s = Tensor.fromArray(
      f16,
      [N, Math.ceil(K / G)],
      Array.from({ length: N * Math.ceil(K / G) }, () => 0.01 + 0.04 * r()),
    );
    const w = Tensor.zeros(wt, [N, K]);
    for (let i = 0; i < w.size; i++) w.setPattern(i, randomInt(r, 0, 2 ** wt.bits - 1));
    await expectExactOnDevices(devices, gemvGrouped(wt, G, zero).compile().program, {
      x,
      w,
      s,
      y: poisoned(f32, [N]),
    });
  });
});
