// Reductions with and without the 'subgroups' device feature (docs/wgsl-backend.md, "Subgroup
// reductions"), on two devices of the same adapter: one with the feature, one without. Every variant
// runs against the interpreter: integers (wrapping sums, max, min) and float max/min bit for bit, f32
// sums within |err| <= (n - 1) 2^-24 sum|x| (the subgroup path reassociates; the staged path keeps the
// interpreter's order and is exact). Every emitted module must compile with no message.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWgsl, type WgslOptions } from '../../dsl/backend/wgsl/index.js';
import { type DType, f16, f32, i8, i32, u8 } from '../../dsl/dtype.js';
import { interpret } from '../../dsl/interp/interpret.js';
import { ProgramBuilder } from '../../dsl/ir/builder.js';
import type { ReduceOp } from '../../dsl/ir/ops.js';
import type { Program } from '../../dsl/ir/program.js';
import { binary } from '../../dsl/ir/scalar.js';
import { Tensor } from '../../dsl/tensor.js';
import { createDevice, type WebGpuDevice } from '../../runtime/webgpu/device.js';
import type { GpuTensor } from '../../runtime/webgpu/tensor.js';
import { randomInt, randomU32, rng } from '../helpers/random.js';
import { expectSame } from './differential.js';

process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.XDG_RUNTIME_DIR ??= '/tmp';

const U = 2 ** -24;

let withSg: WebGpuDevice;
let without: WebGpuDevice;

beforeAll(async () => {
  withSg = await createDevice();
  without = await createDevice({ disableFeatures: ['subgroups'] });
}, 120_000);

afterAll(() => {
  withSg?.destroy();
  without?.destroy();
});

interface Variant {
  readonly name: string;
  readonly device: () => WebGpuDevice;
  readonly options: () => WgslOptions;
}

const VARIANTS: readonly Variant[] = [
  { name: 'staged (no subgroups)', device: () => without, options: () => ({ features: without.features }) },
  { name: 'subgroups, auto', device: () => withSg, options: () => ({ features: withSg.features }) },
  {
    name: 'subgroups, always',
    device: () => withSg,
    options: () => ({ features: withSg.features, subgroupReduce: 'always' }),
  },
];

