// The tilevm CLI: compile prints a kernel's VM program, WGSL and WASM text; check reports kernel
// errors as file:line:col with exit status 1; build writes a .tvk bundle that the runtime loads and
// runs (equal to the interpreter) and that rejects truncated, corrupted and wrong-version copies.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { f32, i32, Tensor } from '../../dsl/index.js';
import type { CliIo } from '../../plugin/cli/io.js';
import { runCli } from '../../plugin/cli/main.js';
import { createDevice, KernelBundleError, loadKernelBundle, type WasmDevice } from '../../runtime/index.js';
import { randomInt, rng } from '../helpers/random.js';
import { outDir, ROOT } from './app-helpers.js';
import { rowSum, vectorAdd } from './fixtures/app/kernels.js';

const fixture = (name: string) => join(ROOT, 'test/plugin/fixtures', name);

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => (out += t), err: (t) => (err += t), tty: false };
  const code = await runCli(argv, io);
  return { code, out, err };
}

describe('tilevm compile', () => {
  it('prints the VM program, the WGSL and the WASM text of a kernel variant', async () => {
    const file = fixture('app/kernels.ts');
    const vm = await cli('compile', file, '--target', 'vm', '--kernel', 'row_sum', '--consts', 'BM=4');
    expect(vm.code, vm.err).toBe(0);
    expect(vm.out).toContain('row_sum');
    expect(vm.out).toMatch(/\b4\b/);
    const wgsl = await cli('compile', file, '--target', 'wgsl', '--kernel', 'vector_add');
    expect(wgsl.code, wgsl.err).toBe(0);
    expect(wgsl.out).toContain('@compute');
    const wasm = await cli('compile', file, '--target', 'wasm', '--kernel', 'dequant_u4');
    expect(wasm.code, wasm.err).toBe(0);
    expect(wasm.out).toContain('(module');
    expect(wasm.out).toContain('(export "main"');
  });

  it('names the kernels there are when the name is wrong', async () => {
    const r = await cli('compile', fixture('app/kernels.ts'), '--target', 'vm', '--kernel', 'nope');
    expect(r.code).toBe(1);
    expect(r.err).toContain("no kernel 'nope'");
    expect(r.err).toContain('vector_add (line');
  });
});

describe('tilevm check', () => {
  it('reports kernel errors as file:line:col and exits 1', async () => {
    const r = await cli('check', '--project', fixture('errors/tsconfig.json'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bad-kernel\.ts:12:19 TV2005 error/);
    expect(r.err).toMatch(/bad-fn\.ts:7:\d+ TV2001 error/);
    expect(r.err).toContain('2 kernels in 2 files: 2 errors');
  });

  it('passes a clean project', async () => {
    const r = await cli('check', '--project', fixture('app/tsconfig.json'));
    expect(r.err).toContain('4 kernels in 1 file: 0 errors, 0 warnings');
    expect(r.code).toBe(0);
  });
});

describe('tilevm build and the bundle loader', () => {
  let bundle: Uint8Array;
  let device: WasmDevice;
  let progress = '';

  beforeAll(async () => {
    const out = join(outDir('cli'), 'kernels.tvk');
    const r = await cli('build', fixture('app/main.ts'), '--out', out);
    expect(r.code, r.err).toBe(0);
    progress = r.err;
    bundle = new Uint8Array(readFileSync(out));
    device = await createDevice({ backend: 'wasm', threads: 2 });
  }, 240_000);

  afterAll(() => device?.destroy());

  it('shows progress and holds every kernel and variant', async () => {
    expect(progress).toContain('] 4/4 ');
    expect(progress).toContain('4 kernels, 5 variants');
    const loaded = await loadKernelBundle(bundle);
    expect([...loaded.kernels.keys()].sort()).toEqual(['dequant_u4', 'row_sum', 'scale_act', 'vector_add']);
    expect(loaded.kernel('row_sum').variants()).toEqual(rowSum.variants());
    expect(() => loaded.kernel('missing')).toThrow(/has no kernel 'missing'; it has: /);
  });

  it('runs its kernels with the interpreter results', async () => {
    const loaded = await loadKernelBundle(bundle);
    const r = rng(41);
    const n = 333;
    const a = Tensor.fromArray(
      f32,
      [n],
      Array.from({ length: n }, () => r() * 10 - 5),
    );
    const b = Tensor.fromArray(
      f32,
      [n],
      Array.from({ length: n }, () => r() * 10 - 5),
    );
    const want = Tensor.fromArray(f32, [n], new Array(n).fill(Number.NaN));
    vectorAdd.interpret({ a, b, c: want });
    const c = device.upload(Tensor.fromArray(f32, [n], new Array(n).fill(Number.NaN)));
    await loaded.kernel('vector_add').launch(device, { a: device.upload(a), b: device.upload(b), c });
    expect((await device.read(c)).toArray()).toEqual(want.toArray());

    const x = Tensor.fromArray(
      i32,
      [9, 40],
      Array.from({ length: 360 }, () => randomInt(r, -500, 500)),
    );
    const ref = Tensor.fromArray(i32, [9], new Array(9).fill(-7777));
    rowSum.interpret({ x, y: ref }, { consts: { BM: 4 } });
    const y = device.upload(Tensor.fromArray(i32, [9], new Array(9).fill(-7777)));
    await loaded.kernel('row_sum').launch(device, { x: device.upload(x), y }, { consts: { BM: 4 } });
    expect((await device.read(y)).toArray()).toEqual(ref.toArray());
  });

  it('rejects truncated, corrupted, wrong-version and foreign files, saying which', async () => {
    const problem = async (bytes: Uint8Array) =>
      loadKernelBundle(bytes).then(
        () => 'loaded',
        (e: unknown) => (e instanceof KernelBundleError ? `${e.problem}: ${e.message}` : String(e)),
      );
    expect(await problem(bundle.slice(0, bundle.length - 100))).toMatch(/^truncated: .*is truncated/);
    expect(await problem(bundle.slice(0, 10))).toMatch(/^truncated:/);
    const flipped = bundle.slice();
    flipped[bundle.length - 50] ^= 0x40;
    expect(await problem(flipped)).toMatch(/^corrupted: .*integrity hash/);
    const future = bundle.slice();
    new DataView(future.buffer).setUint32(4, 2, true);
    expect(await problem(future)).toMatch(/^version: .*wrong version: format version 2/);
    const foreign = bundle.slice();
    foreign[0] = 0x7f;
    expect(await problem(foreign)).toMatch(/^format: /);
    expect(await problem(bundle)).toBe('loaded');
  });
});

describe('tilevm', () => {
  it('hands `tilevm patnet ...` to the PATNet CLI', async () => {
    const r = await cli('patnet', 'help');
    expect(r.code).toBe(0);
    expect(r.out).toContain('tilevm patnet');
  });

  it('prints usage for unknown commands and options', async () => {
    const r = await cli('frobnicate');
    expect(r.code).toBe(2);
    expect(r.err).toContain("unknown command 'frobnicate'");
    const bad = await cli('build', 'x.ts', '--out', 'y.tvk', '--nope', '1');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('unknown option --nope');
  });
});
