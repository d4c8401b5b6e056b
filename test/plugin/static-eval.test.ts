// The static evaluator follows namespace imports, re-exports under another name, imported
// computed consts, literal types, ternaries, template strings and spreads, and the precompiled
// kernels it produces equal the unbundled (JIT) ones on the WASM device.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f32, Tensor } from '../../dsl/index.js';
import { KernelTransformer } from '../../plugin/core/transform.js';
import {
  createDevice,
  type PrecompiledKernelData,
  precompiled,
  type WasmDevice,
} from '../../runtime/index.js';
import { rng } from '../helpers/random.js';
import { ROOT, RUNTIME_ENTRY } from './app-helpers.js';
import { viaNamespace, viaReexport } from './fixtures/static/forms.js';

const file = join(ROOT, 'test/plugin/fixtures/static/forms.ts');
const appKernels = join(ROOT, 'test/plugin/fixtures/app/kernels.ts');
let result: ReturnType<KernelTransformer['transform']>;
let app: ReturnType<KernelTransformer['transform']>;
let device: WasmDevice;

beforeAll(async () => {
  // One transformer (one Project) for both files, as in a build.
  const transformer = new KernelTransformer({ runtimeModule: RUNTIME_ENTRY });
  result = transformer.transform(file, readFileSync(file, 'utf8'));
  app = transformer.transform(appKernels, readFileSync(appKernels, 'utf8'));
  device = await createDevice({ backend: 'wasm', threads: 1 });
}, 120_000);

afterAll(() => device?.destroy());

describe('static evaluation', () => {
  it('precompiles every kernel with the evaluated names and const candidates', () => {
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.kernels.map((k) => [k.name, k.variants])).toEqual([
      ['ns_fast', 1],
      ['reexported', 2],
    ]);
    // Imports only the kernels used are gone (the namespace, defineKernel, WIDE); `global` and
    // `f32` stay, since BASE still calls them at run time. The runtime's loader is imported.
    expect(result.code).not.toContain('import * as tv');
    expect(result.code).toContain("import { f32, global } from './reexport.js';");
    expect(result.code).toContain(`from ${JSON.stringify(RUNTIME_ENTRY)}`);
  });

  it("replaces the file's own device functions once every kernel is precompiled", () => {
    expect(app.kernels).toHaveLength(4);
    expect(app.code).toContain('const softplus = __tilevm_precompiledFn("softplus");');
    expect(app.code).not.toMatch(/\bfn\(\{/);
    expect(app.code).not.toContain('dsl/index.js');
  });

  it('gives kernels equal to the JIT ones', async () => {
    const r = rng(77);
    const n = 150;
    const x = Tensor.fromArray(
      f32,
      [n],
      Array.from({ length: n }, () => r() * 8 - 4),
    );
    const jit = [viaNamespace, viaReexport];
    for (const [i, c] of result.compiled.entries()) {
      const pre = precompiled(c.data as PrecompiledKernelData);
      expect(pre.variants()).toEqual(jit[i].variants());
      for (const consts of pre.variants()) {
        const want = Tensor.fromArray(f32, [n], new Array(n).fill(Number.NaN));
        jit[i].interpret({ x, y: want }, { consts });
        const y = device.upload(Tensor.fromArray(f32, [n], new Array(n).fill(Number.NaN)));
        await pre.launch(device, { x: device.upload(x), y }, { consts });
        expect((await device.read(y)).toArray(), `${pre.name} ${JSON.stringify(consts)}`).toEqual(
          want.toArray(),
        );
      }
    }
  });
});
