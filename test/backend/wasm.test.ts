// The WASM backend against the reference interpreter, on the WASM device (runtime/wasm, with 4 worker
// threads sharing one memory, so adjacent blocks run concurrently). Every program runs on both with
// the same seeded inputs; outputs start out poisoned (NaN or random bits) on both sides, so a lane
// the module forgets to write, or a store that disturbs its neighbours' bits, shows up. Integers and
// bools must match bit for bit; floats too, except for ops computed by approximation (exp, log,
// tanh, erf, sin, cos, exp2, log2, pow), whose tolerances docs/wasm-backend.md derives. Every
// module must validate.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWasm, fromBase64 } from '../../dsl/backend/wasm/index.js';
import {
  ALL_DTYPES,
  bf16,
  bool,
  castValue,
  type DType,
  f4e2m1,
  f6e3m2,
  f8e4m3,
  f8e5m2,
  f16,
  f32,
  i1,
  i3,
  i4,
  i7,
  i8,
  i16,
  i32,
  u1,
  u3,
  u4,
  u7,
  u8,
  u16,
  u32,
} from '../../dsl/dtype.js';
import { kernel, global as param } from '../../dsl/index.js';
import { ProgramBuilder } from '../../dsl/ir/builder.js';
import type { BinaryOp, UnaryOp } from '../../dsl/ir/ops.js';
import type { Program } from '../../dsl/ir/program.js';
import { blockIdx, castScalar, binary as sbin, select } from '../../dsl/ir/scalar.js';
import { Tensor } from '../../dsl/tensor.js';
import type { WasmArtifact } from '../../runtime/artifact.js';
import { createWasmDevice, type WasmDevice } from '../../runtime/index.js';
import { randomInt, randomU32, rng } from '../helpers/random.js';
import { vectorAdd } from '../lang/kernels/vector-add.js';
import {
  type BothOutputs,
  describeCorpus,
  expectClose,
  type HostArgs,
  poisoned,
  randomTensor,
  runBothOn,
} from './differential.js';

const U = 2 ** -24;

let device: WasmDevice;
/** Every artifact the suite compiled, with whether WebAssembly.validate accepted its bytes. */
const compiled: { kernel: string; valid: boolean }[] = [];

beforeAll(async () => {
  device = await createWasmDevice({ threads: 4 });
});

afterAll(() => {
  device?.destroy();
});

function compileChecked(program: Program): WasmArtifact {
  const artifact = compileWasm(program);
  const valid = WebAssembly.validate(fromBase64(artifact.wasm) as Uint8Array<ArrayBuffer>);
  compiled.push({ kernel: program.name, valid });
  expect(valid, `module of ${program.name}`).toBe(true);
  return artifact;
}

/** Runs `program` on the interpreter and on the device with copies of `args`; every written tensor of both. */
function runBoth(program: Program, args: HostArgs): Promise<BothOutputs> {
  return runBothOn(device, compileChecked(program), program, args);
}

/** Bit-exact equality (NaN patterns are canonical on both sides). */
function expectSame(got: Tensor, want: Tensor, what = ''): void {
  expect(got.shape).toEqual(want.shape);
  const g = got.patterns();
  const w = want.patterns();
  const failures: string[] = [];
  for (let i = 0; i < w.length && failures.length < 8; i++) {
    if (g[i] !== w[i]) {
      failures.push(
        `[${i}]: got ${got.get(i)} (0x${g[i].toString(16)}), want ${want.get(i)} (0x${w[i].toString(16)})`,
      );
    }
  }
  expect(failures, what).toEqual([]);
}

/** Spacing of f32 values at |x| (the ulp), for tolerances in ulps. */
function ulpF32(x: number): number {
  const a = Math.abs(x);
  if (!(a >= 2 ** -126)) return 2 ** -149;
  return 2 ** (Math.floor(Math.log2(a)) - 23);
}

