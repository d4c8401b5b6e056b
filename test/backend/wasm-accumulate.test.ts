// Loop-carried tiles in registers (dsl/backend/wasm/carry.ts): a `for` whose body is one fused run
// updating a tile elementwise runs with the loops swapped and the tile in locals. Every output must
// match the reference interpreter and the same program compiled without the swap bit for bit (the
// swap keeps every element's operations and their order), on 1 and 2 worker threads. Sizes give
// blocks whose every iteration is inside the tensors (the swapped path) and edge blocks or ragged K
// (the run-time checks fail and the plain loop runs); outputs start poisoned.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWasm, fromBase64 } from '../../dsl/backend/wasm/index.js';
import { type DType, f16, f32, i8 } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import { interpret } from '../../dsl/interp/interpret.js';
import type { Program } from '../../dsl/ir/program.js';
import { Tensor } from '../../dsl/tensor.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { randomInt, rng } from '../helpers/random.js';

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

/** Runs program on the interpreter, carried (1 and 2 threads) and plain; every output bit-exact. */
async function expectExact(program: Program, args: Args, carries = true): Promise<void> {
  const want = clone(args);
  interpret(program, want);
  const carried = compileWasm(program);
  const plain = compileWasm(program, { carry: false });
  for (const a of [carried, plain])
    expect(WebAssembly.validate(fromBase64(a.wasm) as Uint8Array<ArrayBuffer>)).toBe(true);
  // The swap applies exactly where expected (the code differs only then).
  expect(carried.wasm !== plain.wasm, 'carried code emitted').toBe(carries);
  const outs = program.params.filter((p) => p.kind === 'global' && p.access !== 'read').map((p) => p.name);
  for (const [label, device, artifact] of [
    ['carried, 1 thread', devices[0], carried],
    ['carried, 2 threads', devices[1], carried],
    ['plain, 2 threads', devices[1], plain],
  ] as const) {
    const dev = Object.fromEntries(
      Object.entries(args).map(([k, v]) => [k, typeof v === 'number' ? v : device.upload(v)]),
    );
    await device.launch(artifact, dev);
    for (const name of outs) {
      const w = (want[name] as Tensor).patterns();
      const g = (await device.read(dev[name] as never)).patterns();
      const bad: string[] = [];
      for (let i = 0; i < w.length && bad.length < 5; i++)
        if (g[i] !== w[i]) bad.push(`[${i}] got 0x${g[i].toString(16)} want 0x${w[i].toString(16)}`);
      expect(bad, `${name}, ${label}`).toEqual([]);
    }
    for (const v of Object.values(dev)) if (typeof v !== 'number') v.destroy();
  }
}

function poison(d: DType, shape: number[]): Tensor {
  return Tensor.zeros(d, shape).fill(Number.NaN);
}

function randomFloats(d: DType, shape: number[], seed: number): Tensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return Tensor.fromArray(
    d,
    shape,
    Array.from({ length: n }, () => Math.fround(-2 + 4 * r())),
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
    await expectExact(gemv(wt, BN, BK).compile().program, { x, w, y: poison(f32, [N]) });
  });

  it('i8 weights 8x4: whole-byte integer tiles are carried too', async () => {
    const [N, K] = [21, 96];
    const r = rng(3);
    const w = Tensor.zeros(i8, [N, K]);
    for (let i = 0; i < w.size; i++) w.setPattern(i, randomInt(r, 0, 255));
    await expectExact(gemv(i8, 8, 4).compile().program, {
      x: randomFloats(f32, [K], 4),
      w,
      y: poison(f32, [N]),
    });
  });

  it('a loop that runs no iteration leaves the accumulator alone', async () => {
    const [N, K] = [16, 0];
    await expectExact(gemv(f32, 8, 4).compile().program, {
      x: Tensor.zeros(f32, [K]),
      w: Tensor.zeros(f32, [N, K]),
      y: poison(f32, [N]),
    });
  });

  it('wide tiles (8x128) and non-affine offsets stay plain', async () => {
    const [N, K] = [9, 256];
    const x = randomFloats(f32, [K], 5);
    const w = randomFloats(f32, [N, K], 6);
    await expectExact(gemv(f32, 8, 128).compile().program, { x, w, y: poison(f32, [N]) }, false);
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
    await expectExact(halves.compile().program, { x, w, y: poison(f32, [N]) }, false);
  });
});
