// Relaxed-SIMD variants on this engine as it is (Node 20: no relaxed SIMD without a V8 flag, which
// this file does not set; wasm-relaxed.test.ts sets it): the device detects that, runs the baseline
// module of an artifact that carries a relaxed variant, compiles JIT launches without relaxed SIMD,
// and names the missing feature for an artifact built only for relaxed SIMD. Where the engine does
// have it (Node 22+), the same checks hold through a device made with `relaxedSimd: false`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWasm } from '../../dsl/backend/wasm/index.js';
import { f32 } from '../../dsl/dtype.js';
import { Tensor } from '../../dsl/tensor.js';
import { createWasmDevice, type WasmArtifact, type WasmDevice } from '../../runtime/index.js';
import { RELAXED_SIMD_PROBE } from '../../runtime/wasm/features.js';
import { rng } from '../helpers/random.js';
import { matmul } from '../lang/kernels/matmul.js';
import { expectSame, poisoned, runBothOn, uniformF32 } from './differential.js';

const engineHasRelaxed = WebAssembly.validate(RELAXED_SIMD_PROBE as Uint8Array<ArrayBuffer>);
let plain: WasmDevice;
let device: WasmDevice;

beforeAll(async () => {
  plain = await createWasmDevice({ threads: 2 });
  // The device under test: one that cannot, or may not, run relaxed modules.
  device = engineHasRelaxed ? await createWasmDevice({ threads: 2, relaxedSimd: false }) : plain;
});

afterAll(() => {
  plain?.destroy();
  if (device !== plain) device?.destroy();
});

const program = matmul.compile({ BM: 8, BN: 32, BK: 16 }).program;

describe('a WASM device without relaxed SIMD', () => {
  it('detects the engine once, with WebAssembly.validate', () => {
    expect(plain.relaxedSimd).toBe(engineHasRelaxed);
    expect(plain.features.has('relaxed-simd')).toBe(engineHasRelaxed);
    expect(device.relaxedSimd).toBe(false);
    // Node 20 (V8 11.3) has it only behind the flag, which wasm-relaxed.test.ts sets in its own
    // process: seeing it here would mean the flag leaked across test files.
    if (process.versions.node.startsWith('20.')) expect(engineHasRelaxed).toBe(false);
  });

  it('runs the baseline module of an artifact with a relaxed variant, bit-exact', async () => {
    const artifact = compileWasm(program, { relaxedSimd: 'variant' });
    expect(artifact.relaxed?.features).toEqual(['simd128', 'relaxed-simd']);
    // The relaxed module would not even compile here; the result is the baseline's (bit-exact).
    const [M, K, N] = [40, 33, 35];
    const r = rng(411);
    const a = Tensor.fromArray(f32, [M, K], uniformF32(r, M * K, -1, 1));
    const b = Tensor.fromArray(f32, [K, N], uniformF32(r, K * N, -1, 1));
    const out = await runBothOn(device, artifact, program, { a, b, c: poisoned(f32, [M, N]) });
    expectSame(out.c.got, out.c.want);
  });

  it('compiles JIT launches without relaxed SIMD', async () => {
    const features: string[][] = [];
    const spy = {
      backend: 'wasm' as const,
      relaxedSimd: device.relaxedSimd,
      launch: (art: WasmArtifact, args: Readonly<Record<string, unknown>>) => {
        features.push([...art.features]);
        return device.launch(art, args as never);
      },
    };
    const [M, K, N] = [16, 16, 16];
    const a = device.upload(Tensor.fromArray(f32, [M, K], uniformF32(rng(1), M * K, -1, 1)));
    const b = device.upload(Tensor.fromArray(f32, [K, N], uniformF32(rng(2), K * N, -1, 1)));
    const c = device.tensor(f32, [M, N]);
    await matmul.launch(spy as never, { a, b, c });
    const want = Tensor.zeros(f32, [M, N]);
    matmul.interpret({ a: (await device.read(a)) as never, b: (await device.read(b)) as never, c: want });
    expectSame(await device.read(c), want);
    expect(features).toEqual([['simd128']]);
    for (const t of [a, b, c]) t.destroy();
  });

  it('names the missing feature for an artifact built only for relaxed SIMD', async () => {
    const relaxedOnly = compileWasm(program, { relaxedSimd: true });
    expect(relaxedOnly.features).toEqual(['simd128', 'relaxed-simd']);
    const a = device.tensor(f32, [8, 8]);
    const b = device.tensor(f32, [8, 8]);
    const c = device.tensor(f32, [8, 8]);
    await expect(device.launch(relaxedOnly, { a, b, c })).rejects.toThrow(
      "launch of 'matmul': the kernel needs WebAssembly feature(s) 'relaxed-simd', which this engine lacks",
    );
    for (const t of [a, b, c]) t.destroy();
  });
});
