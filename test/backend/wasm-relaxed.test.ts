// Relaxed-SIMD variants (dsl/backend/wasm/relaxed.ts) on a Node with relaxed SIMD turned on (the
// first import sets V8's flag before anything compiles WebAssembly): the kernel corpus through
// artifacts carrying a relaxed variant against the interpreter (integers exact; f32 accumulations
// within the fused-vs-unfused bound of docs/wasm-backend.md), the relaxed integer dot bit-exact,
// which module a device picks, JIT launches, and .tvk bundles carrying the variant.
import '../helpers/relaxed-simd.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { relaxedSubbyte, subbyteRowBlock } from '../../dsl/backend/wasm/dot-subbyte.js';
import { compileWasm, fromBase64 } from '../../dsl/backend/wasm/index.js';
import { type DType, f32, i4, i8, i16, i32, u3, u4, u7, u8, u16 } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import type { Program } from '../../dsl/ir/program.js';
import { Tensor } from '../../dsl/tensor.js';
import { encodeKernelBundle, KernelBundleError, loadKernelBundle } from '../../runtime/bundle.js';
import {
  createWasmDevice,
  type PrecompiledKernelData,
  type WasmArtifact,
  type WasmDevice,
} from '../../runtime/index.js';
import { RELAXED_SIMD_PROBE } from '../../runtime/wasm/features.js';
import { rng } from '../helpers/random.js';
import { matmul } from '../lang/kernels/matmul.js';
import {
  type BothOutputs,
  describeCorpus,
  expectClose,
  expectSame,
  type HostArgs,
  poisoned,
  randomTensor,
  runBothOn,
  uniformF32,
} from './differential.js';
import { subbyteMatmul } from './dot-kernels.js';
import { hasOpcode } from './wasm-differential.js';
import { accumulateTolerance, intMatmul, RELAXED_DOT, RELAXED_MADD, U } from './wasm-relaxed-common.js';

let device: WasmDevice;
let baseline: WasmDevice;
/** Kernels whose artifact carried a relaxed variant. */
const withVariant = new Set<string>();

beforeAll(async () => {
  device = await createWasmDevice({ threads: 2 });
  baseline = await createWasmDevice({ threads: 2, relaxedSimd: false });
});

afterAll(() => {
  device?.destroy();
  baseline?.destroy();
});

function variantArtifact(program: Program): WasmArtifact {
  const artifact = compileWasm(program, { relaxedSimd: 'variant' });
  expect(WebAssembly.validate(fromBase64(artifact.wasm) as Uint8Array<ArrayBuffer>)).toBe(true);
  if (artifact.relaxed) {
    withVariant.add(program.name);
    expect(artifact.relaxed.features).toEqual(['simd128', 'relaxed-simd']);
    expect(WebAssembly.validate(fromBase64(artifact.relaxed.wasm) as Uint8Array<ArrayBuffer>)).toBe(true);
  }
  return artifact;
}

function runBoth(program: Program, args: HostArgs): Promise<BothOutputs> {
  return runBothOn(device, variantArtifact(program), program, args);
}

describe('relaxed SIMD in this worker', () => {
  it('is on after v8.setFlagsFromString, and the device uses it unless told not to', () => {
    expect(WebAssembly.validate(RELAXED_SIMD_PROBE as Uint8Array<ArrayBuffer>)).toBe(true);
    expect(device.features.has('relaxed-simd')).toBe(true);
    expect(device.relaxedSimd).toBe(true);
    expect(baseline.relaxedSimd).toBe(false);
  });

  it('rejects a relaxedSimd option that is not a boolean', async () => {
    await expect(createWasmDevice({ relaxedSimd: 'yes' as never })).rejects.toThrow(
      'createWasmDevice: relaxedSimd must be a boolean, got yes',
    );
  });
});

