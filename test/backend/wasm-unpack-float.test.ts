// v128 decoding of narrow floats (dsl/backend/wasm/unpack-float.ts, and the swizzle tables of
// unpack.ts for the small ones): every code of every float format of up to 8 bits, in every row
// of a tensor whose rows start at different bit phases, loaded as [4, 24] tiles (edge tiles
// included) and stored as f32 unchanged, so NaN, Inf, -0 and subnormal results are compared bit
// for bit with the interpreter, on 1 and 2 threads.
import { describe, expect, it } from 'vitest';
import { canUnpack } from '../../dsl/backend/wasm/unpack.js';
import { ALL_DTYPES, type DType, f32 } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import { Tensor } from '../../dsl/tensor.js';
import { expectExactOnDevices, suiteWasmDevices } from './wasm-differential.js';

const devices = suiteWasmDevices();

function copy(d: DType) {
  return kernel({
    name: `decode_${d.name}`,
    params: { w: global(d, ['R', 'C']), y: global(f32, ['R', 'C'], 'write') },
    consts: { BR: 4, BC: 24 },
  })`
    grid(cdiv(R, BR), cdiv(C, BC));
    threads(32);
    const r0 = blockIdx.x * BR;
    const c0 = blockIdx.y * BC;
    store(y, [r0, c0], load(w, [r0, c0], [BR, BC]).to(f32));
  `;
}

const NARROW_FLOATS = ALL_DTYPES.filter((d) => d.kind === 'float' && d.bits <= 8);

describe('v128 decoding of narrow floats, every code', () => {
  it('every float format of up to 8 bits has a v128 form', () => {
    expect(NARROW_FLOATS.length).toBe(28);
    expect(NARROW_FLOATS.filter((d) => !canUnpack(d)).map((d) => d.name)).toEqual([]);
  });

  it.each(NARROW_FLOATS.map((d) => [d.name, d] as const))('%s', async (_, d) => {
    const codes = 2 ** d.bits;
    // Each row holds every code (rotated per row); C * bits is odd, so rows start at many bit phases.
    const [R, C] = [7, codes + 19];
    const w = Tensor.zeros(d, [R, C]);
    for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) w.setPattern(r * C + c, (c + 37 * r) % codes);
    const program = copy(d).compile().program;
    // Poisoned with 1.5 rather than NaN, which is a result here.
    const y = Tensor.zeros(f32, [R, C]).fill(1.5);
    await expectExactOnDevices(devices, program, { w, y }, (i) => `code 0x${w.getPattern(i).toString(16)}`);
  });
});
