// PrecompiledKernel on its own (no plugin): choosing the const variant and the WGSL feature
// variant, and the errors for what it cannot do (interpret, other devices, unknown consts, a
// format from another version).
import { describe, expect, it } from 'vitest';
import { compileWasm } from '../../dsl/backend/wasm/index.js';
import { compileWgsl } from '../../dsl/backend/wgsl/index.js';
import {
  type PrecompiledKernelData,
  PrecompiledKernelError,
  precompiled,
  type WasmArtifact,
  type WgslArtifact,
} from '../../runtime/index.js';
import { rowSum } from './fixtures/app/kernels.js';

function data(): PrecompiledKernelData {
  return {
    format: 'tilevm-precompiled',
    version: 1,
    name: 'row_sum',
    hash: '0123456789abcdef',
    origin: 'kernels.ts:35:23',
    variants: rowSum.variants().map((consts) => {
      const program = rowSum.compile(consts).program;
      return {
        consts,
        wasm: compileWasm(program),
        wgsl: [compileWgsl(program, { features: new Set(['subgroups']) }), compileWgsl(program)],
      };
    }),
  };
}

describe('PrecompiledKernel', () => {
  const k = precompiled(data());

  it('picks the variant of the requested consts, the first candidates by default', () => {
    expect(k.variants()).toEqual([
      { BM: 2, BN: 64 },
      { BM: 4, BN: 64 },
    ]);
    expect(k.variant().consts).toEqual({ BM: 2, BN: 64 });
    expect(k.variant({ BM: 4 }).consts).toEqual({ BM: 4, BN: 64 });
    expect(() => k.variant({ BM: 3 })).toThrow(/was not built for consts \{"BM":3,"BN":64\}/);
    expect(() => k.variant({ BK: 3 } as never)).toThrow(/has no const 'BK' \(its consts are: BM, BN\)/);
  });

  it("launches the WGSL variant the device's features allow", async () => {
    const launched: (WgslArtifact | WasmArtifact)[] = [];
    const gpu = (features: string[]) => ({
      backend: 'webgpu' as const,
      features: new Set(features),
      launch: async (a: WgslArtifact) => {
        launched.push(a);
      },
    });
    await k.launch(gpu(['subgroups', 'shader-f16']), {});
    await k.launch(gpu([]), {}, { consts: { BM: 4 } });
    const wasm = { backend: 'wasm' as const, launch: async (a: WasmArtifact) => void launched.push(a) };
    await k.launch(wasm, {});
    expect(launched.map((a) => [a.format, a.consts.BM, a.features])).toEqual([
      ['tilevm-wgsl', 2, k.data.variants[0].wgsl[0].features],
      ['tilevm-wgsl', 4, []],
      ['tilevm-wasm', 2, ['simd128']],
    ]);
  });

  it('says what it cannot do without the compiler', async () => {
    expect(() => k.interpret()).toThrow(
      /row_sum' \(defined at kernels.ts:35:23\) was precompiled .* no compiler for interpret\(\)/,
    );
    await expect(k.launch({ backend: 'interpreter' } as never, {})).rejects.toThrow(
      /launches on WASM and WebGPU devices only \(got a 'interpreter' device\)/,
    );
  });

  it('rejects data of another format or version', () => {
    expect(() => precompiled({ ...data(), version: 2 as never })).toThrow(
      /format version 2, this runtime reads version 1/,
    );
    expect(() => precompiled({ format: 'x' } as never)).toThrow(PrecompiledKernelError);
  });
});