// Softmax's exp is the only approximated op, as in wasm.test.ts: (N + 6) u relative.
describeCorpus({
  device: 'the WASM device running relaxed-SIMD variants',
  runBoth,
  tolerance: {
    softmax: (N) => (want) => (N + 6) * U * Math.abs(want),
    accumulate: accumulateTolerance,
  },
});

describe('relaxed variants of the corpus', () => {
  it('exist for the dot kernels (f32x4.relaxed_madd in their register blocks)', () => {
    expect([...withVariant].filter((n) => /matmul|conv/.test(n)).length).toBeGreaterThanOrEqual(2);
    const a = compileWasm(matmul.compile({ BM: 16, BN: 16, BK: 8 }).program, { relaxedSimd: 'variant' });
    expect(hasOpcode(fromBase64(a.relaxed!.wasm), RELAXED_MADD)).toBe(true);
    expect(hasOpcode(fromBase64(a.wasm), RELAXED_MADD)).toBe(false);
    expect(a.features).toEqual(['simd128']);
  });

  it('f32 matmul on the baseline device stays bit-exact; on the relaxed one within the bound', async () => {
    const [M, K, N] = [40, 33, 35];
    const r = rng(410);
    const a = Tensor.fromArray(f32, [M, K], uniformF32(r, M * K, -1, 1));
    const b = Tensor.fromArray(f32, [K, N], uniformF32(r, K * N, -1, 1));
    const program = matmul.compile({ BM: 8, BN: 32, BK: 16 }).program;
    const artifact = variantArtifact(program);
    const base = await runBothOn(baseline, artifact, program, { a, b, c: poisoned(f32, [M, N]) });
    expectSame(base.c.got, base.c.want);
    const relaxed = await runBothOn(device, artifact, program, { a, b, c: poisoned(f32, [M, N]) });
    expectClose(relaxed.c.got, relaxed.c.want, accumulateTolerance(K, 1, 0));
  });
});

describe('integer dot on i16x8.relaxed_dot_i8x16_i7x16_s (bit-exact)', () => {
  // [a, b, both cast to, accumulator, relaxed expected]: one operand must be provably in 0..127
  // (casts keep the source's range), the other in -128..127.
  const cases: [DType, DType, DType, DType, boolean][] = [
    [i8, u4, i8, i32, true],
    [i8, u4, i8, i16, true],
    [u7, i8, i8, i32, true], // the 0..127 operand is a
    [i8, u7, i8, i16, true], // one product pair per i16 lane before widening
    [u3, i4, i4, u16, true],
    [u4, u4, u4, i32, true],
    [i8, i8, i8, i32, false], // neither operand is in 0..127: the baseline dot
    [u8, i8, i16, i32, false], // u8 reaches 255
  ];
  it.each(cases.map((c) => [c[0].name, c[1].name, c[2].name, c[3].name, ...c] as const))(
    '%s x %s as %s into %s',
    async (_a, _b, _o, _c, da, db, op, acc, relaxed) => {
      const [M, K, N] = [11, 437, 13]; // K: 3 tiles, the last ragged; 16-wide chunks with a tail
      const k = intMatmul(da, db, acc, op);
      const program = k.compile().program;
      const artifact = compileWasm(program, { relaxedSimd: true });
      expect(hasOpcode(fromBase64(artifact.wasm), RELAXED_DOT)).toBe(relaxed);
      expect(artifact.features.includes('relaxed-simd')).toBe(relaxed);
      const both = compileWasm(program, { relaxedSimd: 'variant' });
      expect(hasOpcode(fromBase64(both.wasm), RELAXED_DOT)).toBe(false);
      expect(both.relaxed !== undefined && hasOpcode(fromBase64(both.relaxed.wasm), RELAXED_DOT)).toBe(
        relaxed,
      );
      const args = {
        a: randomTensor(da, [M, K], 1000 + da.bits),
        b: randomTensor(db, [K, N], 2000 + db.bits),
        c: poisoned(acc, [M, N]),
      };
      const out = await runBothOn(device, artifact, program, args);
      expectSame(out.c.got, out.c.want);
    },
  );
});

