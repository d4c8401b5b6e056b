// Unfused global loads of whole tiles (dsl/backend/wasm/memory.ts, wholeTileLoad): a tile inside its
// tensor on every dim is copied row by row through byte pointers with no per-row checks; any other
// tile takes the per-row path. Blocks load [2, 3, 6] and [3, 6] tiles (rows of one v128 chunk and a
// 2-element tail) of a [4, 5, 13] tensor of random bit patterns at offsets that put some tiles
// inside and others across every edge (reading 0 there), and store them as they are: outputs must
// equal the interpreter's bit for bit, on 1 and 2 threads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWasm, fromBase64 } from '../../dsl/backend/wasm/index.js';
import { bf16, type DType, f32, i8, i32, u16 } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import { interpret } from '../../dsl/interp/interpret.js';
import type { Program } from '../../dsl/ir/program.js';
import { Tensor } from '../../dsl/tensor.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { randomInt, randomU32, rng } from '../helpers/random.js';

const devices: WasmDevice[] = [];

beforeAll(async () => {
  devices.push(await createWasmDevice({ threads: 1 }), await createWasmDevice({ threads: 2 }));
});

afterAll(() => {
  for (const d of devices) d.destroy();
});

/** Block b loads tiles at (b % 4 - 1, b % 5 - 1, b % 11 - 2) and stores them at its output rows. */
function tiles(d: DType) {
  return kernel({
    name: `tiles_${d.name}`,
    params: {
      x: global(d, ['A', 'B', 'C']),
      y: global(d, ['Y', 3, 6], 'write'),
      z: global(d, ['Z', 6], 'write'),
    },
  })`
    grid(Z / 3);
    threads(32);
    const b = blockIdx.x;
    const t = load(x, [(b % 4) - 1, (b % 5) - 1, (b % 11) - 2], [2, 3, 6]);
    store(y, [2 * b, 0, 0], t);
    const u = load(x, [(b % 4) - 1, (b % 5) - 1, (b % 11) - 2], [3, 6]);
    store(z, [3 * b, 0], u);
  `;
}

async function expectExact(program: Program, x: Tensor, G: number): Promise<void> {
  const d = x.dtype;
  const poisoned = (shape: number[]) => {
    const t = Tensor.zeros(d, shape);
    for (let i = 0; i < t.size; i++) t.setPattern(i, 0x5a);
    return t;
  };
  const want = { x: x.clone(), y: poisoned([2 * G, 3, 6]), z: poisoned([3 * G, 6]) };
  interpret(program, want);
  const artifact = compileWasm(program);
  expect(WebAssembly.validate(fromBase64(artifact.wasm) as Uint8Array<ArrayBuffer>)).toBe(true);
  for (const device of devices) {
    const args = {
      x: device.upload(x),
      y: device.upload(poisoned([2 * G, 3, 6])),
      z: device.upload(poisoned([3 * G, 6])),
    };
    await device.launch(artifact, args);
    for (const name of ['y', 'z'] as const) {
      const got = (await device.read(args[name])).patterns();
      const exp = want[name].patterns();
      const bad: string[] = [];
      for (let i = 0; i < exp.length && bad.length < 5; i++)
        if (got[i] !== exp[i]) bad.push(`[${i}] got 0x${got[i].toString(16)} want 0x${exp[i].toString(16)}`);
      expect(bad, `${d.name} ${name}, ${device.threads} thread(s)`).toEqual([]);
    }
    for (const t of Object.values(args)) t.destroy();
  }
}

describe('whole tiles loaded without per-row checks', () => {
  it.each([f32, i32, i8, u16, bf16].map((d) => [d.name, d] as const))('%s', async (_, d) => {
    const [A, B, C, G] = [4, 5, 13, 60];
    const r = rng(70 + d.bits);
    const x = Tensor.zeros(d, [A, B, C]);
    for (let i = 0; i < x.size; i++)
      x.setPattern(i, d.bits === 32 ? randomU32(r) : randomInt(r, 0, 2 ** d.bits - 1));
    await expectExact(tiles(d).compile().program, x, G);
  });
});
