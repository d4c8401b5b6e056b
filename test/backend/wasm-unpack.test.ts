// v128 unpacking of global loads (dsl/backend/wasm/unpack.ts) for every dtype: a fused run reads
// [4, 24] tiles of a [9, 203] tensor of random bit patterns (NaN, Inf and subnormals included for
// floats) in place, converts them to f32 and scales them. Interior tiles take the v128 path (word
// reads, per-lane shifts, the swizzle table, f16 bit tricks), edge tiles the scratch fallback; both
// must equal the interpreter bit for bit, on 1 and 2 threads. Tile width 24 is not a multiple of 8,
// so sub-byte rows start at every bit phase.
import { describe, it } from 'vitest';
import { compileWasm } from '../../dsl/backend/wasm/index.js';
import { ALL_DTYPES, type DType, f32 } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import { poisoned } from './differential.js';
import {
  expectExactRuns,
  expectValidModules,
  onBothThreadCounts,
  randomPatterns,
  suiteWasmDevices,
} from './wasm-differential.js';

const devices = suiteWasmDevices();

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
    const w = randomPatterns(d, [R, C], 40 + d.bits);
    const program = scaled(d).compile().program;
    const artifact = compileWasm(program);
    expectValidModules(artifact);
    await expectExactRuns(
      program,
      { w, y: poisoned(f32, [R, C]) },
      onBothThreadCounts(devices, artifact),
      (i) => `pattern 0x${w.getPattern(i).toString(16)}`,
    );
  });
});