/** dot-kernels.ts's sub-byte matmul into i32, w's rows read in place by dot-subbyte.ts. */
function subbyteMatmulI32(a: DType, w: DType, t: DType, BM: number, BN: number, BK: number) {
  return subbyteMatmul(a, w, t, i32, BM, BN, BK, `rsubbyte_${a.name}_${w.name}_as_${t.name}`);
}

describe('sub-byte dot with relaxed SIMD: nibbles in place on i16x8.relaxed_dot_i8x16_i7x16_s (bit-exact)', () => {
  let single: WasmDevice;
  beforeAll(async () => {
    single = await createWasmDevice({ threads: 1 });
  });
  afterAll(() => single?.destroy());

  it('is on by default; relaxedNibbleDot: false (or relaxedSubbyte.enabled = false) keeps it out', () => {
    expect(relaxedSubbyte.enabled).toBe(true);
    const program = subbyteMatmulI32(i8, u4, i8, 1, 8, 64).compile().program;
    const relaxedDot = (options: Parameters<typeof compileWasm>[1]) =>
      hasOpcode(fromBase64(compileWasm(program, { relaxedSimd: true, ...options }).wasm), RELAXED_DOT);
    expect(relaxedDot({})).toBe(true);
    expect(relaxedDot({ relaxedNibbleDot: false })).toBe(false);
    relaxedSubbyte.enabled = false;
    try {
      expect(relaxedDot({})).toBe(false);
      expect(relaxedDot({ relaxedNibbleDot: true })).toBe(true);
    } finally {
      relaxedSubbyte.enabled = true;
    }
    // 'variant': the baseline module never has it, the attached relaxed one does.
    const v = variantArtifact(program);
    expect(hasOpcode(fromBase64(v.wasm), RELAXED_DOT)).toBe(false);
    expect(v.relaxed !== undefined && hasOpcode(fromBase64(v.relaxed.wasm), RELAXED_DOT)).toBe(true);
    const off = compileWasm(program, { relaxedSimd: 'variant', relaxedNibbleDot: false });
    expect(off.relaxed).toBeUndefined();
  });

  // [what, a, w, cast, M, N, K, BM, BN, BK, relaxed expected, extreme values]
  const cases: [
    string,
    DType,
    DType,
    DType,
    number,
    number,
    number,
    number,
    number,
    number,
    boolean,
    boolean,
  ][] = [
    ['u4, 1 row, K tail 8', i8, u4, i8, 1, 21, 136, 1, 8, 48, true, false],
    ['i4, 2 rows', i8, i4, i8, 2, 19, 168, 2, 8, 64, true, false],
    ['u4, 5 rows (4 + 1 blocks), K % 32 = 8', i8, u4, i8, 5, 21, 104, 8, 16, 104, true, false],
    ['i4, odd K (rows start mid-byte)', i8, i4, i8, 1, 13, 203, 1, 8, 128, true, false],
    ['u4 x u4 (36-chunk i16 sums), long K', u4, u4, u4, 2, 9, 2400, 2, 8, 2400, true, false],
    ['u4, long K, extreme values (i16 sums at their bound)', i8, u4, i8, 1, 5, 4160, 1, 4, 4160, true, true],
    ['i4, long K, extreme values', i8, i4, i8, 3, 6, 4160, 4, 4, 4160, true, true],
    ['u8 (not 7-bit): the baseline in-place dot', i16, u8, i16, 2, 11, 88, 2, 4, 48, false, false],
  ];
  it.each(cases)('%s', async (_, da, dw, t, M, N, K, BM, BN, BK, relaxed, extreme) => {
    const program = subbyteMatmulI32(da, dw, t, BM, BN, BK).compile().program;
    const artifact: WasmArtifact = variantArtifact(program);
    expect(hasOpcode(fromBase64(artifact.wasm), RELAXED_DOT)).toBe(false);
    expect(artifact.relaxed !== undefined && hasOpcode(fromBase64(artifact.relaxed.wasm), RELAXED_DOT)).toBe(
      relaxed,
    );
    const a = randomTensor(da, [M, K], 3000 + K);
    const w = randomTensor(dw, [N, K], 4000 + K);
    if (extreme) {
      // Every product at its largest magnitude (a = -128, biased nibble 15), a few smaller.
      for (let i = 0; i < a.size; i++) a.set(i, i % 97 === 5 ? 100 : -128);
      for (let i = 0; i < w.size; i++) w.set(i, i % 89 === 7 ? 3 : dw === i4 ? 7 : 15);
    }
    const args = { a, w, c: randomTensor(i32, [M, N], 5000 + K), y: poisoned(i32, [M, N]) };
    for (const d of [single, device, baseline]) {
      const out = await runBothOn(d, artifact, program, args);
      expectSame(out.y.got, out.y.want, `${d.threads} threads, relaxed ${d.relaxedSimd}`);
    }
  });
});

