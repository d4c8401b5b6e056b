// v128 unpacking of global loads (dsl/backend/wasm/unpack.ts) for every dtype: a fused run reads
// [4, 24] tiles of a [9, 203] tensor of random bit patterns (NaN, Inf and subnormals included for
// floats) in place, converts them to f32 and scales them. Interior tiles take the v128 path (word
// reads, per-lane shifts, the swizzle table, f16 bit tricks), edge tiles the scratch fallback; both
// must equal the interpreter bit for bit, on 1 and 2 threads. Tile width 24 is not a multiple of 8,
// so sub-byte rows start at every bit phase.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWasm, fromBase64 } from '../../dsl/backend/wasm/index.js';
import { ALL_DTYPES, type DType, f32 } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import { interpret } from '../../dsl/interp/interpret.js';
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

function scaled(d: DType) {
  return kernel({
    name: `unpack_${d.name}`,
    params: { w: global(d, ['R', 'C']), y: global(f32, ['R', 'C'], 'write') },
    consts: { BR: 4, BC: 24 },
  })`
    grid(cdiv(R, BR), cdiv(C, BC));
    threads(32);
    const r0 = blockIdx.x * BR;
    const c0 = blockIdx.y * BC;
    store(y, [r0, c0], load(w, [r0, c0], [BR, BC]).to(f32) * 2.0);
  `;
}

describe('v128 unpacking of global loads, every dtype', () => {
  it.each(ALL_DTYPES.map((d) => [d.name, d] as const))('%s', async (_, d) => {
    const [R, C] = [9, 203];
    const r = rng(40 + d.bits);
    const w = Tensor.zeros(d, [R, C]);
    for (let i = 0; i < w.size; i++)
      w.setPattern(i, d.bits === 32 ? randomU32(r) : randomInt(r, 0, 2 ** d.bits - 1));
    const program = scaled(d).compile().program;
    const want = Tensor.zeros(f32, [R, C]).fill(Number.NaN);
    interpret(program, { w: w.clone(), y: want });
    const artifact = compileWasm(program);
    expect(WebAssembly.validate(fromBase64(artifact.wasm) as Uint8Array<ArrayBuffer>)).toBe(true);
    for (const device of devices) {
      const dw = device.upload(w);
      const dy = device.upload(Tensor.zeros(f32, [R, C]).fill(Number.NaN));
      await device.launch(artifact, { w: dw, y: dy });
      const got = (await device.read(dy)).patterns();
      const exp = want.patterns();
      const bad: string[] = [];
      for (let i = 0; i < exp.length && bad.length < 5; i++)
        if (got[i] !== exp[i])
          bad.push(
            `[${i}] pattern 0x${w.patterns()[i].toString(16)}: got 0x${got[i].toString(16)} want 0x${exp[i].toString(16)}`,
          );
      expect(bad, `${device.threads ?? ''} threads`).toEqual([]);
      dw.destroy();
      dy.destroy();
    }
  });
});
