// Float dot reading b in place (dsl/backend/wasm/dot-inplace.ts): `dot(a, load(x, ...), acc)` reads
// the b tile where it lies in its tensor when the whole tile is inside, and falls back to the copy
// for edge tiles. Results must equal the interpreter's bit for bit (same products and sums, k in
// order). Sizes leave edge tiles along M, N and K (odd K tails), b is 2-D or a slice of a 3-D tensor
// with a channel offset, a is f32 or f16 (converted), outputs are poisoned, 1 and 2 threads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inPlaceDotCount } from '../../dsl/backend/wasm/dot-inplace.js';
import { compileWasm } from '../../dsl/backend/wasm/index.js';
import { type DType, f16, f32 } from '../../dsl/dtype.js';
import { global, i32, kernel } from '../../dsl/index.js';
import { interpret } from '../../dsl/interp/interpret.js';
import type { Program } from '../../dsl/ir/program.js';
import { Tensor } from '../../dsl/tensor.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { rng } from '../helpers/random.js';

const devices: WasmDevice[] = [];

beforeAll(async () => {
  devices.push(await createWasmDevice({ threads: 1 }), await createWasmDevice({ threads: 2 }));
});

afterAll(() => {
  for (const d of devices) d.destroy();
});

function matmul2d(BM: number, BN: number, BK: number, bAccess: 'read' | 'readwrite' = 'read') {
  return kernel({
    name: 'inplace_mm',
    params: {
      a: global(f32, ['M', 'K']),
      b: global(f32, ['K', 'N'], bAccess),
      c: global(f32, ['M', 'N'], 'write'),
    },
    consts: { BM, BN, BK },
  })`
    grid(cdiv(M, BM), cdiv(N, BN));
    threads(32);
    const m0 = blockIdx.x * BM;
    const n0 = blockIdx.y * BN;
    let acc = zeros(f32, [BM, BN]);
    for (let k = 0; k < K; k += BK) {
      acc = dot(load(a, [m0, k], [BM, BK]), load(b, [k, n0], [BK, BN]), acc);
    }
    store(c, [m0, n0], acc);
  `;
}

/** PATNet's 1x1-conv GEMM shape: b is a channel slice of a batch of images. */
function conv1x1(w: DType, BM: number, BP: number, BK: number) {
  return kernel({
    name: 'inplace_conv',
    params: {
      x: global(f32, ['B', 'CX', 'P']),
      w: global(w, ['M', 'K']),
      y: global(f32, ['B', 'M', 'P'], 'write'),
      xc0: i32,
    },
    consts: { BM, BP, BK },
  })`
    grid(cdiv(P, BP), cdiv(M, BM), B);
    threads(32);
    const p0 = blockIdx.x * BP;
    const m0 = blockIdx.y * BM;
    const n = blockIdx.z;
    let acc = zeros(f32, [BM, BP]);
    for (let k = 0; k < K; k += BK) {
      acc = dot(load(w, [m0, k], [BM, BK]).to(f32), load(x, [n, xc0 + k, p0], [BK, BP]), acc);
    }
    store(y, [n, m0, p0], acc);
  `;
}

function randomTensor(d: DType, shape: number[], seed: number): Tensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromArray(
    d,
    shape,
    Array.from({ length: n }, () => r() * 2 - 1),
  );
}

/** Poison: NaN bit patterns that no computed value equals. */
function poisoned(shape: number[]): Tensor {
  const t = Tensor.zeros(f32, shape);
  for (let i = 0; i < t.size; i++) t.setPattern(i, 0x7fc00000 + (i % 1000) + 1);
  return t;
}

async function check(
  program: Program,
  inputs: Record<string, Tensor>,
  out: string,
  outShape: number[],
  scalars: Record<string, number> = {},
) {
  const want = poisoned(outShape);
  const ins = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v.clone()]));
  interpret(program, { ...ins, [out]: want, ...scalars });
  const artifact = compileWasm(program);
  for (const device of devices) {
    const up = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, device.upload(v)]));
    const dy = device.upload(poisoned(outShape));
    await device.launch(artifact, { ...up, [out]: dy, ...scalars });
    const got = (await device.read(dy)).patterns();
    const exp = want.patterns();
    const bad: string[] = [];
    for (let i = 0; i < exp.length && bad.length < 5; i++)
      if (got[i] !== exp[i]) bad.push(`[${i}] got ${got[i]} want ${exp[i]}`);
    expect(bad, `${device.threads} threads`).toEqual([]);
    for (const t of [...Object.values(up), dy]) t.destroy();
  }
}

describe('float dot with b read in place', () => {
  it.each([
    [8, 16, 7],
    [16, 8, 5],
    [5, 12, 16],
    [2, 4, 1],
  ])('2-D b, BM %i BN %i BK %i, edge tiles on every dim', async (BM, BN, BK) => {
    const [M, N, K] = [23, 37, 71];
    const program = matmul2d(BM, BN, BK).compile().program;
    expect(inPlaceDotCount(program)).toBe(1);
    const a = randomTensor(f32, [M, K], 1);
    const b = randomTensor(f32, [K, N], 2);
    await check(program, { a, b }, 'c', [M, N]);
  });

  it('whole tiles only (every block in place)', async () => {
    const [M, N, K] = [16, 32, 24];
    const program = matmul2d(8, 16, 8).compile().program;
    await check(program, { a: randomTensor(f32, [M, K], 3), b: randomTensor(f32, [K, N], 4) }, 'c', [M, N]);
  });

  it.each([
    ['f32', f32],
    ['f16', f16],
  ] as const)('slice of a 3-D tensor with a channel offset, %s weights', async (_, wd) => {
    const [B, CX, M, K, P, xc0] = [2, 45, 19, 37, 58, 5];
    const program = conv1x1(wd, 8, 20, 8).compile().program;
    expect(inPlaceDotCount(program)).toBe(1);
    const x = randomTensor(f32, [B, CX, P], 5);
    const w = randomTensor(wd, [M, K], 6);
    await check(program, { x, w }, 'y', [B, M, P], { xc0 });
  });

  it('is not taken when b is written by the kernel or its rows are not whole v128s', () => {
    expect(inPlaceDotCount(matmul2d(8, 16, 8, 'readwrite').compile().program)).toBe(0);
    expect(inPlaceDotCount(matmul2d(8, 6, 8).compile().program)).toBe(0);
  });
});