/** [name, dtype] rows for it.each (a dtype object would print whole). */
function named<D extends DType>(dtypes: readonly D[]): [string, D][] {
  return dtypes.map((d) => [d.name, d]);
}

// ---------------------------------------------------------------------------------------------

// exp is the only approximated op: each exp(x - max) is within 1 ulp (2u relative) of the
// interpreter's correctly rounded one. The row sum adds N such terms in the same order, so it
// differs by at most 2u relative plus one rounding per add (N u); the division adds 2u from its
// inputs and one rounding: softmax within (N + 6) u relative. Layer norm (sums in the interpreter's
// order, division and 1/sqrt in f64 as the interpreter does it) and average pool are bit-exact.
describeCorpus({
  device: 'the WASM device',
  runBoth,
  tolerance: { softmax: (N) => (want) => (N + 6) * U * Math.abs(want) },
});

describe('Kernel.launch on the WASM device', () => {
  it('compiles once per const combination', async () => {
    const N = 100;
    const k = vectorAdd(f32);
    const a = device.upload(randomTensor(f32, [N], 3));
    const b = device.upload(randomTensor(f32, [N], 4));
    const c = device.tensor(f32, [N]);
    await k.launch(device, { a, b, c });
    await k.launch(device, { a, b, c }, { consts: { BN: 64 } });
    const want = Tensor.zeros(f32, [N]);
    k.interpret({ a: await device.read(a), b: await device.read(b), c: want });
    expectSame(await device.read(c), want);
  });

  it('reuses the artifact per requested consts: alternating consts each run their own; bad ones always reject', async () => {
    const N = 37; // not a multiple of any BN: edge blocks
    const k = kernel({
      name: 'scaled_copy',
      params: { a: param(f32, ['N']), c: param(f32, ['N'], 'write') },
      consts: { S: [2, 3], BN: [16, 8] },
    })`
      grid(cdiv(N, BN));
      threads(64);
      const off = blockIdx.x * BN;
      store(c, [off], load(a, [off], [BN]) * S);
    `;
    const host = Tensor.fromArray(f32, [N], randomTensor(f32, [N], 5).toArray());
    const a = device.upload(host);
    const poisoned = () => device.upload(Tensor.zeros(f32, [N]).fill(Number.NaN));
    for (const consts of [{ S: 3 }, {}, { S: 3, BN: 8 }, { BN: 8, S: 2 }, { S: 3 }] as const) {
      const c = poisoned();
      await k.launch(device, { a, c }, { consts });
      const s = ('S' in consts ? consts.S : undefined) ?? 2;
      expectSame(
        await device.read(c),
        Tensor.fromArray(
          f32,
          [N],
          host.toArray().map((v) => Math.fround(v * s)),
        ),
      );
      c.destroy();
    }
    const c = poisoned();
    for (let i = 0; i < 2; i++) {
      await expect(k.launch(device, { a, c }, { consts: { S: 5 as 2 } })).rejects.toThrow(
        /const 'S' = 5 is not one of its candidates \[2, 3\]/,
      );
    }
  });
});

// ---------------------------------------------------------------------------------------------

/** Every dtype of up to 8 bits, plus the 16- and 32-bit ones. */
const STORAGE_DTYPES = ALL_DTYPES.filter(
  (d) =>
    d.kind !== 'float' ||
    d.bits >= 16 ||
    ['f4e2m1', 'f3e1m1', 'f5e2m2', 'f6e3m2', 'f7e3m3', 'f8e4m3', 'f8e5m2', 'f2e1m0'].includes(d.name),
);