/** A GEMV of the LLM's integer path's shape: y = x · wᵀ accumulated as `acc += dot(x, wT)` from zeros. */
function zeroCGemv(w: DType, BN: number, BK: number) {
  return kernel({
    name: `rgemv_zeroc_${w.name}_n${BN}_k${BK}`,
    params: { a: global(i8, ['M', 'K']), w: global(w, ['N', 'K']), y: global(i32, ['M', 'N'], 'write') },
    consts: { BN, BK },
  })`
    grid(cdiv(N, BN), M);
    threads(32);
    const n0 = blockIdx.x * BN;
    let acc = zeros(i32, [1, BN]);
    for (let k = 0; k < K; k += BK) {
      acc += dot(load(a, [blockIdx.y, k], [1, BK]), load(w, [n0, k], [BN, BK]).to(i8).transpose());
    }
    store(y, [blockIdx.y, n0], acc);
  `;
}

describe('sub-byte dot with relaxed SIMD, one row of a: 8 weight rows per block (bit-exact)', () => {
  // subbyteRowBlock.relaxedNibble (8) rows per block, and 4 (the shape before), each against the
  // interpreter on the relaxed device and (the baseline module, 4 rows) on the baseline one.
  // [what, w, N, K, BN, BK, zero c, extreme values]
  const cases: [string, DType, number, number, number, number, boolean, boolean][] = [
    // The LLM's shape: whole-tile fast path (K whole chunks); the last tile's rows 128..149 of 192
    // fail the whole-tile check, so each block checks itself (full blocks of 8, then past N).
    ['u4, acc += dot, 64-row tiles, K in steps of 128, edge tile', u4, 150, 512, 64, 128, true, false],
    // 13-row tiles: blocks of 8, 4 and 1 rows; a K tail of 8 (chunks, then elements).
    ['i4, acc += dot, 13-row tiles (8 + 4 + 1), K tail', i4, 29, 200, 13, 104, true, false],
    ['u4, acc += dot, 7-row tiles (4 + 3 single rows)', u4, 19, 96, 7, 96, true, false],
    ['u4, c loaded, 24-row tiles (3 blocks of 8), edge tile', u4, 40, 256, 24, 128, false, false],
    // Every i16 lane of 8 rows at the bound of its 4-chunk sum.
    ['u4, 16-row tiles, long K, extreme values', u4, 16, 4160, 16, 4160, true, true],
  ];
  it.each(cases)('%s', async (_, dw, N, K, BN, BK, zeroC, extreme) => {
    const program = (zeroC ? zeroCGemv(dw, BN, BK) : subbyteMatmulI32(i8, dw, i8, 1, BN, BK)).compile()
      .program;
    const a = randomTensor(i8, [1, K], 6000 + K);
    const w = randomTensor(dw, [N, K], 7000 + K);
    if (extreme) {
      for (let i = 0; i < a.size; i++) a.set(i, i % 97 === 5 ? 100 : -128);
      for (let i = 0; i < w.size; i++) w.set(i, i % 89 === 7 ? 3 : dw === i4 ? 7 : 15);
    }
    const args: HostArgs = zeroC
      ? { a, w, y: poisoned(i32, [1, N]) }
      : { a, w, c: randomTensor(i32, [1, N], 8000 + K), y: poisoned(i32, [1, N]) };
    const rows = subbyteRowBlock.relaxedNibble;
    expect(rows).toBe(8);
    const modules = new Set<string>();
    try {
      for (const r of [rows, 4]) {
        subbyteRowBlock.relaxedNibble = r;
        const artifact = variantArtifact(program);
        modules.add(artifact.relaxed?.wasm ?? '');
        expect(
          artifact.relaxed !== undefined && hasOpcode(fromBase64(artifact.relaxed.wasm), RELAXED_DOT),
        ).toBe(true);
        for (const d of [device, baseline]) {
          const out = await runBothOn(d, artifact, program, args);
          expectSame(out.y.got, out.y.want, `${r} rows per block, relaxed ${d.relaxedSimd}`);
        }
      }
    } finally {
      subbyteRowBlock.relaxedNibble = rows;
    }
    // Tiles of fewer than 8 rows have no 8-row block: the same module either way.
    expect(modules.size, 'the row block changes the relaxed module').toBe(BN >= 8 ? 2 : 1);
  });
});

