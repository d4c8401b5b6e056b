// Register-blocked dot (dsl/backend/wgsl/dot-blocked.ts) and the micro-tile layouts inference gives
// dot results (layout-inference.ts, microTileLayout): tiled matmuls with edge tiles in M, N and K
// (loads read 0 past the edges, stores drop lanes) over f32, f16 and bf16 operands, a bf16 accumulator
// (rounded after every product and sum), wrapping i32 and u8 x u8 into u16 without packed dots, the
// accumulator in given layouts (interleaved, column-major threads, replicated) and converted from
// another layout, row-vector dots, and shapes that fall back to one element per thread. All against
// the interpreter, bit for bit: every element still sums its products in increasing k.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inferLayouts } from '../../dsl/backend/wgsl/layout-inference.js';
import { bf16, type DType, f16, f32, i32, u8, u16 } from '../../dsl/dtype.js';
import { ProgramBuilder } from '../../dsl/ir/builder.js';
import type { Program } from '../../dsl/ir/program.js';
import { binary } from '../../dsl/ir/scalar.js';
import { columnSpatial, type Layout, local } from '../../dsl/layout.js';
import { createDevice, type WebGpuDevice } from '../../runtime/webgpu/device.js';
import { expectSame, poisoned, randomTensor, runBoth } from './wgsl-features-common.js';

let device: WebGpuDevice;

beforeAll(async () => {
  device = await createDevice();
}, 120_000);

afterAll(() => {
  device?.destroy();
});

interface MatmulSpec {
  readonly d: DType;
  readonly acc: DType;
  readonly tiles: readonly [number, number, number]; // BM, BK, BN
  readonly threads: number;
  /** The accumulator's given layout (loaded from `c0` with it); default: zeros, inferred. */
  readonly cLayout?: Layout;
  /** A layout given to a tile added to the result first, so the dot's result takes it and c converts. */
  readonly resultLayout?: Layout;
}

/** y = a @ b + c0 (or + 0) over BM x BK x BN tiles, the K loop accumulating in `acc`. */
function matmul(s: MatmulSpec): Program {
  const [BM, BK, BN] = s.tiles;
  const b = new ProgramBuilder(`mm_${s.d.name}_${s.acc.name}`);
  b.global('a', s.d, ['M', 'K']);
  b.global('b', s.d, ['K', 'N']);
  b.global('c0', s.acc, ['M', 'N']);
  b.global('y', s.acc, ['M', 'N'], 'write');
  b.threads(s.threads);
  b.grid(binary('cdiv', b.sym('M'), BM), binary('cdiv', b.sym('N'), BN));
  const i0 = b.let('i0', binary('mul', b.blockIdx.x, BM));
  const j0 = b.let('j0', binary('mul', b.blockIdx.y, BN));
  const bias = s.resultLayout
    ? b.load('c0', [i0, j0], [BM, BN], { layout: s.resultLayout, name: 'e' })
    : undefined;
  const c = s.cLayout
    ? b.load('c0', [i0, j0], [BM, BN], { layout: s.cLayout })
    : b.zeros(s.acc, [BM, BN], 'acc');
  b.for('k', 0, b.sym('K'), BK, (k) => {
    const at = b.load('a', [i0, k], [BM, BK]);
    const bt = b.load('b', [k, j0], [BK, BN]);
    b.assign(c, b.dot(at, bt, c));
  });
  b.store('y', [i0, j0], bias ? b.add(c, bias) : c);
  return b.build();
}

async function check(s: MatmulSpec, [M, K, N]: readonly [number, number, number], blocked: boolean) {
  const program = matmul(s);
  const args = {
    a: randomTensor(s.d, [M, K], 3 + s.d.bits),
    b: randomTensor(s.d, [K, N], 4 + s.d.bits),
    c0: randomTensor(s.acc, [M, N], 5),
    y: poisoned(s.acc, [M, N]),
  };
  // No WGSL language features: integer dots take the scalar path, not dot4.
  const r = await runBoth(device, program, args, { features: device.features });
  expect(r.artifact.wgsl.includes('let bi = '), 'register-blocked dot').toBe(blocked);
  expectSame(r.out.y.gpu, r.out.y.ref, program.name);
  return r.artifact;
}

const EDGES = [37, 29, 45] as const; // M, K, N: edge tiles in every dim for the tiles below

describe('WGSL register-blocked dot', () => {
  it('inference gives dot results a micro-tile layout (4 x 4 per thread for 32 x 64 over 128)', () => {
    const program = matmul({ d: f32, acc: f32, tiles: [32, 16, 64], threads: 128 });
    const layouts = [...inferLayouts(program).entries()].filter(([v]) => v.name.startsWith('dot'));
    expect(layouts.length).toBeGreaterThan(0);
    for (const [, p] of layouts) {
      expect(p.kind).toBe('layout');
      if (p.kind === 'layout') expect(p.layout.toString()).toBe('spatial(8, 16).local(4, 4)');
    }
  });

  for (const [d, acc] of [
    [f32, f32],
    [f16, f32],
    [bf16, bf16],
    [i32, i32],
    [u8, u16],
  ] as const) {
    it(`${d.name} x ${d.name} into ${acc.name}, edge tiles`, async () => {
      await check({ d, acc, tiles: [16, 8, 32], threads: 64 }, EDGES, true);
    });
  }

  it('f32 accumulator in given layouts: interleaved, column-major threads, replicated', async () => {
    for (const cLayout of [
      local(2, 4).spatial(8, 8),
      columnSpatial(8, 8).local(2, 4),
      local(4, 8).spatial(4, 4).replicate(4),
    ]) {
      await check({ d: f32, acc: f32, tiles: [16, 8, 32], threads: 64, cLayout }, EDGES, true);
    }
  });

  it('f32 accumulator converted: the result class has another given layout', async () => {
    const wgsl = (
      await check(
        {
          d: f32,
          acc: f32,
          tiles: [16, 8, 32],
          threads: 64,
          cLayout: columnSpatial(8, 8).local(2, 4),
          resultLayout: local(2, 4).spatial(8, 8),
        },
        EDGES,
        true,
      )
    ).wgsl;
    expect(wgsl).toMatch(/layout conversions through workgroup memory: [1-9]/);
  });

  it('row vector [1, K] x [K, 64] over 16 threads (4 columns each), K = 29', async () => {
    await check({ d: f32, acc: f32, tiles: [1, 8, 64], threads: 16 }, [3, 29, 100], true);
  });

  it('falls back to one element per thread where no layout blocks: 7 x 5 over 32, 1 x 32 over 32', async () => {
    await check({ d: f32, acc: f32, tiles: [7, 6, 5], threads: 32 }, [9, 13, 11], false);
    await check({ d: f32, acc: f32, tiles: [1, 8, 32], threads: 32 }, [2, 13, 40], false);
  });
});