describe('global loads and stores of every width (odd lengths and offsets, concurrent neighbours)', () => {
  /**
   * y[i] = x[i] over 13-wide tiles shifted by o (so tiles straddle both ends), and a 2-D copy of
   * [2, 11] tiles at offsets (bx * 2 + p, by * 11 + o): every lane outside the tensor reads 0 and is
   * not written; lanes of neighbouring blocks share bytes and words.
   */
  function copyProgram(d: DType): Program {
    const b = new ProgramBuilder(`copy_${d.name}`);
    b.global('x', d, ['N']);
    b.global('y', d, ['N'], 'write');
    b.global('x2', d, ['R', 'C']);
    b.global('y2', d, ['R', 'C'], 'write');
    const o = b.scalar('o', i32);
    const p = b.scalar('p', i32);
    b.grid(sbin('add', sbin('cdiv', b.sym('N'), 13), 1), sbin('add', sbin('cdiv', b.sym('C'), 11), 1));
    b.if(sbin('eq', blockIdx(1), 0), () => {
      const at = sbin('add', sbin('mul', blockIdx(0), 13), o);
      b.store('y', [at], b.load('x', [at], [13]));
    });
    const r0 = sbin('add', sbin('mul', blockIdx(0), 2), p);
    const c0 = sbin('add', sbin('mul', blockIdx(1), 11), o);
    b.store('y2', [r0, c0], b.load('x2', [r0, c0], [2, 11]));
    return b.build();
  }

  it.each(named(STORAGE_DTYPES))('%s', async (_, d) => {
    const program = copyProgram(d);
    for (const [o, p, N] of [
      [0, 0, 203],
      [5, -1, 77],
      [-3, 1, 64],
    ]) {
      const [R, C] = [7, 37];
      const args = {
        x: randomTensor(d, [N], N),
        y: poisoned(d, [N], N + 1),
        x2: randomTensor(d, [R, C], N + 2),
        y2: poisoned(d, [R, C], N + 3),
        o,
        p,
      };
      const out = await runBoth(program, args);
      expectSame(out.y.got, out.y.want, `y, o = ${o}`);
      expectSame(out.y2.got, out.y2.want, `y2, o = ${o}, p = ${p}`);
    }
  });

  it.each(named([u1, u3, u4, i7]))(
    '%s: blocks writing interleaved columns concurrently lose no bits',
    async (_, d) => {
      // Block b copies column (b % 4) 16 + b / 4 of a [65536, 64] tensor. The device gives each of its
      // 4 workers 16 consecutive blocks, so neighbouring columns, which share bytes and words, are
      // written by different workers at the same time: a plain read-modify-write of a word would drop
      // bits (a variant without the compare-and-swap loop fails here). The result must equal x, so the
      // interpreter is not needed.
      const [R, G] = [65536, 64];
      const b = new ProgramBuilder(`columns_${d.name}`);
      b.global('x', d, ['R', 'G']);
      b.global('y', d, ['R', 'G'], 'write');
      b.grid(b.sym('G'));
      const col = b.let(
        'col',
        sbin('add', sbin('mul', sbin('mod', blockIdx(0), 4), 16), sbin('div', blockIdx(0), 4)),
      );
      b.for('r', 0, b.sym('R'), 256, (r) => b.store('y', [r, col], b.load('x', [r, col], [256, 1])));
      const artifact = compileChecked(b.build());
      const bytes = (seed: number) => {
        const r = rng(seed);
        return Uint8Array.from({ length: (R * G * d.bits) / 8 }, () => randomInt(r, 0, 255));
      };
      const x = Tensor.fromBytes(d, [R, G], bytes(11));
      const dx = device.upload(x);
      const dy = device.upload(Tensor.fromBytes(d, [R, G], bytes(12)));
      await device.launch(artifact, { x: dx, y: dy });
      const got = (await device.read(dy)).data;
      const first = got.findIndex((v, i) => v !== x.data[i]);
      expect(first, `first differing byte ${first}`).toBe(-1);
      dx.destroy();
      dy.destroy();
    },
  );

  it.each(named([u1, u3, i4, u7, f6e3m2, bool, u8, i16, f32]))(
    'masked loads and stores, %s',
    async (_, d) => {
      // Lanes where (i % 3 == 1) load `other` and are not stored; the rest are copied.
      const b = new ProgramBuilder(`masked_${d.name}`);
      b.global('x', d, ['N']);
      b.global('y', d, ['N'], 'write');
      b.grid(sbin('cdiv', b.sym('N'), 29));
      const at = sbin('mul', blockIdx(0), 29);
      const lane = b.arange(i32, 29, at);
      const keep = b.binary('ne', b.binary('mod', lane, 3), 1);
      b.store('y', [at], b.load('x', [at], [29], { mask: keep, other: 1 }), { mask: keep });
      b.store('y', [at], b.cast(b.load('x', [at], [29], { mask: keep, other: 1 }), d), { mask: keep });
      const N = 150;
      const out = await runBoth(b.build(), { x: randomTensor(d, [N], 7), y: poisoned(d, [N], 8) });
      expectSame(out.y.got, out.y.want);
    },
  );
});