/** `scale` computing y = x * factor: two modules with the same signature, told apart by their output. */
function scale(factor: number) {
  return kernel({
    name: 'relaxed_pick',
    params: { x: global(f32, ['N']), y: global(f32, ['N'], 'write') },
    consts: { BN: 16 },
  })`
    grid(cdiv(N, BN));
    threads(16);
    store(y, [blockIdx.x * BN], load(x, [blockIdx.x * BN], [BN]) * ${factor});
  `;
}

/** A baseline artifact (x2) whose `relaxed` variant computes x3. */
function twoModules(): WasmArtifact {
  const base = compileWasm(scale(2).compile().program);
  const other = compileWasm(scale(3).compile().program);
  return { ...base, relaxed: { ...other, features: ['simd128', 'relaxed-simd'], hash: `${other.hash}r` } };
}

async function runScale(d: WasmDevice, artifact: WasmArtifact): Promise<number> {
  const x = d.upload(Tensor.fromArray(f32, [20], new Array(20).fill(1)));
  const y = d.tensor(f32, [20]);
  try {
    await d.launch(artifact, { x, y });
    return (await d.read(y)).toArray()[19];
  } finally {
    x.destroy();
    y.destroy();
  }
}

describe('which module a WASM device runs', () => {
  it('the relaxed variant where the engine has it, the baseline when forced', async () => {
    const artifact = twoModules();
    expect(await runScale(device, artifact)).toBe(3);
    expect(await runScale(baseline, artifact)).toBe(2);
  });

  it('rejects a malformed relaxed variant with the place and the fix', async () => {
    const base = compileWasm(scale(2).compile().program);
    const wrongParams = { ...twoModules(), relaxed: { ...twoModules().relaxed!, params: [] } };
    await expect(runScale(device, wrongParams)).rejects.toThrow(
      "artifact of kernel 'relaxed_pick': its relaxed-SIMD variant differs from the baseline module in 'params'; rebuild it with this tilevm",
    );
    const unmarked = { ...base, relaxed: { ...base, hash: 'other' } };
    await expect(runScale(baseline, unmarked)).rejects.toThrow("does not list 'relaxed-simd'");
  });

  it('checks a variant once per artifact, and again when the variant is replaced', async () => {
    const artifact = twoModules() as { -readonly [K in keyof WasmArtifact]: WasmArtifact[K] };
    expect(await runScale(device, artifact)).toBe(3);
    expect(await runScale(device, artifact)).toBe(3);
    artifact.relaxed = { ...artifact.relaxed!, grid: ['1'] };
    await expect(runScale(device, artifact)).rejects.toThrow("differs from the baseline module in 'grid'");
    await expect(runScale(baseline, artifact)).rejects.toThrow("differs from the baseline module in 'grid'");
  });

  it('JIT launches compile relaxed modules only for a device that runs them', async () => {
    const k = matmul;
    const launched: string[][] = [];
    const spy = (d: WasmDevice) => ({
      backend: 'wasm' as const,
      relaxedSimd: d.relaxedSimd,
      launch: (a: WasmArtifact, args: Readonly<Record<string, unknown>>) => {
        launched.push([...a.features]);
        return d.launch(a, args as never);
      },
    });
    const [M, K, N] = [20, 24, 20];
    for (const d of [device, baseline]) {
      const a = d.upload(randomTensor(f32, [M, K], 7) as Tensor<typeof f32>);
      const b = d.upload(randomTensor(f32, [K, N], 8) as Tensor<typeof f32>);
      const c = d.tensor(f32, [M, N]);
      await k.launch(spy(d) as never, { a, b, c });
      const want = Tensor.zeros(f32, [M, N]);
      k.interpret({ a: (await d.read(a)) as never, b: (await d.read(b)) as never, c: want });
      // Inputs in [-4, 4]: terms of at most 16.
      expectClose(await d.read(c), want, accumulateTolerance(K, 16, 0));
      for (const t of [a, b, c]) t.destroy();
    }
    expect(launched).toEqual([['simd128', 'relaxed-simd'], ['simd128']]);
  });
});

