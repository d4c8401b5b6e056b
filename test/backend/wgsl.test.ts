// The WGSL backend against the reference interpreter, on a real WebGPU device (SwiftShader, a CPU
// Vulkan driver, where no GPU exists). Every program runs on both with the same seeded random inputs;
// output tensors start out poisoned (NaN or random garbage) on both sides, so a lane the shader
// forgets to write, or a masked store that disturbs its neighbours, shows up as a difference.
// Integers and bools must match bit for bit; floats within the tolerances of docs/wgsl-backend.md
// (per op: + - * are correctly rounded in WGSL and the backend keeps the interpreter's summation
// order, so most f32 results are exact; transcendentals get the WGSL accuracy bounds). Every emitted
// module must compile with no error and no warning.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWgsl } from '../../dsl/backend/wgsl/index.js';
import {
  bf16,
  bool,
  type DType,
  f4e2m1,
  f6e3m2,
  f8e4m3,
  f8e5m2,
  f16,
  f32,
  i3,
  i5,
  i7,
  i8,
  i16,
  i32,
  u1,
  u2,
  u3,
  u4,
  u5,
  u6,
  u7,
  u8,
  u16,
  u32,
} from '../../dsl/dtype.js';
import { ProgramBuilder } from '../../dsl/ir/builder.js';
import type { Program } from '../../dsl/ir/program.js';
import { binary, castScalar } from '../../dsl/ir/scalar.js';
import { Tensor } from '../../dsl/tensor.js';
import type { WgslArtifact } from '../../runtime/artifact.js';
import { createDevice, type WebGpuDevice } from '../../runtime/webgpu/device.js';
import { randomInt, randomU32, rng } from '../helpers/random.js';
import { matmul } from '../lang/kernels/matmul.js';
import { vectorAdd } from '../lang/kernels/vector-add.js';
import {
  describeCorpus,
  expectClose,
  expectSame,
  type HostArgs,
  poisoned,
  randomTensor,
  runBothOn,
  uniformF32,
} from './differential.js';

// SwiftShader, when the machine has no GPU (the runtime also falls back to it by itself).
process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.XDG_RUNTIME_DIR ??= '/tmp';

const U = 2 ** -24;

let device: WebGpuDevice;
/** Every artifact the suite compiled, with the messages its WGSL compiled with. */
const compiled: { kernel: string; messages: string[] }[] = [];

beforeAll(async () => {
  // A missing adapter fails the suite (in CI as anywhere): this test never skips.
  device = await createDevice();
}, 120_000);

afterAll(() => {
  device?.destroy();
});