// ---------------------------------------------------------------------------------------------

describe('integer semantics', () => {
  const OPS: BinaryOp[] = [
    'add',
    'sub',
    'mul',
    'div',
    'mod',
    'cdiv',
    'min',
    'max',
    'and',
    'or',
    'xor',
    'shl',
    'shr',
  ];
  const UNARY: UnaryOp[] = ['neg', 'abs', 'not'];

  /** Operand pairs: edge values (0, ±1, min, max, min / -1) crossed, then random values. */
  function operands(d: DType & { kind: 'int' }, n: number, seed: number): [number[], number[]] {
    const edges = [...new Set([0, 1, -1, 2, -2, d.min, d.max, d.min + 1, d.max - 1, 3, 7, 31, 32, 33])].map(
      (v) => castValue(i32, d, v),
    );
    const a: number[] = [];
    const b: number[] = [];
    for (const x of edges) {
      for (const y of edges) {
        a.push(x);
        b.push(y);
      }
    }
    const r = rng(seed);
    while (a.length < n) {
      a.push(castValue(u32, d, randomU32(r)));
      b.push(castValue(u32, d, randomInt(r, 0, 3) === 0 ? randomInt(r, -40, 40) : randomU32(r)));
    }
    return [a, b];
  }

  it.each(named([i1, i3, i4, i8, i16, i32, u1, u3, u4, u7, u8, u16, u32]))(
    '%s: every op, edge cases included',
    async (_, d) => {
      const id = d as DType & { kind: 'int' };
      const n = 256;
      const b = new ProgramBuilder(`int_${d.name}`);
      b.global('a', d, ['N']);
      b.global('b', d, ['N']);
      for (const op of [...OPS, ...UNARY]) b.global(op, d, ['N'], 'write');
      for (const op of ['lt', 'eq']) b.global(op, bool, ['N'], 'write');
      b.grid(sbin('cdiv', b.sym('N'), 64));
      const at = sbin('mul', blockIdx(0), 64);
      const ta = b.load('a', [at], [64]);
      const tb = b.load('b', [at], [64]);
      for (const op of OPS) b.store(op, [at], b.binary(op, ta, tb));
      for (const op of UNARY) b.store(op, [at], b.unary(op, ta));
      b.store('lt', [at], b.binary('lt', ta, tb));
      b.store('eq', [at], b.binary('eq', ta, tb));
      const [av, bv] = operands(id, Math.max(n, 14 * 14), 900 + d.bits);
      const N = av.length;
      const args: HostArgs = { a: Tensor.fromArray(d, [N], av), b: Tensor.fromArray(d, [N], bv) };
      for (const op of [...OPS, ...UNARY]) args[op] = poisoned(d, [N]);
      args.lt = poisoned(bool, [N]);
      args.eq = poisoned(bool, [N]);
      const out = await runBoth(b.build(), args);
      for (const [name, o] of Object.entries(out)) expectSame(o.got, o.want, name);
    },
  );
});

// ---------------------------------------------------------------------------------------------

