// Loop-carried tiles in registers (dsl/backend/wasm/carry.ts): a `for` whose body is one fused run
// updating a tile elementwise runs with the loops swapped and the tile in locals. Every output must
// match the reference interpreter and the same program compiled without the swap bit for bit (the
// swap keeps every element's operations and their order), on 1 and 2 worker threads. Sizes give
// blocks whose every iteration is inside the tensors (the swapped path) and edge blocks or ragged K
// (the run-time checks fail and the plain loop runs); outputs start poisoned.
import { describe, expect, it } from 'vitest';
import { compileWasm } from '../../dsl/backend/wasm/index.js';
import { bf16, type DType, f8e4m3, f16, f32, i8, i16, i32, u8 } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import type { Program } from '../../dsl/ir/program.js';
import { Tensor } from '../../dsl/tensor.js';
import { type HostArgs, poisoned } from './differential.js';
import {
  expectExactRuns,
  expectValidModules,
  moduleText,
  randomF32,
  randomPatterns,
  suiteWasmDevices,
} from './wasm-differential.js';

const devices = suiteWasmDevices();

/** Runs program on the interpreter, carried (1 and 2 threads) and plain; every output bit-exact. */
async function expectExact(program: Program, args: HostArgs, carries = true): Promise<void> {
  const carried = compileWasm(program);
  const plain = compileWasm(program, { carry: false });
  expectValidModules(carried, plain);
  // The swap applies exactly where expected (the code differs only then).
  expect(carried.wasm !== plain.wasm, 'carried code emitted').toBe(carries);
  await expectExactRuns(program, args, [
    ['carried, 1 thread', devices[0], carried],
    ['carried, 2 threads', devices[1], carried],
    ['plain, 2 threads', devices[1], plain],
  ]);
}

/** gemv(wt, BN, BK) on x and w (N = w's rows), checked by expectExact. */
async function expectGemvExact(wt: DType, BN: number, BK: number, x: Tensor, w: Tensor, carries = true) {
  const y = poisoned(f32, [w.shape[0]]);
  await expectExact(gemv(wt, BN, BK).compile().program, { x, w, y }, carries);
}

/** The text of the carried K loop: the innermost wasm loop that multiplies f32 vectors, storing none. */
function carriedLoopText(artifact: { wasm: string }): string {
  const text = moduleText(artifact);
  const loops: string[] = [];
  for (let at = text.indexOf('(loop '); at >= 0; at = text.indexOf('(loop ', at + 1)) {
    let depth = 0;
    let end = at;
    for (; end < text.length; end++) {
      if (text[end] === '(') depth++;
      else if (text[end] === ')' && --depth === 0) break;
    }
    loops.push(text.slice(at, end + 1));
  }
  // The plain loop stores the accumulator every iteration; the carried one only after the loop.
  const inner = loops.filter(
    (l) => l.includes('f32x4.mul') && !l.includes('v128.store') && l.indexOf('(loop ', 1) < 0,
  );
  expect(inner.length, 'one carried loop').toBe(1);
  return inner[0];
}

function randomFloats(d: DType, shape: number[], seed: number): Tensor {
  return Tensor.fromArray(
    d,
    shape,
    randomF32(
      shape.reduce((a, b) => a * b, 1),
      seed,
    ),
  );
}

/** GEMV with a [BN, BK] accumulator carried through the K loop; weights of dtype wt. */
function gemv(wt: DType, BN: number, BK: number) {
  return kernel({
    name: `gemv_${wt.name}_${BN}x${BK}`,
    params: { x: global(f32, ['K']), w: global(wt, ['N', 'K']), y: global(f32, ['N'], 'write') },
    consts: { BN, BK },
  })`
    grid(cdiv(N, BN));
    threads(64);
    const n0 = blockIdx.x * BN;
    let acc = zeros(f32, [BN, BK]);
    for (let k = 0; k < K; k += BK) {
      acc += load(w, [n0, k], [BN, BK]).to(f32) * load(x, [k], [BK]).unsqueeze(0);
    }
    store(y, [n0], acc.sum(1));
  `;
}