async function compileChecked(program: Program): Promise<WgslArtifact> {
  const artifact = compileWgsl(program);
  const module = device.gpu.createShaderModule({ code: artifact.wgsl });
  const info = await module.getCompilationInfo();
  const messages = info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`);
  compiled.push({ kernel: program.name, messages });
  expect(messages, `WGSL of ${program.name}`).toEqual([]);
  return artifact;
}

/**
 * Runs `program` on the interpreter and on the device with copies of `args` (write params hold their
 * poison) and returns both versions of every written tensor.
 */
async function runBoth(
  program: Program,
  args: HostArgs,
): Promise<Record<string, { gpu: Tensor; ref: Tensor }>> {
  const out = await runBothOn(device, await compileChecked(program), program, args);
  return Object.fromEntries(Object.entries(out).map(([k, { got, want }]) => [k, { gpu: got, ref: want }]));
}

describeCorpus({
  device: 'WebGPU',
  runBoth: async (program, args) => runBothOn(device, await compileChecked(program), program, args),
  tolerance: {
    // softmax: exp(x - max) with x - max in [-8, 0] is within 3 + 2 |x| <= 19 ulp on any WGSL device
    // (the spec's bound; the interpreter's is correctly rounded), so each term, and the N-term sum of
    // positive terms, differ relatively by 19 u plus the summation's rounding differences (N u); the
    // division adds 2.5 u on the device. Relative tolerance (2 * 19 + N + 3) u.
    softmax: (N) => (want) => (41 + N) * U * Math.abs(want),
    // Sums in the interpreter's order are exact copies; the mean's division (2.5 u) and inverseSqrt
    // (2 u) differ, and xhat * g + b amplifies them by at most |xhat g| (|xhat| < 4 here).
    layerNorm: (want) => 32 * U * (Math.abs(want) + 4),
    // Sums identical; the final division by H * W is within 2.5 ulp on the device.
    avgPool: (want) => 3 * U * 2 * Math.abs(want),
  },
});

describe('global memory: loads and stores of every width', () => {
  // x -> y through 64-element tiles at offsets s and t elements past the block's start (unaligned in
  // the words), with every third lane's store masked off; lanes past N read `other` and are not
  // stored. y starts as random garbage on both sides, so a store that clobbers its neighbours in the
  // same word (or a straddling element's second word) shows up. N is odd and not a multiple of 32.
  const widths: DType[] = [u1, u2, u3, u4, u5, u6, u7, u8, u16, i3, i5, i7, i16, bool];
  const floats: DType[] = [f4e2m1, f6e3m2, f8e4m3, f8e5m2, f16, bf16];
  it.each([...widths, ...floats].map((dtype) => ({ dtype })))('$dtype.name', async ({ dtype }) => {
    const N = 203 + 2 * dtype.bits;
    const b = new ProgramBuilder(`copy_${dtype.name}`);
    b.global('x', dtype, ['N']);
    b.global('y', dtype, ['N'], 'write');
    const s = b.scalar('s');
    const t = b.scalar('t');
    b.grid(binary('cdiv', b.sym('N'), 64));
    b.threads(48);
    const off = b.let('off', binary('mul', b.blockIdx.x, 64));
    const v = b.load('x', [binary('add', off, s)], [64], { other: 1 });
    const keep = b.binary('ne', b.binary('mod', b.arange(i32, 64, off), 3), 1);
    b.store('y', [binary('add', off, t)], v, { mask: keep });
    // Every pattern (NaNs included) for the narrow formats; bf16 from a range (its subnormals are
    // f32 subnormals, which a device may flush).
    const x = dtype === bf16 ? randomTensor(dtype, [N], 11) : randomPatterns(dtype, [N], 11);
    for (const [sv, tv] of [
      [3, 5],
      [0, 1],
      [-7, 0],
    ]) {
      const out = await runBoth(b.build(), { x, y: poisoned(dtype, [N], 12), s: sv, t: tv });
      expectSame(out.y.gpu, out.y.ref, `s = ${sv}, t = ${tv}`);
    }
  });

  it('readwrite: a load after a store in the same block sees it (u3, straddling words)', async () => {
    const N = 150;
    const b = new ProgramBuilder('rw_u3');
    b.global('y', u3, ['N'], 'readwrite');
    b.grid(binary('cdiv', b.sym('N'), 50));
    b.threads(32);
    const off = b.let('off', binary('mul', b.blockIdx.x, 50));
    const v = b.load('y', [off], [50]);
    b.store('y', [off], b.binary('add', v, 3));
    // Read back shifted by one element: other threads wrote these.
    const w = b.load('y', [binary('add', off, 1)], [48]);
    b.store('y', [off], b.binary('xor', w, 5));
    const out = await runBoth(b.build(), { y: randomPatterns(u3, [N], 13) });
    expectSame(out.y.gpu, out.y.ref);
  });
});

describe('grids beyond 65535 blocks are folded into y and z', () => {
  it('1-d: 70000 blocks, each storing one u8 (four blocks share a word)', async () => {
    const N = 70_000;
    const b = new ProgramBuilder('fold_1d');
    b.global('y', u8, ['N'], 'write');
    b.grid(b.sym('N'));
    b.threads(32);
    const v = b.full(u8, [], castScalar(binary('xor', b.blockIdx.x, 0x5a), u8));
    b.store('y', [b.blockIdx.x], b.reshape(v, [1]));
    const out = await runBoth(b.build(), { y: poisoned(u8, [N]) });
    expectSame(out.y.gpu, out.y.ref);
  });

  it('3-d: 70 x 40 x 30 blocks', async () => {
    const [Z, Y, X] = [30, 40, 70];
    const b = new ProgramBuilder('fold_3d');
    b.global('y', i32, ['Z', 'Y', 'X'], 'write');
    b.grid(b.sym('X'), b.sym('Y'), b.sym('Z'));
    b.threads(32);
    const id = binary(
      'add',
      b.blockIdx.x,
      binary('add', binary('mul', b.blockIdx.y, 100), binary('mul', b.blockIdx.z, 10000)),
    );
    b.store('y', [b.blockIdx.z, b.blockIdx.y, b.blockIdx.x], b.full(i32, [], id));
    const out = await runBoth(b.build(), { y: poisoned(i32, [Z, Y, X]) });
    expectSame(out.y.gpu, out.y.ref);
  });
});

/** Every bit pattern of the dtype, at random. */
function randomPatterns(dtype: DType, shape: readonly number[], seed: number): Tensor {
  const r = rng(seed);
  const t = Tensor.zeros(dtype, shape);
  for (let i = 0; i < t.size; i++)
    t.setPattern(i, dtype.bits === 32 ? randomU32(r) : randomInt(r, 0, 2 ** dtype.bits - 1));
  return t;
}

/** One ulp of a float dtype at `v` (subnormal spacing below the smallest normal). */
function ulp(d: DType, v: number): number {
  if (d.kind !== 'float') return 0;
  const emin = 1 - d.bias;
  const e = v === 0 || !Number.isFinite(v) ? emin : Math.max(Math.floor(Math.log2(Math.abs(v))), emin);
  return 2 ** (e - d.mantissaBits);
}

interface OpCase {
  readonly name: string;
  /** Builds the op on the loaded tiles a and b. */
  readonly build: (
    b: ProgramBuilder,
    a: ReturnType<ProgramBuilder['load']>,
    c: ReturnType<ProgramBuilder['load']>,
  ) => ReturnType<ProgramBuilder['load']>;
  /** Tolerance of the f32 computation at the interpreter's result `want` (0: exact). */
  readonly tol?: (want: number, x: number) => number;
}

const f32ulp = (v: number) => ulp(f32, v);

/** Float ops, each on inputs in its domain: a and b in [-4, 4]. Tolerances: the WGSL accuracy bounds. */
const FLOAT_OPS: OpCase[] = [
  ...(['neg', 'abs', 'floor', 'ceil', 'round', 'trunc'] as const).map((fn) => ({
    name: fn,
    build: (b: ProgramBuilder, a: ReturnType<ProgramBuilder['load']>) => b.unary(fn, a),
  })),
  ...(['add', 'sub', 'mul', 'mod', 'min', 'max'] as const).map((fn) => ({
    name: fn,
    build: (
      b: ProgramBuilder,
      a: ReturnType<ProgramBuilder['load']>,
      c: ReturnType<ProgramBuilder['load']>,
    ) => b.binary(fn, a, c),
  })),
  { name: 'div', build: (b, a, c) => b.div(a, c), tol: (w) => 2.5 * f32ulp(w) },
  // exp, exp2: 3 + 2|x| ulp.
  { name: 'exp', build: (b, a) => b.unary('exp', a), tol: (w) => 11 * f32ulp(w) },
  { name: 'exp2', build: (b, a) => b.unary('exp2', a), tol: (w) => 11 * f32ulp(w) },
  // log, log2 of |a| + 0.25: 3 ulp outside [0.5, 2], absolute 2^-21 inside.
  {
    name: 'log',
    build: (b, a) => b.unary('log', b.add(b.unary('abs', a), 0.25)),
    tol: (w) => Math.max(3 * f32ulp(w), 2 ** -21),
  },
  {
    name: 'log2',
    build: (b, a) => b.unary('log2', b.add(b.unary('abs', a), 0.25)),
    tol: (w) => Math.max(3 * f32ulp(w), 2 ** -21),
  },
  // sqrt is 1 / inverseSqrt in WGSL: 2 + 2.5 ulp; inverseSqrt alone 2 ulp.
  { name: 'sqrt', build: (b, a) => b.unary('sqrt', b.unary('abs', a)), tol: (w) => 5 * f32ulp(w) },
  {
    name: 'rsqrt',
    build: (b, a) => b.unary('rsqrt', b.add(b.unary('abs', a), 0.25)),
    tol: (w) => 2 * f32ulp(w),
  },
  // tanh and erf: the backend's own (1.3 ulp with an exact exp), plus exp's error where they use it.
  { name: 'tanh', build: (b, a) => b.unary('tanh', a), tol: (w) => 6 * f32ulp(w) },
  { name: 'erf', build: (b, a) => b.unary('erf', a), tol: (w) => 6 * f32ulp(w) },
  // sin, cos on [-3, 3]: absolute 2^-11 (the WGSL bound inside [-pi, pi]).
  { name: 'sin', build: (b, a) => b.unary('sin', b.mul(a, 0.75)), tol: () => 2 ** -11 },
  { name: 'cos', build: (b, a) => b.unary('cos', b.mul(a, 0.75)), tol: () => 2 ** -11 },
  // pow(x, y), x in [0.5, 4], y in [-3, 3]: exp2(y log2 x) with log2's error times |y| (3 * 2^-21 * 3
  // absolute, ~17 ulp relative) plus exp2's 3 + 2 |y log2 x| <= 15 ulp.
  {
    name: 'pow',
    build: (b, a, c) => b.binary('pow', b.add(b.mul(b.unary('abs', a), 0.875), 0.5), b.mul(c, 0.75)),
    tol: (w) => 40 * f32ulp(w),
  },
];

const INT_OPS: OpCase[] = [
  ...(['neg', 'abs', 'not'] as const).map((fn) => ({
    name: fn,
    build: (b: ProgramBuilder, a: ReturnType<ProgramBuilder['load']>) => b.unary(fn, a),
  })),
  ...(
    ['add', 'sub', 'mul', 'div', 'mod', 'min', 'max', 'and', 'or', 'xor', 'shl', 'shr', 'cdiv'] as const
  ).map((fn) => ({
    name: fn,
    build: (
      b: ProgramBuilder,
      a: ReturnType<ProgramBuilder['load']>,
      c: ReturnType<ProgramBuilder['load']>,
    ) => b.binary(fn, a, c),
  })),
];

const BOOL_OPS: OpCase[] = [
  { name: 'not', build: (b, a) => b.unary('not', a) },
  ...(['and', 'or', 'xor', 'eq', 'ne'] as const).map((fn) => ({
    name: fn,
    build: (
      b: ProgramBuilder,
      a: ReturnType<ProgramBuilder['load']>,
      c: ReturnType<ProgramBuilder['load']>,
    ) => b.binary(fn, a, c),
  })),
];

const COMPARISONS = ['eq', 'ne', 'lt', 'le', 'gt', 'ge'] as const;

/** y[k, :] = op_k(a, b) for every op; cmp[k, :] = a <op_k> b for every comparison. */
function elementwiseProgram(d: DType, ops: readonly OpCase[], comparisons: boolean): Program {
  const b = new ProgramBuilder(`ops_${d.name}`);
  b.global('a', d, ['N']);
  b.global('b', d, ['N']);
  b.global('y', d, ['K', 'N'], 'write');
  if (comparisons) b.global('cmp', bool, ['C', 'N'], 'write');
  b.grid(binary('cdiv', b.sym('N'), 64));
  b.threads(48);
  const off = b.let('off', binary('mul', b.blockIdx.x, 64));
  const ta = b.load('a', [off], [64]);
  const tb = b.load('b', [off], [64]);
  for (const [k, op] of ops.entries()) b.store('y', [k, off], op.build(b, ta, tb));
  if (comparisons)
    for (const [k, fn] of COMPARISONS.entries()) b.store('cmp', [k, off], b.binary(fn, ta, tb));
  return b.build();
}

describe('elementwise ops match the interpreter', () => {
  const N = 150;
  /** Values in [-4, 4], with exact halves (round's ties), integers and zeros mixed in. */
  function floatInputs(d: DType, seed: number): Tensor {
    const r = rng(seed);
    const values = Array.from({ length: N }, (_, i) =>
      i % 5 === 0 ? randomInt(r, -8, 8) / 2 : i % 17 === 0 ? 0 : -4 + 8 * r(),
    );
    return Tensor.fromArray(d, [N], values);
  }

  it.each([{ d: f32 }, { d: f16 }, { d: bf16 }])('$d.name', async ({ d }) => {
    const a = floatInputs(d, 21);
    const c = floatInputs(d, 22);
    const out = await runBoth(elementwiseProgram(d, FLOAT_OPS, true), {
      a,
      b: c,
      y: poisoned(d, [FLOAT_OPS.length, N]),
      cmp: poisoned(bool, [COMPARISONS.length, N]),
    });
    expectSame(out.cmp.gpu, out.cmp.ref, 'comparisons');
    const x = a.toArray();
    expectClose(
      out.y.gpu,
      out.y.ref,
      (want, i) => {
        const op = FLOAT_OPS[Math.floor(i / N)];
        if (!op.tol) return 0;
        // The f32 result's error, then (narrow formats) one rounding to the format.
        return op.tol(want, x[i % N]) + (d === f32 ? 0 : ulp(d, want));
      },
      FLOAT_OPS.map((o) => o.name).join(' '),
    );
  });

  it.each([{ d: f8e4m3 }, { d: f4e2m1 }, { d: f6e3m2 }])(
    '$d.name (every pattern, exact ops)',
    async ({ d }) => {
      const exact = FLOAT_OPS.filter((o) => !o.tol);
      const out = await runBoth(elementwiseProgram(d, exact, true), {
        a: randomPatterns(d, [N], 23),
        b: randomPatterns(d, [N], 24),
        y: poisoned(d, [exact.length, N]),
        cmp: poisoned(bool, [COMPARISONS.length, N]),
      });
      expectSame(out.cmp.gpu, out.cmp.ref, 'comparisons');
      expectSame(out.y.gpu, out.y.ref, exact.map((o) => o.name).join(' '));
    },
  );

  it.each([
    { d: i32 },
    { d: u32 },
    { d: i16 },
    { d: u16 },
    { d: i8 },
    { d: u8 },
    { d: i3 },
    { d: u5 },
    { d: i7 },
    { d: u1 },
  ])('$d.name (every pattern: division by zero, negative shift amounts, wrapping)', async ({ d }) => {
    const out = await runBoth(elementwiseProgram(d, INT_OPS, true), {
      a: randomPatterns(d, [N], 25),
      b: randomPatterns(d, [N], 26),
      y: poisoned(d, [INT_OPS.length, N]),
      cmp: poisoned(bool, [COMPARISONS.length, N]),
    });
    expectSame(out.cmp.gpu, out.cmp.ref, 'comparisons');
    expectSame(out.y.gpu, out.y.ref, INT_OPS.map((o) => o.name).join(' '));
  });

  it('bool', async () => {
    const out = await runBoth(elementwiseProgram(bool, BOOL_OPS, false), {
      a: randomPatterns(bool, [N], 27),
      b: randomPatterns(bool, [N], 28),
      y: poisoned(bool, [BOOL_OPS.length, N]),
    });
    expectSame(out.y.gpu, out.y.ref);
  });
});

describe('ops that move elements between threads (through the scratch array)', () => {
  it('broadcasting operands, select, repeat, transpose, reductions (f32 and an f16 accumulator)', async () => {
    const b = new ProgramBuilder('shapes');
    b.global('x', f32, ['R', 'C']);
    b.global('y1', f32, [6, 10], 'write');
    b.global('y2', f32, [6, 10], 'write');
    b.global('y3', f32, [10, 2, 3], 'write');
    b.global('y4', f32, [6], 'write');
    b.global('y5', f32, [1, 10], 'write');
    b.global('y6', f16, [6, 1], 'write');
    b.threads(16); // 60-element tiles: 4 slots per thread, the last one partly empty
    const t = b.load('x', [0, 0], [6, 10], { other: -1.5 }); // x is 5 x 9: an edge row and column
    const mx = b.reduce('max', t, 1, { keepdim: true });
    const row = b.unsqueeze(b.load('x', [1, 0], [10]), 0);
    const s1 = b.add(mx, row); // [6, 1] + [1, 10]
    b.store('y1', [0, 0], b.where(b.binary('gt', row, 0), s1, mx));
    b.store('y2', [0, 0], b.repeat(b.load('x', [0, 0], [3, 5]), [2, 2]));
    b.store('y3', [0, 0, 0], b.transpose(b.reshape(t, [2, 3, 10]), [2, 0, 1]));
    b.store('y4', [0], b.reduce('sum', t, 1));
    b.store('y5', [0, 0], b.reduce('max', b.unary('neg', t), 0, { keepdim: true }));
    b.store('y6', [0, 0], b.reduce('sum', t, 1, { keepdim: true, dtype: f16 })); // rounds after each add
    const x = Tensor.fromArray(f32, [5, 9], uniformF32(rng(31), 45, -100, 100));
    const outs = { y1: [6, 10], y2: [6, 10], y3: [10, 2, 3], y4: [6], y5: [1, 10] } as const;
    const args: HostArgs = { x, y6: poisoned(f16, [6, 1]) };
    for (const [k, shape] of Object.entries(outs)) args[k] = poisoned(f32, shape);
    const out = await runBoth(b.build(), args);
    for (const k of [...Object.keys(outs), 'y6']) expectSame(out[k].gpu, out[k].ref, k);
  });

  it('dot: i8 into i32, f16 with an f16 accumulator, u4 into wrapping u8, rows and columns of one', async () => {
    const b = new ProgramBuilder('dots');
    b.global('a8', i8, [5, 7]);
    b.global('b8', i8, [7, 3]);
    b.global('a16', f16, [5, 7]);
    b.global('b16', f16, [7, 3]);
    b.global('y8', i32, [5, 3], 'write');
    b.global('y16', f16, [5, 3], 'write');
    b.global('yu', u8, [5, 3], 'write');
    b.global('yv', f32, [1, 1], 'write');
    b.threads(8);
    const a8 = b.load('a8', [0, 0], [5, 7]);
    const b8 = b.load('b8', [0, 0], [7, 3]);
    b.store('y8', [0, 0], b.dot(a8, b8, b.full(i32, [5, 3], 1000)));
    const a16 = b.load('a16', [0, 0], [5, 7]);
    const b16 = b.load('b16', [0, 0], [7, 3]);
    b.store('y16', [0, 0], b.dot(a16, b16, b.full(f16, [5, 3], 0.1)));
    const au = b.cast(b.binary('and', a8, 15), u4);
    const bu = b.cast(b.binary('and', b8, 15), u4);
    b.store('yu', [0, 0], b.dot(au, bu, b.full(u8, [5, 3], 250)));
    // [1, 7] @ [7, 1]: a replicated result from two distributed tiles.
    const row = b.cast(b.load('a16', [2, 0], [1, 7]), f32);
    const col = b.cast(b.load('b16', [0, 1], [7, 1]), f32);
    b.store('yv', [0, 0], b.dot(row, col, b.full(f32, [1, 1], -1)));
    const out = await runBoth(b.build(), {
      a8: randomPatterns(i8, [5, 7], 32),
      b8: randomPatterns(i8, [7, 3], 33),
      a16: randomTensor(f16, [5, 7], 34, -30, 30),
      b16: randomTensor(f16, [7, 3], 35, -30, 30),
      y8: poisoned(i32, [5, 3]),
      y16: poisoned(f16, [5, 3]),
      yu: poisoned(u8, [5, 3]),
      yv: poisoned(f32, [1, 1]),
    });
    for (const k of ['y8', 'y16', 'yu', 'yv']) expectSame(out[k].gpu, out[k].ref, k);
  });

  it('view: re-splitting rows of 48 bits (u6, u3, u16, u8, bool), f32 as f16 pairs, 0-d and one-element tiles', async () => {
    const b = new ProgramBuilder('views');
    b.global('x6', u6, [2, 8]);
    b.global('xf', f32, [2, 2]);
    b.global('y3', u3, [2, 16], 'write');
    b.global('y16', u16, [2, 3], 'write');
    b.global('yb', bool, [2, 48], 'write');
    b.global('yh', f16, [2, 4], 'write');
    b.global('y4', u4, [8], 'write');
    b.global('yi', i32, [1], 'write');
    b.threads(8);
    const x6 = b.load('x6', [0, 0], [2, 8]);
    b.store('y3', [0, 0], b.view(x6, u3));
    b.store('y16', [0, 0], b.view(x6, u16));
    b.store('yb', [0, 0], b.view(b.view(x6, u8), bool));
    const xf = b.load('xf', [0, 0], [2, 2]);
    b.store('yh', [0, 0], b.view(xf, f16));
    // A one-element (replicated) source, and a 0-d view between equal widths.
    const one = b.load('xf', [1, 1], [1]);
    b.store('y4', [0], b.view(b.view(one, u32), u4));
    const scalar = b.reshape(b.load('xf', [0, 1], [1]), []);
    b.store('yi', [0], b.reshape(b.view(scalar, i32), [1]));
    const out = await runBoth(b.build(), {
      x6: randomPatterns(u6, [2, 8], 36),
      xf: randomPatterns(f32, [2, 2], 37),
      y3: poisoned(u3, [2, 16]),
      y16: poisoned(u16, [2, 3]),
      yb: poisoned(bool, [2, 48]),
      yh: poisoned(f16, [2, 4]),
      y4: poisoned(u4, [8]),
      yi: poisoned(i32, [1]),
    });
    for (const k of ['y3', 'y16', 'yb', 'yh', 'y4', 'yi']) expectSame(out[k].gpu, out[k].ref, k);
  });
});

describe('scalars, control flow, shared tiles', () => {
  it('scalar params of every register type, scalar arithmetic, for, if, let, full, arange', async () => {
    const b = new ProgramBuilder('scalars');
    b.global('yi', i32, [16], 'write');
    b.global('yf', f32, [4], 'write');
    b.global('yu', u4, [2, 16], 'write');
    const n = b.scalar('n', i32);
    const u = b.scalar('u', u32);
    const h = b.scalar('h', f16);
    const flag = b.scalar('flag', bool);
    const s8 = b.scalar('s8', i8);
    b.threads(8);
    const ints = [
      binary('div', n, 0), // x / 0 = x
      binary('mod', n, 0), // x % 0 = 0
      binary('cdiv', n, 4), // ceil of a negative quotient
      binary('cdiv', binary('sub', 0, n), -4),
      binary('shl', n, -30), // amount modulo 32: 2
      binary('shr', n, 33), // arithmetic, amount 1
      castScalar(binary('shr', u, 35), i32), // logical
      castScalar(binary('add', s8, castScalar(100, i8)), i32), // wraps in i8
      castScalar(binary('shl', s8, castScalar(-1, i8)), i32), // i8 amount modulo 8: 7
      castScalar(binary('mul', h, castScalar(3.3, f16)), i32), // rounded to f16 first
      castScalar(flag, i32),
      binary('min', binary('mul', n, n), 5),
      binary('mul', binary('add', n, 2147483647), 3), // wraps
    ];
    for (const [k, e] of ints.entries()) b.store('yi', [k], b.full(i32, [1], e));
    // A loop with a let, an if/else on a loop-dependent condition, and a loop-carried tile.
    const acc = b.zeros(f32, [1]);
    b.for('j', 0, binary('add', n, 12), 3, (j) => {
      const t = b.let('t', binary('mul', j, j));
      b.if(
        binary('eq', binary('mod', t, 2), 0),
        () => b.assign(acc, b.add(acc, b.full(f32, [], castScalar(t, f32)))),
        () => b.assign(acc, b.sub(acc, b.full(f32, [1], castScalar(j, f32)))),
      );
    });
    b.store('yf', [0], acc);
    b.store('yf', [1], b.full(f32, [1], castScalar(h, f32)));
    b.if(flag, () => b.store('yf', [2], b.full(f32, [1], 2.5)));
    // arange wraps in its start's dtype, then casts; a 0-d tile broadcasts for free.
    const ar = b.cast(b.arange(i32, 16, binary('add', n, 20)), u4);
    b.store('yu', [0, 0], b.reshape(ar, [1, 16]));
    b.store('yu', [1, 0], b.broadcast(b.full(u4, [], 9), [1, 16]));
    for (const [nv, fl] of [
      [-7, 1],
      [5, 0],
    ]) {
      const out = await runBoth(b.build(), {
        yi: poisoned(i32, [16]),
        yf: poisoned(f32, [4]),
        yu: poisoned(u4, [2, 16]),
        n: nv,
        u: 0xfedcba98,
        h: 1.234,
        flag: fl,
        s8: -100,
      });
      for (const k of ['yi', 'yf', 'yu']) expectSame(out[k].gpu, out[k].ref, `${k}, n = ${nv}`);
    }
  });

  it('shared tiles: regions at offsets, a one-element store, barriers without sync', async () => {
    const b = new ProgramBuilder('shared');
    b.global('x', f32, [4, 8]);
    b.global('y', f32, [3, 4], 'write');
    b.global('z', i32, [8, 8], 'write');
    b.threads(8);
    const sm = b.shared(f32, [8, 8]);
    b.storeShared(sm, b.full(f32, [8, 8], 0));
    b.storeShared(sm, b.load('x', [0, 0], [4, 8]), [2, 0]);
    b.storeShared(sm, b.full(f32, [1, 1], 7), [5, 3]);
    b.store('y', [0, 0], b.loadShared(sm, [3, 2], [3, 4]));
    const si = b.shared(i32, [8, 8]);
    b.for('r', 0, 8, 1, (r) => {
      b.storeShared(si, b.reshape(b.arange(i32, 8, binary('mul', r, 10)), [1, 8]), [r, 0]);
    });
    b.sync();
    b.store('z', [0, 0], b.transpose(b.loadShared(si), [1, 0]));
    const out = await runBoth(b.build(), {
      x: Tensor.fromArray(f32, [4, 8], uniformF32(rng(38), 32, -1, 1)),
      y: poisoned(f32, [3, 4]),
      z: poisoned(i32, [8, 8]),
    });
    expectSame(out.y.gpu, out.y.ref);
    expectSame(out.z.gpu, out.z.ref);
  });
});

describe('compileWgsl', () => {
  it('is deterministic, and the hash follows the code and the consts', () => {
    const a = compileWgsl(matmul.compile({ BM: 16, BN: 16, BK: 8 }).program);
    const b = compileWgsl(matmul.compile({ BM: 16, BN: 16, BK: 8 }).program);
    const c = compileWgsl(matmul.compile({ BM: 8, BN: 32, BK: 16 }).program);
    expect(b).toEqual(a);
    expect(c.hash).not.toBe(a.hash);
    expect(a.hash).toMatch(/^[0-9a-f]{16}$/);
    expect(a.wgsl).toContain("// tilevm kernel 'matmul' (consts BM = 16, BN = 16, BK = 8)");
    expect(a.uniforms.map((u) => u.name)).toEqual([
      'M',
      'K',
      'N',
      'grid_x',
      'grid_y',
      'grid_z',
      'dispatch_x',
      'dispatch_y',
    ]);
    expect(a.params.map((p) => (p.kind === 'global' ? p.binding : -1))).toEqual([0, 1, 2]);
    expect(a.uniformBinding).toBe(3);
    expect(a.grid).toEqual(['cdiv(M, 16)', 'cdiv(N, 16)']);
  });

  it('rejects kernels that need more than 16 KiB of workgroup memory, naming the tiles', () => {
    const b = new ProgramBuilder('big');
    b.global('x', f32, [64, 64]);
    b.global('y', f32, [64], 'write');
    b.threads(64);
    const s = b.shared(f32, [48, 64], 'stage');
    b.storeShared(s, b.load('x', [0, 0], [48, 64]));
    // A transpose stages its source (32 x 64 f32: 8192 bytes of scratch).
    b.store('y', [0], b.reduce('sum', b.transpose(b.load('x', [0, 0], [32, 64])), 1));
    expect(() => compileWgsl(b.build())).toThrow(
      /kernel 'big'.*20480 bytes.*shared tile %stage\.0 f32\[48, 64\].*scratch for staging %x\.\d+.*smaller tiles/,
    );
  });

  it('keeps IR names, renaming those WGSL reserves', () => {
    const b = new ProgramBuilder('names');
    b.global('loop', f32, ['N']);
    b.global('out', f32, ['N'], 'write');
    b.threads(32);
    const select = b.let('select', binary('mul', b.blockIdx.x, 32));
    b.store('out', [select], b.unary('exp', b.load('loop', [select], [32], { name: 'round' })));
    const wgsl = compileWgsl(b.build()).wgsl;
    expect(wgsl).toMatch(/var<storage, read> loop_2: array<u32>;/);
    expect(wgsl).toMatch(/var select_2: i32;/);
    expect(wgsl).toMatch(/var round_0: f32;/);
  });
});

describe('Kernel.launch on a WebGPU device', () => {
  it('compiles once per const combination and runs', async () => {
    const N = 100;
    const k = vectorAdd(f32);
    const a = uniformF32(rng(41), N, -1, 1);
    const c = device.tensor(f32, [N]);
    await k.launch(device, {
      a: device.upload(Tensor.fromArray(f32, [N], a)),
      b: device.upload(Tensor.fromArray(f32, [N], a)),
      c,
    });
    const got = (await device.read(c)).toArray();
    expect(got).toEqual(a.map((v) => Math.fround(2 * v)));
  });
});