describe('casts (castValue) between dtype pairs', () => {
  const TARGETS: DType[] = [
    bool,
    i1,
    i3,
    i8,
    i16,
    i32,
    u1,
    u4,
    u8,
    u16,
    u32,
    f16,
    bf16,
    f32,
    f4e2m1,
    f6e3m2,
    f8e4m3,
    f8e5m2,
  ];

  /** Values of `d`: every pattern of narrow types; edge and random values of 16/32-bit ones. */
  function values(d: DType, seed: number): Tensor {
    if (d.bits <= 8) {
      const n = 2 ** d.bits;
      const t = Tensor.zeros(d, [n]);
      for (let i = 0; i < n; i++) t.setPattern(i, i);
      return t;
    }
    const r = rng(seed);
    const edges =
      d.kind === 'float'
        ? [
            0,
            -0,
            1,
            -1,
            0.5,
            1.5,
            2.5,
            -2.5,
            65504,
            65520,
            65519.99,
            1e6,
            -1e6,
            2 ** 31,
            -(2 ** 31),
            2 ** 32,
            4e9,
            -5e9,
            300,
            -300,
            127.5,
            128.5,
            -128.5,
            255.5,
            1e-8,
            -1e-8,
            6e-8,
            3e-8,
            1e-40,
            448,
            449,
            464,
            480,
            57344,
            61440,
            Number.NaN,
            Number.POSITIVE_INFINITY,
            Number.NEGATIVE_INFINITY,
            3.4e38,
            -3.4e38,
            1 / 3,
            2 / 3,
          ]
        : [
            0,
            1,
            -1,
            127,
            128,
            -128,
            255,
            256,
            32767,
            -32768,
            65535,
            65536,
            2 ** 24 + 1,
            2 ** 25 + 2 ** 17 + 1,
            -(2 ** 25) - 2 ** 17 - 1,
            2 ** 31 - 1,
            -(2 ** 31),
            0x7fffff80,
            16777217,
            33554435,
          ];
    const vals = edges.map((v) => castValue(f32, d, Math.fround(v)));
    if (d.kind === 'int') for (let i = 0; i < edges.length; i++) vals[i] = castValue(i32, d, edges[i] | 0);
    while (vals.length < 512) {
      const x = d.kind === 'float' ? (r() - 0.5) * 2 ** randomInt(r, -30, 40) : randomU32(r);
      vals.push(d.kind === 'float' ? castValue(f32, d, x) : castValue(u32, d, x));
    }
    return Tensor.fromArray(d, [vals.length], vals);
  }

  it.each(
    named(
      ALL_DTYPES.filter(
        (d) => d.bits >= 16 || TARGETS.includes(d) || d.name === 'f5e2m2' || d.name === 'f7e4m2',
      ),
    ),
  )('from %s to every target', async (_, from) => {
    const b = new ProgramBuilder(`cast_from_${from.name}`);
    b.global('x', from, ['N']);
    for (const to of TARGETS) b.global(`y_${to.name}`, to, ['N'], 'write');
    b.grid(sbin('cdiv', b.sym('N'), 32));
    const at = sbin('mul', blockIdx(0), 32);
    const t = b.load('x', [at], [32]);
    for (const to of TARGETS) b.store(`y_${to.name}`, [at], b.cast(t, to));
    const x = values(from, 1000 + from.bits);
    const args: HostArgs = { x };
    for (const to of TARGETS) args[`y_${to.name}`] = poisoned(to, [x.size]);
    const out = await runBoth(b.build(), args);
    for (const [name, o] of Object.entries(out)) expectSame(o.got, o.want, `${from.name} -> ${name}`);
  });
});

// ---------------------------------------------------------------------------------------------

