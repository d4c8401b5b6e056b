// Packed 4x8 integer dots (docs/wgsl-backend.md, "Packed integer dots"): dot of 8-bit-or-narrower
// integer tiles with dot4I8Packed / dot4U8Packed where the WGSL language feature
// 'packed_4x8_integer_dot_product' exists (Dawn has it, SwiftShader included), and the scalar
// fallback where it does not or is forced off. Both sides against the interpreter, bit-exact: a tiled
// matmul with K not a multiple of 4 nor of the K tile (edge tiles load 0), M and N leaving edge
// tiles, signed and unsigned operands of widths 1..8, accumulators of 32 bits and narrower (wrapping).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWgsl } from '../../dsl/backend/wgsl/index.js';
import { inferLayouts } from '../../dsl/backend/wgsl/layout-inference.js';
import { type DType, i1, i3, i4, i8, i16, i32, u2, u5, u8, u32 } from '../../dsl/dtype.js';
import { global, kernel } from '../../dsl/index.js';
import { interpret } from '../../dsl/interp/interpret.js';
import { ProgramBuilder } from '../../dsl/ir/builder.js';
import type { Program } from '../../dsl/ir/program.js';
import { binary } from '../../dsl/ir/scalar.js';
import { local, spatial } from '../../dsl/layout.js';
import type { WgslArtifact } from '../../runtime/artifact.js';
import { createDevice, type WebGpuDevice } from '../../runtime/webgpu/device.js';
import { expectSame, poisoned, randomTensor, runBoth } from './wgsl-features-common.js';

const FEATURE = 'packed_4x8_integer_dot_product';

let withDot: WebGpuDevice;
let without: WebGpuDevice;

beforeAll(async () => {
  withDot = await createDevice();
  without = await createDevice({ disableFeatures: [FEATURE] });
}, 120_000);

afterAll(() => {
  withDot?.destroy();
  without?.destroy();
});

/** y = a @ b + 7 over BM x BK x BN tiles of an M x K x N problem, accumulating in `acc`. */
function matmul(d: DType, acc: DType, BM: number, BK: number, BN: number): Program {
  const b = new ProgramBuilder(`mm_${d.name}_${acc.name}`);
  b.global('a', d, ['M', 'K']);
  b.global('b', d, ['K', 'N']);
  b.global('y', acc, ['M', 'N'], 'write');
  b.threads(32);
  b.grid(binary('cdiv', b.sym('M'), BM), binary('cdiv', b.sym('N'), BN));
  const i0 = b.let('i0', binary('mul', b.blockIdx.x, BM));
  const j0 = b.let('j0', binary('mul', b.blockIdx.y, BN));
  const c = b.full(acc, [BM, BN], 7, 'acc');
  b.for('k', 0, b.sym('K'), BK, (k) => {
    const at = b.load('a', [i0, k], [BM, BK]);
    const bt = b.load('b', [k, j0], [BK, BN]);
    b.assign(c, b.dot(at, bt, c));
  });
  b.store('y', [i0, j0], c);
  return b.build();
}

const [M, K, N] = [13, 23, 11];

const CASES: readonly { d: DType; acc: DType }[] = [
  { d: i8, acc: i32 },
  { d: u8, acc: u32 },
  { d: u8, acc: i32 }, // unsigned dot added to a signed accumulator as bits
  { d: i8, acc: u32 }, // signed dot added to an unsigned accumulator as bits
  { d: i4, acc: i16 }, // narrow accumulator: wraps to 16 bits
  { d: u5, acc: u8 }, // wraps to 8 bits
  { d: i3, acc: i32 },
  { d: u2, acc: i32 },
  { d: i1, acc: i32 },
];