/** Runs `program` on the interpreter and on `v`'s device; returns y from both, and the WGSL. */
async function runBoth(
  program: Program,
  v: Variant,
  x: Tensor,
  y: Tensor,
): Promise<{ gpu: Tensor; ref: Tensor; wgsl: string; features: readonly string[] }> {
  const device = v.device();
  const artifact = compileWgsl(program, v.options());
  const module = device.gpu.createShaderModule({ code: artifact.wgsl });
  const info = await module.getCompilationInfo();
  const messages = info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`);
  expect(messages, `WGSL of ${program.name} (${v.name})`).toEqual([]);
  const ref = { x: x.clone(), y: y.clone() };
  interpret(program, ref);
  const dx = device.upload(x);
  const dy = device.upload(y);
  await device.launch(artifact, { x: dx, y: dy });
  const gpu = await device.read(dy as GpuTensor);
  dx.destroy();
  dy.destroy();
  return { gpu, ref: ref.y, wgsl: artifact.wgsl, features: artifact.features };
}

function poisoned(dtype: DType, shape: readonly number[]): Tensor {
  const t = Tensor.zeros(dtype, shape);
  if (dtype.kind === 'float') return t.fill(Number.NaN);
  const r = rng(99);
  for (let i = 0; i < t.size; i++) t.setPattern(i, randomInt(r, 0, 2 ** dtype.bits - 1));
  return t;
}

/** Floats in [-4, 4] (f32) or every pattern (integers, small floats). */
function randomTensor(dtype: DType, shape: readonly number[], seed: number): Tensor {
  const r = rng(seed);
  const t = Tensor.zeros(dtype, shape);
  for (let i = 0; i < t.size; i++) {
    if (dtype.kind === 'float' && dtype.bits >= 16) t.set(i, Math.fround(-4 + 8 * r()));
    else t.setPattern(i, dtype.bits === 32 ? randomU32(r) : randomInt(r, 0, 2 ** dtype.bits - 1));
  }
  return t;
}

/** |got - want| <= tol[i] everywhere. */
function expectClose(got: Tensor, want: Tensor, tol: readonly number[], what: string): void {
  const gv = got.toArray();
  const wv = want.toArray();
  const failures: string[] = [];
  for (let i = 0; i < wv.length && failures.length < 8; i++) {
    if (!(Math.abs(gv[i] - wv[i]) <= tol[i]))
      failures.push(`[${i}]: got ${gv[i]}, want ${wv[i]} (tol ${tol[i]})`);
  }
  expect(failures, what).toEqual([]);
}

/**
 * y[i] = reduce(x[i, :]) over BR x L tiles of an R x C tensor (R, C not multiples: edge tiles load
 * `other` = 0 beyond the tensor, and the last block's stores are masked).
 */
function rowReduce(
  fn: ReduceOp,
  dtype: DType,
  L: number,
  BR: number,
  threads: number,
  keepdim: boolean,
  acc?: DType,
): Program {
  const b = new ProgramBuilder(`row_${fn}_${dtype.name}_${L}`);
  b.global('x', dtype, ['R', 'C']);
  b.global('y', acc ?? dtype, keepdim ? ['R', 1] : ['R'], 'write');
  b.threads(threads);
  b.grid(binary('cdiv', b.sym('R'), BR));
  const row = b.let('row', binary('mul', b.blockIdx.x, BR));
  const t = b.load('x', [row, 0], [BR, L], { other: 0 });
  const r = b.reduce(fn, t, 1, { keepdim, ...(acc ? { dtype: acc } : {}) });
  b.store('y', keepdim ? [row, 0] : [row], r);
  return b.build();
}

const SG_OP: Record<ReduceOp, string> = { sum: 'subgroupAdd', max: 'subgroupMax', min: 'subgroupMin' };

describe('the device with subgroups', () => {
  it("has 'subgroups' (SwiftShader does); the other device does not", () => {
    expect(withSg.features.has('subgroups')).toBe(true);
    expect(without.features.has('subgroups')).toBe(false);
  });
});

// rows of L elements, BR rows per block, threads per block (not multiples of any subgroup size: 6, 100).
const SHAPES = [
  { L: 1, BR: 8, threads: 6, C: 1 },
  { L: 7, BR: 3, threads: 6, C: 5 },
  { L: 64, BR: 4, threads: 100, C: 64 },
  { L: 1000, BR: 4, threads: 100, C: 997 },
  { L: 1000, BR: 2, threads: 32, C: 1000 },
] as const;

describe.each([f32, i32, u8])('row reductions of $name', (dtype) => {
  describe.each(['sum', 'max', 'min'] as const)('%s', (fn) => {
    it.each(SHAPES.flatMap((s, i) => VARIANTS.map((v) => ({ ...s, v, keepdim: i % 2 === 1, vn: v.name }))))(
      'rows of $L, $BR per block, $threads threads, keepdim $keepdim: $vn',
      async ({ L, BR, threads, C, v, keepdim }) => {
        const R = 2 * BR + 1; // the last block is an edge tile
        const program = rowReduce(fn, dtype, L, BR, threads, keepdim);
        const x = randomTensor(dtype, [R, C], 7 * L + R);
        if (dtype === f32 && fn !== 'sum') {
          // Signed zeros (max/min order -0 below +0), infinities and NaN (which wins), as Math.max/min.
          const specials = [-0, 0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN];
          for (let i = 0; i < C; i++) x.set(i, i % 2 === 0 ? -0 : 0); // row 0: zeros of both signs
          for (let i = 1; i < R; i++) x.set(i * C + ((5 * i) % C), specials[i % specials.length]);
        }
        const out = await runBoth(program, v, x, poisoned(dtype, keepdim ? [R, 1] : [R]));
        const subgroups = v.name === 'subgroups, always' && L > 1;
        expect(out.wgsl.includes(SG_OP[fn]), 'subgroup path taken').toBe(
          subgroups || out.features.length > 0,
        );
        if (subgroups) {
          expect(out.features).toEqual(['subgroups']);
          expect(out.wgsl).toMatch(/^enable subgroups;/);
        }
        if (v.name.startsWith('staged')) expect(out.features).toEqual([]);
        if (fn === 'sum' && dtype === f32) {
          // (n - 1) 2^-24 sum|x| for the n = min(L, C) terms of each row.
          const xs = x.toArray();
          const n = Math.min(L, C);
          const tol = Array.from({ length: R }, (_, i) => {
            let s = 0;
            for (let j = 0; j < C; j++) s += Math.abs(xs[i * C + j]);
            return (n - 1) * U * s;
          });
          expectClose(out.gpu, out.ref, tol, v.name);
        } else expectSame(out.gpu, out.ref, v.name);
      },
    );
  });
});

describe('other reductions with the subgroups feature', () => {
  it.each(VARIANTS.map((v) => ({ v, vn: v.name })))(
    'a tile of 64 x 64 (many rows), u8 summed into i32, i8 wrapping, f16 max, other axes: $vn',
    async ({ v }) => {
      const b = new ProgramBuilder('mixed');
      b.global('x', u8, [64, 64]);
      b.global('y', i32, [64, 8], 'write');
      b.threads(128);
      b.grid(1);
      const t = b.load('x', [0, 0], [64, 64]);
      const cols = b.reduce('sum', t, 0, { dtype: i32 }); // axis 0: always staged
      const rows = b.reduce('sum', t, 1, { dtype: i32 });
      const wrap = b.cast(b.reduce('sum', b.cast(t, i8), 1), i32); // wraps in i8
      const hmax = b.cast(b.reduce('max', b.cast(t, f16), 1), i32);
      const mid = b.reduce('min', b.reshape(t, [64, 4, 16]), 1, { dtype: i32 }); // inner 16: staged
      const whole = b.reduce('sum', b.reshape(t, [4096]), 0, { dtype: i32, keepdim: true }); // one row
      const parts = [cols, rows, wrap, hmax, b.reduce('max', mid, 1), b.broadcast(whole, [64])];
      for (const [i, p] of parts.entries()) b.store('y', [0, i], b.reshape(p, [64, 1]));
      // Twice in a loop: the scratch array is reused across iterations and ops.
      b.for('k', 0, 2, 1, () => {
        b.store('y', [0, 6], b.reshape(b.reduce('max', t, 1, { dtype: i32 }), [64, 1]));
        b.store('y', [0, 7], b.reshape(b.reduce('min', b.unary('neg', b.cast(t, i32)), 1), [64, 1]));
      });
      const program = b.build();
      const x = randomTensor(u8, [64, 64], 5);
      const out = await runBoth(program, v, x, poisoned(i32, [64, 8]));
      expectSame(out.gpu, out.ref, v.name);
      if (v.name === 'subgroups, always') expect(out.features).toEqual(['subgroups']);
    },
  );

  it('long rows take the subgroup path by default, short ones with many rows stay staged', () => {
    const long = rowReduce('sum', f32, 1000, 2, 64, false);
    const short = rowReduce('sum', f32, 7, 64, 64, false);
    const features = new Set(['subgroups']);
    expect(compileWgsl(long, { features }).features).toEqual(['subgroups']);
    expect(compileWgsl(short, { features }).features).toEqual([]);
    expect(compileWgsl(short, { features, subgroupReduce: 'always' }).features).toEqual(['subgroups']);
    expect(compileWgsl(long).features).toEqual([]);
    expect(compileWgsl(long).wgsl).not.toMatch(/subgroup/);
  });

  it('f16 sums keep the staged path (they round after each add)', () => {
    const p = rowReduce('sum', f16, 1000, 2, 64, false);
    expect(compileWgsl(p, { features: new Set(['subgroups']), subgroupReduce: 'always' }).features).toEqual(
      [],
    );
  });
});