describe('.tvk bundles with relaxed variants', () => {
  function data(artifact: WasmArtifact): PrecompiledKernelData {
    return {
      format: 'tilevm-precompiled',
      version: 1,
      name: 'relaxed_pick',
      hash: '0123456789abcdef',
      variants: [{ consts: { BN: 16 }, wasm: artifact, wgsl: [] }],
    };
  }

  it('carry the variant through encode and load; bundles without it still load', async () => {
    const artifact = twoModules();
    const bundle = await loadKernelBundle(await encodeKernelBundle([data(artifact)]));
    const loaded = bundle.kernel('relaxed_pick').variant().wasm;
    expect(loaded).toEqual(artifact);
    expect(await runScale(device, loaded)).toBe(3);
    expect(await runScale(baseline, loaded)).toBe(2);
    const { relaxed: _, ...plain } = artifact;
    const old = await loadKernelBundle(await encodeKernelBundle([data(plain as WasmArtifact)]));
    expect(old.kernel('relaxed_pick').variant().wasm.relaxed).toBeUndefined();
    expect(await runScale(device, old.kernel('relaxed_pick').variant().wasm)).toBe(2);
  });

  it('rejects a relaxed module slice outside the payload', async () => {
    const bytes = await encodeKernelBundle([data(twoModules())]);
    const view = new DataView(bytes.buffer);
    const m = view.getUint32(8, true);
    const manifest = JSON.parse(new TextDecoder().decode(bytes.subarray(48, 48 + m)));
    manifest.kernels[0].variants[0].wasm.relaxed.bytes.offset = 1e9;
    const text = new TextEncoder().encode(JSON.stringify(manifest));
    const payload = bytes.subarray(48 + m);
    const out = new Uint8Array(48 + text.length + payload.length);
    out.set(bytes.subarray(0, 16));
    new DataView(out.buffer).setUint32(8, text.length, true);
    out.set(text, 48);
    out.set(payload, 48 + text.length);
    out.set(
      new Uint8Array(await crypto.subtle.digest('SHA-256', out.subarray(48) as Uint8Array<ArrayBuffer>)),
      16,
    );
    await expect(loadKernelBundle(out)).rejects.toThrow(KernelBundleError);
    await expect(loadKernelBundle(out)).rejects.toThrow(
      "kernel 'relaxed_pick' relaxed-SIMD WASM lies outside the payload",
    );
  });
});
