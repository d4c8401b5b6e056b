// Hot helpers inlined past binaryen's default size limit (dsl/backend/wasm/index.ts
// `inlineHotHelpers`): the scalar f16 decode of a [B, 1] tile (a grouped GEMV's scales) becomes
// straight-line code in main, while cold helpers (f16 round and encode) stay calls. The decode must
// still equal the interpreter's bit for bit on every one of the 65536 f16 patterns (zeros,
// subnormals, infinities, NaNs), 1 and 2 threads, outputs poisoned.
import binaryen from 'binaryen';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWasm, fromBase64, type WasmOptions } from '../../dsl/backend/wasm/index.js';
import { f16, f32, u4 } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import { interpret } from '../../dsl/interp/interpret.js';
import type { Program } from '../../dsl/ir/program.js';
import { Tensor } from '../../dsl/tensor.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { gemvGrouped } from '../lang/kernels/gemv.js';

const devices: WasmDevice[] = [];

beforeAll(async () => {
  devices.push(await createWasmDevice({ threads: 1 }), await createWasmDevice({ threads: 2 }));
});

afterAll(() => {
  for (const d of devices) d.destroy();
});

/** The optimized module's text and its function count. */
function wat(program: Program, options: WasmOptions = {}): { text: string; functions: number } {
  const m = binaryen.readBinary(fromBase64(compileWasm(program, options).wasm));
  const text = m.emitText();
  const functions = m.getNumFunctions();
  m.dispose();
  return { text, functions };
}

/** Column 0 of an [N, 2] f16 tensor, read as [B, 1] tiles (one scalar decode per row), to f32. */
const column = kernel({
  name: 'f16_column',
  params: { x: global(f16, ['N', 'M']), y: global(f32, ['N'], 'write') },
  consts: { B: 24 },
})`
  grid(cdiv(N, B));
  threads(1);
  const t = load(x, [blockIdx.x * B, 0], [B, 1]).to(f32).reshape(B);
  store(y, [blockIdx.x * B], t);
`;

/** The same reads with two f16 stores: their round and encode helpers are cold (small, two callers). */
const columnStores = kernel({
  name: 'f16_column_stores',
  params: {
    x: global(f16, ['N', 'M']),
    y: global(f16, ['N', 'M'], 'write'),
    z: global(f16, ['N', 'M'], 'write'),
  },
  consts: { B: 16 },
})`
  grid(cdiv(N, B));
  threads(1);
  const t = load(x, [blockIdx.x * B, 0], [B, 1]).to(f32);
  store(y, [blockIdx.x * B, 0], (t * 3.0).to(f16));
  store(z, [blockIdx.x * B, 0], (t * 5.0).to(f16));
`;

describe('hot helpers inlined', () => {
  it('the u4 grouped GEMV has no calls left (its f16 scale decode is inlined)', () => {
    const program = gemvGrouped(u4, 128, 8).compile().program;
    const { text, functions } = wat(program);
    expect(functions).toBe(1);
    expect(text).not.toMatch(/\bcall\b/);
    // The comparison option keeps the call (what the benchmark in docs/wasm-backend.md measures).
    expect(wat(program, { inlineHot: false }).text).toMatch(/\bcall\b/);
  });

  it('cold helpers stay calls beside an inlined decode', () => {
    // Without the no-inline marks the raised limit would inline the f16 round and encode too.
    const { text, functions } = wat(columnStores.compile().program);
    expect(functions).toBe(3);
    expect(text).toMatch(/\(func \$\d+ \(param \$0 f32\) \(result f32\)/);
    expect(text).toMatch(/\(func \$\d+ \(param \$0 f32\) \(result i32\)/);
    expect(text).not.toMatch(/\(func \$\d+ \(param \$0 i32\) \(result f32\)/);
  });

  it('every f16 pattern decodes as the interpreter does', async () => {
    // Row i holds pattern (i * 40503) mod 65536 (a bijection: 40503 is odd), so edge tiles and
    // both threads see a mix of classes; column 1 is filler the kernel must not read.
    const N = 65536;
    const x = Tensor.zeros(f16, [N, 2]);
    for (let i = 0; i < N; i++) {
      x.setPattern(2 * i, (i * 40503) % 65536);
      x.setPattern(2 * i + 1, 0x3c00);
    }
    const program = column.compile().program;
    expect(wat(program).text).not.toMatch(/\bcall\b/);
    const want = Tensor.zeros(f32, [N]).fill(Number.NaN);
    interpret(program, { x, y: want });
    const artifact = compileWasm(program);
    for (const device of devices) {
      const dx = device.upload(x);
      const dy = device.upload(Tensor.zeros(f32, [N]).fill(Number.NaN));
      await device.launch(artifact, { x: dx, y: dy });
      const got = (await device.read(dy)).patterns();
      const exp = want.patterns();
      const bad: string[] = [];
      for (let i = 0; i < N && bad.length < 5; i++)
        if (got[i] !== exp[i]) bad.push(`[${i}] got 0x${got[i].toString(16)} want 0x${exp[i].toString(16)}`);
      expect(bad, `${device.threads} thread(s)`).toEqual([]);
      dx.destroy();
      dy.destroy();
    }
  });
});