describe('loop-carried accumulators in registers', () => {
  it.each([
    ['f32 8x4, K a multiple of BK (interior blocks swapped, edge block plain)', f32, 8, 4, 37, 300],
    ['f32 8x4, ragged K (every block plain)', f32, 8, 4, 37, 301],
    ['f32 4x8', f32, 4, 8, 23, 264],
    ['f16 weights 8x4', f16, 8, 4, 19, 128],
  ] as const)('%s', async (_, wt, BN, BK, N, K) => {
    const x = randomFloats(f32, [K], 1);
    const w = randomFloats(wt, [N, K], 2);
    await expectGemvExact(wt, BN, BK, x, w);
  });

  it('i8 weights 8x4: whole-byte integer tiles are carried too', async () => {
    const [N, K] = [21, 96];
    await expectGemvExact(i8, 8, 4, randomFloats(f32, [K], 4), randomPatterns(i8, [N, K], 3));
  });

  it('a loop that runs no iteration leaves the accumulator alone', async () => {
    const [N, K] = [16, 0];
    await expectGemvExact(f32, 8, 4, Tensor.zeros(f32, [K]), Tensor.zeros(f32, [N, K]));
  });

  // carry-loop.ts: byte pointers bumped once per iteration, loads with constant offsets, the loop
  // ended by a pointer comparison when steps are compile-time constants (a counter otherwise).
  it.each([
    ['1 iteration', 8, 4],
    ['2 iterations', 8, 8],
    ['5 iterations', 16, 20],
    ['7 iterations, edge block', 21, 28],
  ] as const)('f32 8x4, %s', async (_, N, K) => {
    const x = randomFloats(f32, [K], 11);
    const w = randomFloats(f32, [N, K], 12);
    await expectGemvExact(f32, 8, 4, x, w);
  });

  it('the carried loop computes no addresses per load', () => {
    for (const [BN, BK] of [
      [8, 4],
      [4, 8],
    ]) {
      const body = carriedLoopText(compileWasm(gemv(f32, BN, BK).compile().program));
      const loads = body.match(/v128\.load/g) ?? [];
      expect(loads.length, `${BN}x${BK}: a load per row and chunk, and x's chunks`).toBe(((BN + 1) * BK) / 4);
      // Pointer bumps only: no shift, multiply or counter.
      expect(body, `${BN}x${BK}`).not.toMatch(/i32\.(shl|mul|sub)/);
    }
  });

  it.each([
    ['bf16', bf16, 8, 4],
    ['u8', u8, 4, 8],
    ['i16', i16, 8, 4],
    ['f16 (decoded at pointer + offset)', f16, 2, 8],
  ] as const)('%s weights: every whole-byte dtype through pointers', async (_, wt, BN, BK) => {
    const [N, K] = [19, 8 * 13];
    // Random patterns: NaN, Inf and subnormals included where the dtype has them.
    await expectGemvExact(wt, BN, BK, randomFloats(f32, [K], 14), randomPatterns(wt, [N, K], 13));
  });

  it('steps not known at compile time, negative and doubled steps', async () => {
    const [N, K] = [19, 96];
    const x = randomFloats(f32, [K], 15);
    const w = randomFloats(f32, [N, K], 16);
    const params = { x: global(f32, ['K']), w: global(f32, ['N', 'K']), y: global(f32, ['N'], 'write') };
    const runtimeStep = kernel({
      name: 'runtime_step',
      params: { ...params, S: i32 },
      consts: { BN: 8, BK: 4 },
    })`
      grid(cdiv(N, BN));
      threads(64);
      const n0 = blockIdx.x * BN;
      let acc = zeros(f32, [BN, BK]);
      for (let k = 0; k < K; k += S) {
        acc += load(w, [n0, k], [BN, BK]) * load(x, [k], [BK]).unsqueeze(0);
      }
      store(y, [n0], acc.sum(1));
    `;
    const backwards = kernel({ name: 'backwards', params, consts: { BN: 8, BK: 4 } })`
      grid(cdiv(N, BN));
      threads(64);
      const n0 = blockIdx.x * BN;
      let acc = zeros(f32, [BN, BK]);
      for (let k = 0; k < K; k += BK) {
        acc += load(w, [n0, K - BK - k], [BN, BK]) * load(x, [K - BK - k], [BK]).unsqueeze(0);
      }
      store(y, [n0], acc.sum(1));
    `;
    const doubled = kernel({ name: 'doubled', params, consts: { BN: 8, BK: 4 } })`
      grid(cdiv(N, BN));
      threads(64);
      const n0 = blockIdx.x * BN;
      let acc = zeros(f32, [BN, BK]);
      for (let k = 0; k < K / 2; k += BK) {
        acc += load(w, [n0, 2 * k], [BN, BK]) * load(x, [2 * k], [BK]).unsqueeze(0);
      }
      store(y, [n0], acc.sum(1));
    `;
    await expectExact(runtimeStep.compile().program, { x, w, y: poisoned(f32, [N]), S: 4 });
    await expectExact(backwards.compile().program, { x, w, y: poisoned(f32, [N]) });
    await expectExact(doubled.compile().program, { x, w, y: poisoned(f32, [N]) });
  });

  it('f8e4m3 weights: pointers with unpack.ts decoding', async () => {
    const [N, K] = [21, 64];
    await expectGemvExact(f8e4m3, 8, 4, randomFloats(f32, [K], 18), randomPatterns(f8e4m3, [N, K], 17));
  });

  it('a register tile read every iteration, two chunks per row', async () => {
    const [N, K] = [10, 48];
    const withBias = kernel({
      name: 'with_bias',
      params: {
        x: global(f32, ['K']),
        w: global(f32, ['N', 'K']),
        bias: global(f32, ['N', 'B']),
        y: global(f32, ['N'], 'write'),
      },
      consts: { BN: 4, BK: 8 },
    })`
      grid(cdiv(N, BN));
      threads(64);
      const n0 = blockIdx.x * BN;
      const b = load(bias, [n0, 0], [BN, BK]);
      let acc = zeros(f32, [BN, BK]);
      for (let k = 0; k < K; k += BK) {
        acc += load(w, [n0, k], [BN, BK]) * load(x, [k], [BK]).unsqueeze(0) + b;
      }
      store(y, [n0], acc.sum(1));
    `;
    await expectExact(withBias.compile().program, {
      x: randomFloats(f32, [K], 19),
      w: randomFloats(f32, [N, K], 20),
      bias: randomFloats(f32, [N, 8], 21),
      y: poisoned(f32, [N]),
    });
  });

  it('wide tiles (8x128) and non-affine offsets stay plain', async () => {
    const [N, K] = [9, 256];
    const x = randomFloats(f32, [K], 5);
    const w = randomFloats(f32, [N, K], 6);
    await expectGemvExact(f32, 8, 128, x, w, false);
    const halves = kernel({
      name: 'halves',
      params: { x: global(f32, ['K']), w: global(f32, ['N', 'K']), y: global(f32, ['N'], 'write') },
      consts: { BN: 8, BK: 4 },
    })`
      grid(cdiv(N, BN));
      threads(64);
      const n0 = blockIdx.x * BN;
      let acc = zeros(f32, [BN, BK]);
      for (let k = 0; k < K; k += BK) {
        acc += load(w, [n0, (k / 8) * 4], [BN, BK]) * load(x, [k], [BK]).unsqueeze(0);
      }
      store(y, [n0], acc.sum(1));
    `;
    await expectExact(halves.compile().program, { x, w, y: poisoned(f32, [N]) }, false);
  });
});
