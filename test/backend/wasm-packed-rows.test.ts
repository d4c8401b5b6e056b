// Loads and stores of sub-byte rows that start on a 32-bit word (dsl/backend/wasm/memory.ts,
// unpackedRow and packedRow): such a row is read word by word, and its words hold its elements
// only, so they are packed in registers and written with plain i32 stores; other rows go element by
// element (stores by compare-and-swap). Each block loads a [2, 64] tile at column blockIdx.x % 4 of
// rows of 67 (so some rows start on a word and some do not), stores it as it is, and stores its
// negation (wrapping for ints, logical for bool; a value at a non-zero scratch offset) three ways:
// into rows of 64, which all start on words; at column 3 of rows of 70, on a word only for some
// widths and rows; and reshaped to [8, 16] into rows of 16, whole words at 2, 4 and 6 bits (16
// elements make 3 words of 6 bits). The last block's second row lies outside every tensor.
// Neighbouring blocks write neighbouring words (2 threads). Outputs start as random patterns and
// must equal the interpreter's bit for bit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWasm } from '../../dsl/backend/wasm/index.js';
import type { DType } from '../../dsl/dtype.js';
import * as dt from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import { interpret } from '../../dsl/interp/interpret.js';
import { Tensor } from '../../dsl/tensor.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { randomInt, rng } from '../helpers/random.js';

const BLOCKS = 9;
const devices: WasmDevice[] = [];

beforeAll(async () => {
  devices.push(await createWasmDevice({ threads: 1 }), await createWasmDevice({ threads: 2 }));
});

afterAll(() => {
  for (const d of devices) d.destroy();
});

function stores(d: DType) {
  const params = {
    x: global(d, ['R', 67]),
    c: global(d, ['R', 64], 'write'),
    y: global(d, ['R', 64], 'write'),
    z: global(d, ['R', 70], 'write'),
    v: global(d, ['V', 16], 'write'),
  };
  // bool tiles are negated with `!`, the rest with `-`.
  if (d.kind === 'bool') {
    return kernel({ name: 'packed_store_bool', params })`
      grid(cdiv(R, 2));
      threads(32);
      const t = load(x, [2 * blockIdx.x, blockIdx.x % 4], [2, 64]);
      store(c, [2 * blockIdx.x, 0], t);
      const u = !t;
      store(y, [2 * blockIdx.x, 0], u);
      store(z, [2 * blockIdx.x, 3], u);
      store(v, [8 * blockIdx.x, 0], u.reshape(8, 16));
    `;
  }
  return kernel({ name: `packed_store_${d.name}`, params })`
    grid(cdiv(R, 2));
    threads(32);
    const t = load(x, [2 * blockIdx.x, blockIdx.x % 4], [2, 64]);
    store(c, [2 * blockIdx.x, 0], t);
    const u = -t;
    store(y, [2 * blockIdx.x, 0], u);
    store(z, [2 * blockIdx.x, 3], u);
    store(v, [8 * blockIdx.x, 0], u.reshape(8, 16));
  `;
}

function random(d: DType, shape: number[], seed: number): Tensor {
  const r = rng(seed);
  const t = Tensor.zeros(d, shape);
  for (let i = 0; i < t.size; i++) t.setPattern(i, randomInt(r, 0, 2 ** d.bits - 1));
  return t;
}

const WIDTHS: DType[] = [
  dt.bool,
  dt.u1,
  dt.i2,
  dt.u3,
  dt.i4,
  dt.u4,
  dt.i5,
  dt.u6,
  dt.i7,
  dt.f4e2m1,
  dt.f6e3m2,
];

describe('sub-byte rows loaded and stored as whole words', () => {
  it.each(WIDTHS.map((d) => [d.name, d] as const))('%s', async (_, d) => {
    // 2 * BLOCKS - 1 rows: the last block's second row lies outside every tensor.
    const R = 2 * BLOCKS - 1;
    const program = stores(d).compile().program;
    const x = random(d, [R, 67], 90 + d.bits);
    const c0 = random(d, [R, 64], 89 + d.bits);
    const y0 = random(d, [R, 64], 91 + d.bits);
    const z0 = random(d, [R, 70], 92 + d.bits);
    const v0 = random(d, [4 * R, 16], 93 + d.bits);
    const want = { x: x.clone(), c: c0.clone(), y: y0.clone(), z: z0.clone(), v: v0.clone() };
    interpret(program, want);
    const artifact = compileWasm(program);
    for (const device of devices) {
      const args = {
        x: device.upload(x),
        c: device.upload(c0),
        y: device.upload(y0),
        z: device.upload(z0),
        v: device.upload(v0),
      };
      await device.launch(artifact, args);
      for (const name of ['c', 'y', 'z', 'v'] as const) {
        const got = (await device.read(args[name])).patterns();
        const exp = want[name].patterns();
        const bad: string[] = [];
        for (let i = 0; i < exp.length && bad.length < 5; i++)
          if (got[i] !== exp[i]) bad.push(`[${i}] got ${got[i]} want ${exp[i]}`);
        expect(bad, `${d.name} ${name}, ${device.threads} thread(s)`).toEqual([]);
      }
      for (const t of Object.values(args)) t.destroy();
    }
  });
});
