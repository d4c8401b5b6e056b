// Differential test of the WASM backend: random VM programs (test/helpers/random-programs.ts)
// compiled with compileWasm and run on the WASM device (4 worker threads) must compute what the
// reference interpreter computes from the same inputs (the check: test/backend/differential.ts).
//
// Tolerance (docs/wasm-backend.md): integer and bool outputs bit-exact; float outputs equal (either
// sign of zero) or within the generator's per-output bound `tol`, which is nonzero only for outputs
// that depend on exp, tanh, sqrt or float div. The backend computes sqrt and div correctly rounded
// (so those match exactly) and exp and tanh to within 1 ulp of the format, well inside the
// generator's allowance of several ulp. Everything else (sums and dots in the interpreter's order,
// casts, rounding to narrow formats) must match bit for bit: no slack at all.
import { afterAll, beforeAll, expect } from 'vitest';
import { compileWasm, fromBase64 } from '../../dsl/backend/wasm/index.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { describeRandomPrograms, launchAndRead } from './differential.js';

let device: WasmDevice;

beforeAll(async () => {
  device = await createWasmDevice({ threads: 4 });
});

afterAll(() => {
  device?.destroy();
});

describeRandomPrograms({
  name: 'WASM',
  seeds: 120,
  slack: 0,
  run: async (program, args, outputs) => {
    let artifact: ReturnType<typeof compileWasm>;
    try {
      artifact = compileWasm(program);
    } catch (e) {
      throw new Error(`compileWasm failed: ${(e as Error).stack}`);
    }
    expect(WebAssembly.validate(fromBase64(artifact.wasm) as Uint8Array<ArrayBuffer>)).toBe(true);
    return launchAndRead(device, artifact, args, outputs);
  },
});