describe('WGSL packed 4x8 integer dots', () => {
  it('the device reports the WGSL language feature (Dawn has it), and disableFeatures hides it', () => {
    expect(withDot.wgslLanguageFeatures.has(FEATURE)).toBe(true);
    expect(without.wgslLanguageFeatures.has(FEATURE)).toBe(false);
  });

  for (const [c, { d, acc }] of CASES.entries()) {
    const onDeviceWithout = c === 0 || c === 5;
    const title = `${d.name} x ${d.name} into ${acc.name}: packed, forced fallback${onDeviceWithout ? ', a device without' : ''}`;
    it(title, async () => {
      const program = matmul(d, acc, 8, 10, 8);
      const args = {
        a: randomTensor(d, [M, K], 11 + d.bits),
        b: randomTensor(d, [K, N], 12 + d.bits),
        y: poisoned(acc, [M, N]),
      };
      const packed = await runBoth(withDot, program, args, {
        features: withDot.features,
        languageFeatures: withDot.wgslLanguageFeatures,
      });
      const dot = d.kind === 'int' && d.signed ? 'dot4I8Packed' : 'dot4U8Packed';
      expect(packed.artifact.wgsl).toContain(dot);
      expect(packed.artifact.wgsl).toContain(`requires ${FEATURE};`);
      expect(packed.artifact.features).toContain(FEATURE);
      expectSame(packed.out.y.gpu, packed.out.y.ref, 'packed');

      const forced = await runBoth(withDot, program, args, {
        features: withDot.features,
        languageFeatures: withDot.wgslLanguageFeatures,
        packedDot: 'off',
      });
      expect(forced.artifact.wgsl).not.toContain('Packed(');
      expect(forced.artifact.features).not.toContain(FEATURE);
      expectSame(forced.out.y.gpu, forced.out.y.ref, 'forced fallback');

      expectSame(packed.out.y.gpu, forced.out.y.gpu, 'packed = fallback');
      if (!onDeviceWithout) return;
      // The forced fallback is the code a device without the feature gets; check that once or twice.
      const plain = await runBoth(without, program, args, {
        features: without.features,
        languageFeatures: without.wgslLanguageFeatures,
      });
      expect(plain.artifact.wgsl).toBe(forced.artifact.wgsl);
      expectSame(plain.out.y.gpu, plain.out.y.ref, 'device without the feature');
    });
  }

  it('one tile, K = 5 (one full word and one padded), a [1, K] row and a [K, 1] column', async () => {
    const b = new ProgramBuilder('dot_small');
    b.global('a', i8, [3, 5]);
    b.global('b', i8, [5, 4]);
    b.global('y', i32, [3, 4], 'write');
    b.global('v', i32, [1, 1], 'write');
    b.threads(8);
    const a = b.load('a', [0, 0], [3, 5]);
    const bt = b.load('b', [0, 0], [5, 4]);
    b.store('y', [0, 0], b.dot(a, bt, b.full(i32, [3, 4], -3)));
    const row = b.load('a', [1, 0], [1, 5]);
    const col = b.load('b', [0, 2], [5, 1]);
    b.store('v', [0, 0], b.dot(row, col, b.full(i32, [1, 1], 0)));
    const program = b.build();
    const args = {
      a: randomTensor(i8, [3, 5], 5),
      b: randomTensor(i8, [5, 4], 6),
      y: poisoned(i32, [3, 4]),
      v: poisoned(i32, [1, 1]),
    };
    const r = await runBoth(withDot, program, args, { languageFeatures: withDot.wgslLanguageFeatures });
    expect(r.artifact.wgsl.match(/dot4I8Packed\(/g)?.length).toBe(2);
    expectSame(r.out.y.gpu, r.out.y.ref, 'y');
    expectSame(r.out.v.gpu, r.out.v.ref, 'v');
  });

  it('an accumulator in another layout than the result (convert_layout) is converted first', async () => {
    // The class {c, dot, y} takes y0's layout A (the first one given); c keeps its own B, so the
    // packed dot must read c converted to the result's placement, not c's registers at dst's slots.
    const A = spatial(4, 8).local(2, 2);
    const B = local(2, 2).spatial(4, 8);
    const b = new ProgramBuilder('dot_acc_layout');
    b.global('a', i8, [8, 13]);
    b.global('b', i8, [13, 16]);
    b.global('c', i32, [8, 16]);
    b.global('y0', i32, [8, 16]);
    b.global('y', i32, [8, 16], 'write');
    b.threads(32);
    const y0 = b.load('y0', [0, 0], [8, 16], { layout: A });
    const c = b.convertLayout(b.load('c', [0, 0], [8, 16]), B);
    const d = b.dot(b.load('a', [0, 0], [8, 13]), b.load('b', [0, 0], [13, 16]), c);
    b.store('y', [0, 0], b.binary('add', d, y0));
    const program = b.build();
    const placements = inferLayouts(program);
    const dot = program.body.find((st) => st.op === 'dot');
    if (dot?.op !== 'dot') throw new Error('no dot in the program');
    expect(placements.get(dot.c)).not.toEqual(placements.get(dot.dst));
    const args = {
      a: randomTensor(i8, [8, 13], 31),
      b: randomTensor(i8, [13, 16], 32),
      c: randomTensor(i32, [8, 16], 33),
      y0: randomTensor(i32, [8, 16], 34),
      y: poisoned(i32, [8, 16]),
    };
    const r = await runBoth(withDot, program, args, { languageFeatures: withDot.wgslLanguageFeatures });
    expect(r.artifact.wgsl).toContain('dot4I8Packed(');
    expect(r.artifact.wgsl).toMatch(/layout conversion through workgroup memory: .* -> /);
    expectSame(r.out.y.gpu, r.out.y.ref, 'y');
  });

  it('K < 4, float and wide operands keep the scalar dot', () => {
    const b = new ProgramBuilder('dot_scalar');
    b.global('a', i8, [4, 3]);
    b.global('w', i16, [4, 8]);
    b.global('y', i32, [4, 4], 'write');
    b.threads(8);
    const a = b.load('a', [0, 0], [4, 3]);
    b.store('y', [0, 0], b.dot(a, b.load('a', [0, 0], [3, 4]), b.full(i32, [4, 4], 0)));
    const w = b.load('w', [0, 0], [4, 8]);
    const wt = b.transpose(w);
    b.store('y', [0, 0], b.cast(b.dot(w, wt, b.full(i16, [4, 4], 0)), i32));
    const artifact = compileWgsl(b.build(), { languageFeatures: new Set([FEATURE]) });
    expect(artifact.wgsl).not.toContain('Packed(');
    expect(artifact.features).toEqual([]);
  });

  it('where the packed words would not fit in workgroup memory, the scalar dot is used', () => {
    // 32x56 @ 56x32 staged: 3584 words; the packed words would add 64 x 14 = 896 (> 4096 in all).
    const make = (K: number) => {
      const b = new ProgramBuilder(`dot_big_${K}`);
      b.global('a', i8, [32, K]);
      b.global('b', i8, [K, 32]);
      b.global('y', i32, [32, 32], 'write');
      b.threads(64);
      const a = b.load('a', [0, 0], [32, K]);
      b.store('y', [0, 0], b.dot(a, b.load('b', [0, 0], [K, 32]), b.full(i32, [32, 32], 0)));
      return compileWgsl(b.build(), { languageFeatures: new Set([FEATURE]), vec4Loads: 'off' });
    };
    expect(make(48).wgsl).toContain('dot4I8Packed('); // 3072 + 768 words fit
    expect(make(56).wgsl).not.toContain('Packed(');
  });

  it('Kernel.launch compiles for the device: packed on one with the feature, scalar on one without', async () => {
    const imatmul = kernel({
      name: 'imatmul',
      params: { a: global(i8, ['M', 'K']), b: global(i8, ['K', 'N']), c: global(i32, ['M', 'N'], 'write') },
      consts: { BM: [8], BN: [8], BK: [12] },
    })`
      grid(cdiv(M, BM), cdiv(N, BN));
      threads(32);
      const m0 = blockIdx.x * BM;
      const n0 = blockIdx.y * BN;
      let acc = zeros(i32, [BM, BN]);
      for (let k = 0; k < K; k += BK) {
        acc = dot(load(a, [m0, k], [BM, BK]), load(b, [k, n0], [BK, BN]), acc);
      }
      store(c, [m0, n0], acc);
    `;
    const a = randomTensor(i8, [M, K], 21);
    const bt = randomTensor(i8, [K, N], 22);
    const ref = { a: a.clone(), b: bt.clone(), c: poisoned(i32, [M, N]) };
    interpret(imatmul.compile().program, ref);
    for (const [device, packed] of [
      [withDot, true],
      [without, false],
    ] as const) {
      const seen: WgslArtifact[] = [];
      const spy = {
        backend: 'webgpu' as const,
        features: device.features,
        wgslLanguageFeatures: device.wgslLanguageFeatures,
        launch: (artifact: WgslArtifact, args: Readonly<Record<string, unknown>>) => {
          seen.push(artifact);
          return device.launch(artifact, args as Parameters<WebGpuDevice['launch']>[1]);
        },
      };
      const c = device.upload(poisoned(i32, [M, N]));
      const da = device.upload(a);
      const db = device.upload(bt);
      await imatmul.launch(spy, { a: da, b: db, c } as never); // host-built tensors carry DType, not i8
      expect(seen[0].wgsl.includes('dot4I8Packed(')).toBe(packed);
      expectSame(await device.read(c), ref.c, packed ? 'Kernel.launch, packed' : 'Kernel.launch, scalar');
      for (const t of [c, da, db]) t.destroy();
    }
  });

  it('a packed artifact launched on a device without the feature fails with a clear error', async () => {
    const program = matmul(i8, i32, 8, 8, 8);
    const artifact = compileWgsl(program, { languageFeatures: new Set([FEATURE]) });
    expect(artifact.features).toEqual([FEATURE]);
    const a = without.upload(randomTensor(i8, [4, 4], 1));
    const bt = without.upload(randomTensor(i8, [4, 4], 2));
    const y = without.tensor(i32, [4, 4]);
    await expect((async () => without.launch(artifact, { a, b: bt, y }))()).rejects.toThrow(
      /needs device feature\(s\) 'packed_4x8_integer_dot_product'/,
    );
    for (const t of [a, bt, y]) t.destroy();
  });
});