describe('float ops on f32 and narrow formats', () => {
  /** Inputs: special values, then random values over many binades. */
  function floats(n: number, seed: number, lo = -40, hi = 40): number[] {
    const specials = [
      0,
      -0,
      1,
      -1,
      0.5,
      -0.5,
      2,
      3,
      10,
      100,
      -100,
      1e-3,
      1e-30,
      1e-40,
      88,
      89,
      -103,
      -104,
      1e10,
      1e30,
      3.4e38,
      1e5,
      123456.789,
      2 ** 19,
      2 ** 24 + 2,
      2 ** 60,
      1e20,
      -1e22,
      16367173 * 2 ** 72,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Math.PI,
      -Math.PI / 2,
      0.7853981,
      4,
      3.9,
      6,
    ];
    const r = rng(seed);
    const out = specials.map(Math.fround);
    while (out.length < n) {
      const mag = 2 ** (lo + (hi - lo) * r());
      out.push(Math.fround((r() < 0.5 ? -1 : 1) * mag));
    }
    return out;
  }

  // Exact: computed with correctly rounded f32 (or f64, exactly as the interpreter) operations.
  const EXACT_UNARY: UnaryOp[] = ['neg', 'abs', 'sqrt', 'rsqrt', 'floor', 'ceil', 'round', 'trunc'];
  // Approximated in f64 to a few f64 ulp, then rounded once: at most 1 ulp of the format from the
  // interpreter's correctly rounded value (docs/wasm-backend.md).
  const APPROX_UNARY: UnaryOp[] = ['exp', 'exp2', 'log', 'log2', 'tanh', 'erf', 'sin', 'cos'];
  const EXACT_BINARY: BinaryOp[] = [
    'add',
    'sub',
    'mul',
    'div',
    'mod',
    'min',
    'max',
    'lt',
    'le',
    'eq',
    'ne',
    'gt',
    'ge',
  ];

  function program(d: DType, unaryOps: readonly UnaryOp[], binaryOps: readonly BinaryOp[]): Program {
    const b = new ProgramBuilder(`float_${d.name}`);
    b.global('a', d, ['N']);
    b.global('b', d, ['N']);
    for (const op of unaryOps) b.global(op, d, ['N'], 'write');
    for (const op of binaryOps)
      b.global(op, ['lt', 'le', 'eq', 'ne', 'gt', 'ge'].includes(op) ? bool : d, ['N'], 'write');
    b.grid(sbin('cdiv', b.sym('N'), 16));
    const at = sbin('mul', blockIdx(0), 16);
    const ta = b.load('a', [at], [16]);
    const tb = b.load('b', [at], [16]);
    for (const op of unaryOps) b.store(op, [at], b.unary(op, ta));
    for (const op of binaryOps) b.store(op, [at], b.binary(op, ta, tb));
    return b.build();
  }

  function outputsFor(p: Program, N: number): HostArgs {
    const args: HostArgs = {};
    for (const q of p.params)
      if (q.kind === 'global' && q.access === 'write') args[q.name] = poisoned(q.dtype, [N]);
    return args;
  }

  it.each(named([f32, f16, bf16, f8e4m3, f8e5m2, f6e3m2, f4e2m1]))(
    '%s: exact ops match bit for bit',
    async (_, d) => {
      const p = program(d, EXACT_UNARY, [...EXACT_BINARY, ...(d === f32 ? [] : (['pow'] as BinaryOp[]))]);
      const av = floats(700, 31);
      const bv = floats(700, 32, -10, 10);
      const N = av.length;
      const a = Tensor.fromArray(d, [N], av);
      const b = Tensor.fromArray(d, [N], bv);
      const out = await runBoth(p, { a, b, ...outputsFor(p, N) });
      for (const [name, o] of Object.entries(out)) {
        // pow on narrow formats: within one step of the format from a result accurate to 1e-13.
        if (name === 'pow')
          expectClose(
            o.got,
            o.want,
            (w) => Math.abs(w) * 2 ** -(d as { mantissaBits: number }).mantissaBits,
            name,
          );
        else expectSame(o.got, o.want, name);
      }
    },
  );

  it.each(named([f32, f16, bf16, f8e4m3]))(
    '%s: exp, exp2, log, log2, tanh, erf, sin, cos, pow within 1 ulp',
    async (_, d) => {
      const p = program(d, APPROX_UNARY, ['pow']);
      const av = floats(1500, 41, -20, 8);
      const bv = floats(1500, 42, -4, 3);
      const N = av.length;
      const out = await runBoth(p, {
        a: Tensor.fromArray(d, [N], av),
        b: Tensor.fromArray(d, [N], bv),
        ...outputsFor(p, N),
      });
      const M = (d as { mantissaBits: number }).mantissaBits;
      let exact = 0;
      let total = 0;
      for (const [name, o] of Object.entries(out)) {
        // One ulp of the format at the interpreter's value (the result is correctly rounded from a
        // value within a few f64 ulp, so it is one of the two neighbours of the exact value).
        expectClose(
          o.got,
          o.want,
          (w) => (d === f32 ? ulpF32(w) : Math.max(Math.abs(w) * 2 ** -M, 2 ** -133)),
          name,
        );
        const g = o.got.patterns();
        const w = o.want.patterns();
        for (let i = 0; i < w.length; i++) exact += g[i] === w[i] ? 1 : 0;
        total += w.length;
      }
      expect(exact / total).toBeGreaterThan(0.999); // nearly always the correctly rounded value
    },
  );
});

// ---------------------------------------------------------------------------------------------

describe('tile ops', () => {
  it('reductions along every axis, shape ops, views, shared tiles and dot on mixed dtypes', async () => {
    const b = new ProgramBuilder('tile_ops');
    b.global('x', f16, ['M', 'N']);
    b.global('q', u4, ['M', 'N']);
    b.global('w', i8, ['N', 'K']);
    b.global('s0', f32, ['N'], 'write');
    b.global('s1', f16, ['M'], 'write');
    b.global('mx', i32, ['M'], 'write');
    b.global('t', f16, ['N', 'M'], 'write');
    b.global('rp', f16, ['M', 'N', 2], 'write');
    b.global('v', u8, ['M', 'V'], 'write');
    b.global('d', i32, ['M', 'K'], 'write');
    b.global('df', f32, ['M', 'K'], 'write');
    b.grid(1);
    const tx = b.load('x', [0, 0], [6, 8]);
    b.store('s0', [0], b.reduce('sum', tx, 0, { dtype: f32 }));
    b.store('s1', [0], b.reduce('sum', tx, 1));
    const tq = b.load('q', [0, 0], [6, 8]);
    b.store('mx', [0], b.reduce('max', b.cast(tq, i32), 1));
    b.store('t', [0, 0], b.transpose(tx));
    b.store('rp', [0, 0, 0], b.repeat(b.unsqueeze(tx, 2), [1, 1, 2]));
    b.store('v', [0, 0], b.view(tq, u8));
    const sm = b.shared(i8, [8, 8]);
    b.storeShared(sm, b.load('w', [0, 0], [8, 5]), [0, 1]);
    b.sync();
    const tw = b.loadShared(sm, [0, 1], [8, 5]);
    b.store('d', [0, 0], b.dot(b.cast(tq, i8), tw, b.zeros(i32, [6, 5])));
    b.store('df', [0, 0], b.dot(b.cast(tx, f32), b.cast(tw, f32), b.full(f32, [6, 5], 0.25)));
    const [M, N, K] = [6, 8, 5];
    const out = await runBoth(b.build(), {
      x: randomTensor(f16, [M, N], 1),
      q: randomTensor(u4, [M, N], 2),
      w: randomTensor(i8, [N, K], 3),
      s0: poisoned(f32, [N]),
      s1: poisoned(f16, [M]),
      mx: poisoned(i32, [M]),
      t: poisoned(f16, [N, M]),
      rp: poisoned(f16, [M, N, 2]),
      v: poisoned(u8, [M, 4]),
      d: poisoned(i32, [M, K]),
      df: poisoned(f32, [M, K]),
    });
    for (const [name, o] of Object.entries(out)) expectSame(o.got, o.want, name);
  });

  it.each(named([i8, u8, i32, u32, f16, bf16, f32, f8e4m3, bool]))(
    'scalar expressions in %s',
    async (_, d) => {
      // Every op on two scalar params, let_scalar, select and casts, brought into tiles with `full`.
      const ops: BinaryOp[] =
        d.kind === 'bool'
          ? ['and', 'or', 'xor', 'eq', 'ne']
          : d.kind === 'float'
            ? ['add', 'sub', 'mul', 'div', 'mod', 'min', 'max', 'pow', 'lt', 'eq']
            : ['add', 'sub', 'mul', 'div', 'mod', 'cdiv', 'min', 'max', 'and', 'shl', 'shr', 'lt', 'ne'];
      const b = new ProgramBuilder(`scalars_${d.name}`);
      const sa = b.scalar('a', d);
      const sb = b.scalar('b', d);
      b.global('y', f32, ['N'], 'write');
      b.global('z', i32, ['N'], 'write');
      b.grid(1);
      ops.forEach((op, i) => {
        const v = b.let(`v${i}`, sbin(op, sa, sb));
        b.store('y', [2 * i], b.full(f32, [1], v));
        b.store('z', [2 * i], b.full(i32, [1], v));
        // bool has no ordering (the VM rejects lt on bool): compare with ne there.
        const cmp = d.kind === 'bool' ? 'ne' : 'lt';
        const w = b.let(`w${i}`, castScalar(select(sbin(cmp, sa, sb), v, sbin(op, sb, sa)), i8));
        b.store('z', [2 * i + 1], b.full(i32, [1], w));
        b.store('y', [2 * i + 1], b.full(f32, [1], castScalar(w, d)));
      });
      const prog = b.build();
      const pairs =
        d.kind === 'bool'
          ? [
              [0, 1],
              [1, 1],
              [1, 0],
            ]
          : d.kind === 'float'
            ? [
                [1.5, -2.25],
                [-7, 0],
                [3, 0.1],
              ]
            : [
                [d.kind === 'int' ? d.max : 0, -1],
                [-100, 7],
                [d.kind === 'int' ? d.min : 0, 0],
                [5, 37],
              ];
      for (const [x, y] of pairs) {
        const a = castValue(f32, d, x);
        const bb = castValue(i32, d, y);
        const N = 2 * ops.length;
        const out = await runBoth(prog, {
          a,
          b: d.kind === 'float' ? castValue(f32, d, y) : bb,
          y: poisoned(f32, [N]),
          z: poisoned(i32, [N]),
        });
        expectSame(out.y.got, out.y.want, `a = ${a}, b = ${y}`);
        expectSame(out.z.got, out.z.want, `a = ${a}, b = ${y}`);
      }
    },
  );

  it('loops, ifs and scalar arithmetic in narrow dtypes', async () => {
    const k = kernel({
      name: 'scalars',
      params: { y: param(i32, ['N'], 'write'), z: param(f16, ['N'], 'write'), n: i8 },
    })`
      grid(cdiv(N, 4));
      threads(4);
      let acc = zeros(i32, [4]);
      for (let i = 0; i < N; i += 3) {
        if (i % 2 == 0) { acc += i; } else { acc -= n; }
      }
      store(y, [blockIdx.x * 4], acc + arange(4, blockIdx.x * 4));
      store(z, [blockIdx.x * 4], full(f16, [4], n) * 0.1 / 3);
    `;
    const N = 22;
    const out = await runBoth(k.compile().program, { y: poisoned(i32, [N]), z: poisoned(f16, [N]), n: -7 });
    expectSame(out.y.got, out.y.want, 'y');
    expectSame(out.z.got, out.z.want, 'z');
  });
});

afterAll(() => {
  const invalid = compiled.filter((c) => !c.valid);
  if (invalid.length > 0) throw new Error(`modules that do not validate: ${JSON.stringify(invalid)}`);
});
