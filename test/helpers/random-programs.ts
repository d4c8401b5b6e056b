/**
 * A seeded generator of random, valid VM programs for differential testing: every backend must
 * compute what the reference interpreter computes on them.
 *
 * `randomProgram(seed)` builds one program with ProgramBuilder (so it passes validateProgram) and
 * returns `makeArgs(seed)`, which sizes the symbolic dims (mostly leaving edge tiles) and draws input
 * values, plus the names of the outputs and, per float output, the absolute tolerance a backend is
 * held to (0: bit-exact up to the sign of zero; see test/backend/wgsl-random.test.ts).
 *
 * Programs are one of six skeletons (1-D map, 2-D map, rows of a 2-D tensor as 1-D tiles, a loop
 * over tiles in 1-D and 2-D, a tiled matmul), filled with a random chain of tile ops over a pool of
 * values: casts between all dtype families, elementwise ops valid for the dtype, comparisons and
 * select, reductions brought back by keepdim/unsqueeze/repeat/broadcast, group reductions through
 * reshape, transposes, small dots (float and int), shared-memory round trips with sync, bit views,
 * an `if` on a scalar condition, masked loads with `other`, and masked stores.
 *
 * Float values are tracked by a small interval analysis (`Info`) so that no program can produce
 * NaN, Inf or an f32 subnormal: every float value v satisfies |v| <= M and is an integer multiple of
 * the power of two q (so a nonzero |v| >= q >= 2^-126). Ops whose results a backend may compute
 * with a few ulp of error (exp, exp2, log, log2, sqrt, rsqrt, tanh, erf, sin, cos, float div) make a
 * value inexact; `err` bounds how far a conforming backend's value may be from the interpreter's,
 * propagated through later ops (see TRANSCENDENTAL_RULES), and discontinuous ops (comparisons,
 * floor/round, float mod, casts to int or bool, views) never see inexact values. Everything else
 * (add, sub, mul, min, max, fmod, casts, reductions and dots in index order) is exact: a backend
 * must reproduce it bit for bit.
 *
 * Tiles stay small (at most 256 elements, 1024 after a view) and launches small (`maxElements`), so
 * a program runs in well under a second on SwiftShader.
 */
import {
  ALL_DTYPES,
  bf16,
  bool,
  type DType,
  decode,
  encode,
  type FloatDType,
  f4e2m1,
  f6e3m2,
  f8e4m3,
  f8e5m2,
  f16,
  f32,
  i4,
  i8,
  i16,
  i32,
  roundToDType,
  u4,
  u8,
  u32,
} from '../../dsl/dtype.js';
import { ProgramBuilder } from '../../dsl/ir/builder.js';
import type { BinaryOp, ReduceOp, UnaryOp } from '../../dsl/ir/ops.js';
import type { Program, TileVar } from '../../dsl/ir/program.js';
import {
  constant,
  type ScalarExpr,
  type ScalarLike,
  binary as sbin,
  scalarVar,
} from '../../dsl/ir/scalar.js';
import { evalShapeExpr, parseShapeExpr } from '../../dsl/ir/shape-expr.js';
import { broadcastShapes } from '../../dsl/ir/shapes.js';
import { Tensor } from '../../dsl/tensor.js';
import { randomInt, rng } from './random.js';

export interface RandomProgramOptions {
  /** Most elements any global tensor gets at launch (default 1024). */
  maxElements?: number;
  /** Allow transcendentals and float div, which make results inexact (default true). */
  transcendentals?: boolean;
  /** Most random ops in one chain (default 8). */
  maxSteps?: number;
}

export interface RandomProgram {
  program: Program;
  /** All arguments: inputs with representable, never all-zero values; write-only outputs filled with random bits. */
  makeArgs(seed: number): Record<string, Tensor | number>;
  /** The params the program writes. */
  outputs: string[];
  /**
   * Per output, the absolute difference a conforming backend may show on a float output element
   * (0: none, beyond the sign of zero). Integer and bool outputs are always bit-exact.
   */
  tolerance: Readonly<Record<string, number>>;
  /** Coverage tags: the features this program exercises. */
  tags: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Value analysis

/** What the generator knows about every element of a tile. */
interface Info {
  /** |v| <= M. */
  readonly M: number;
  /** Floats: every value is an integer multiple of q (a power of two). Integers: 1. */
  readonly q: number;
  /** Floats: how far a conforming backend's value may be from the interpreter's (0: exactly equal). */
  readonly err: number;
  /** The sign of zero is IEEE-determined (no float min/max/ceil/trunc/round on the way). */
  readonly zsign: boolean;
  /**
   * Floats, in specials mode only: may hold NaN or ±Inf. Such values only meet ops whose NaN and
   * Inf results the interpreter defines and IEEE arithmetic makes deterministic (add, sub, mul,
   * min, max, abs, neg, floor/ceil/round/trunc, fmod, comparisons, select, casts, reductions,
   * dots): never transcendentals, div or views.
   */
  readonly special?: boolean;
}

const MIN_NORMAL = 2 ** -126;

/**
 * Specials mode of the program being generated (set by randomProgram for its duration): inputs
 * hold NaN, ±Inf and -0, and overflow to Inf is allowed, making a value special.
 */
let specialsMode = false;

/** Can a tile of `d` hold NaN or Inf? (Every format but the all-finite small floats.) */
function canHoldSpecial(d: DType): boolean {
  return isFloatD(d) && d.rule !== 'finite';
}

function isFloatD(d: DType): d is FloatDType {
  return d.kind === 'float';
}

function intInfo(d: DType): Info {
  const M = d.kind === 'int' ? Math.max(-d.min, d.max) : 1;
  return { M, q: 1, err: 0, zsign: true };
}

/** Largest magnitude a value of `d` may have without risking Inf (or overflow inside an f32 op). */
function limitOf(d: DType): number {
  if (!isFloatD(d) || d.rule !== 'ieee') return Number.POSITIVE_INFINITY;
  return d.exponentBits >= 8 ? 2 ** 100 : d.maxFinite;
}

/** Spacing of `d`'s values in the binade of x (x > 0). */
function spacing(d: FloatDType, x: number): number {
  if (!(x > 0)) return d.minSubnormal;
  const e = Math.floor(Math.log2(x));
  return Math.max(d.minSubnormal, 2 ** (e - d.mantissaBits));
}

/** A bound on one rounding step of `d` for values of magnitude <= M. */
function ulpBound(d: FloatDType, M: number): number {
  return 2 * spacing(d, Math.max(M, d.minSubnormal));
}

/** The largest power of two that divides c (Infinity for 0). */
function quantumOf(c: number): number {
  if (c === 0 || !Number.isFinite(c)) return Number.POSITIVE_INFINITY;
  let p = 2 ** Math.floor(Math.log2(Math.abs(c)));
  while (c / p !== Math.trunc(c / p)) p /= 2;
  return p;
}

/** Normalizes a float value's info to what tiles of `d` can hold (saturating formats cap M; NaN becomes 0). */
function fin(d: FloatDType, M: number, q: number, err: number, zsign: boolean, special = false): Info {
  if (d.rule !== 'ieee' && !(M <= d.maxFinite)) {
    q = Math.min(q, spacing(d, d.maxFinite));
    M = d.maxFinite;
  }
  q = Math.max(q, d.minSubnormal);
  if (special && canHoldSpecial(d))
    return { M: d.rule === 'ieee' ? Number.POSITIVE_INFINITY : M, q, err, zsign, special };
  return { M, q, err, zsign };
}

/** Can a tile of `d` safely hold values with this info? */
function valid(d: DType, info: Info): boolean {
  if (!isFloatD(d)) return true;
  if (info.special) return info.err === 0 && info.q >= MIN_NORMAL;
  if (!(info.M <= limitOf(d)) || !(info.q >= MIN_NORMAL)) return false;
  return info.err === 0 || info.err <= info.M / 4;
}

/**
 * `info` if a tile of `d` can safely hold it; in specials mode an exact value that may overflow
 * becomes special (overflow to Inf is IEEE-deterministic); else undefined.
 */
function settle(d: DType, info: Info): Info | undefined {
  if (valid(d, info)) return info;
  if (!specialsMode || !isFloatD(d) || info.err > 0 || !(info.q >= MIN_NORMAL)) return undefined;
  return fin(d, info.M, info.q, 0, info.zsign, true);
}

function merge(a: Info, b: Info): Info {
  const special = a.special || b.special;
  return {
    M: Math.max(a.M, b.M),
    q: Math.min(a.q, b.q),
    err: Math.max(a.err, b.err),
    zsign: a.zsign && b.zsign,
    ...(special ? { special } : {}),
  };
}

/** Info of a cast, or undefined when the cast is not safe for differential testing. */
function castInfo(from: DType, to: DType, info: Info): Info | undefined {
  if (!isFloatD(to)) {
    if (isFloatD(from) && info.err > 0) return undefined; // truncation is discontinuous
    return intInfo(to);
  }
  let out: Info;
  if (isFloatD(from)) {
    const err = info.err > 0 ? info.err + ulpBound(to, info.M) : 0;
    out = fin(to, info.M, info.q, err, info.zsign, info.special);
  } else {
    out = fin(to, intInfo(from).M, 1, 0, true);
  }
  return settle(to, out);
}

// ---------------------------------------------------------------------------------------------
// Dtypes

const SUBBYTE_INTS = ALL_DTYPES.filter((d) => d.kind === 'int' && d.bits < 8);
const WIDE_INTS = ALL_DTYPES.filter((d) => d.kind === 'int' && d.bits >= 8);
const SMALL_FLOATS = ALL_DTYPES.filter((d) => d.kind === 'float' && d.bits <= 8);
const OCP_FLOATS: readonly DType[] = [
  f4e2m1,
  f6e3m2,
  f8e4m3,
  f8e5m2,
  ALL_DTYPES.find((d) => d.name === 'f6e2m3')!,
];
const IEEE_FLOATS: readonly DType[] = [f32, f16, bf16];
const ALL_INTS = ALL_DTYPES.filter((d) => d.kind === 'int');

// ---------------------------------------------------------------------------------------------
// Launch specs (what makeArgs needs)

interface ValueSpec {
  /** Floats: |v| < 2^maxExp. */
  readonly maxExp: number;
  /** Floats: nonzero |v| >= 2^minExp (undefined: any, only for formats with no f32 subnormals). */
  readonly minExp: number | undefined;
  /** Floats: some elements are -0, ±Inf or NaN (a canonical and a negative one), where the format has them. */
  readonly specials?: boolean;
}

interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly (string | number)[];
  /** 'values': representable random values; 'poison': random bits (write-only outputs). */
  readonly init: 'values' | 'poison';
  readonly values?: ValueSpec;
}

interface SymbolSpec {
  readonly name: string;
  readonly lo: number;
  readonly hi: number;
  /** The tile size along this dim: sizes are mostly chosen to leave an edge tile. */
  readonly tile: number;
}

interface ScalarSpec {
  readonly name: string;
  readonly choices: readonly number[];
}

const patternCache = new Map<string, Uint32Array>();

/** Every bit pattern of a <= 16-bit float format with a finite value inside the spec's range. */
function floatPatterns(d: FloatDType, spec: ValueSpec): Uint32Array {
  const key = `${d.name}:${spec.maxExp}:${spec.minExp}`;
  let out = patternCache.get(key);
  if (!out) {
    const list: number[] = [];
    const hi = 2 ** spec.maxExp;
    const lo = spec.minExp === undefined ? 0 : 2 ** spec.minExp;
    for (let p = 0; p < 2 ** d.bits; p++) {
      const v = decode(d, p);
      if (!Number.isFinite(v) || Math.abs(v) >= hi) continue;
      if (v !== 0 && Math.abs(v) < lo) continue;
      list.push(p);
    }
    out = Uint32Array.from(list);
    patternCache.set(key, out);
  }
  return out;
}

function inputInfo(d: DType, spec: ValueSpec | undefined): Info {
  if (!isFloatD(d) || !spec) return intInfo(d);
  const M = Math.min(2 ** spec.maxExp, d.maxFinite);
  const q =
    spec.minExp === undefined
      ? d.minSubnormal
      : Math.max(d.minSubnormal, 2 ** (spec.minExp - d.mantissaBits));
  return fin(d, M, q, 0, true, spec.specials);
}

/** -0, ±Inf and NaNs of a format: the canonical NaN and one with the sign bit set. */
function specialPatterns(d: FloatDType): number[] {
  const sign = 2 ** (d.bits - 1);
  const out = [encode(d, -0)];
  if (d.rule === 'ieee') {
    const nan = encode(d, Number.NaN);
    out.push(encode(d, Number.POSITIVE_INFINITY), encode(d, Number.NEGATIVE_INFINITY), nan, nan + sign);
  }
  if (d.rule === 'fn') out.push(encode(d, Number.NaN), 2 ** d.bits - 1);
  return out;
}

function randomPattern(r: () => number, d: DType, spec: ValueSpec | undefined): number {
  if (isFloatD(d) && spec) {
    if (r() < 1 / 16) return 0;
    if (spec.specials && r() < 1 / 6) {
      const specials = specialPatterns(d);
      return specials[randomInt(r, 0, specials.length - 1)];
    }
    if (d.bits === 32) {
      const lo = spec.minExp ?? -126;
      const e = randomInt(r, lo, spec.maxExp - 1);
      const sign = r() < 0.5 ? 0x80000000 : 0;
      return (sign + (e + 127) * 2 ** 23 + randomInt(r, 0, 2 ** 23 - 1)) >>> 0;
    }
    const patterns = floatPatterns(d, spec);
    return patterns[randomInt(r, 0, patterns.length - 1)];
  }
  return randomInt(r, 0, 2 ** d.bits - 1);
}

function randomTensor(r: () => number, d: DType, shape: number[], spec: ValueSpec | undefined): Tensor {
  const t = Tensor.zeros(d, shape);
  let nonzero = false;
  for (let i = 0; i < t.size; i++) {
    const p = randomPattern(r, d, spec);
    if (decode(d, p) !== 0) nonzero = true;
    t.setPattern(i, p);
  }
  if (!nonzero && t.size > 0) {
    // Never all zeros: put a nonzero value somewhere.
    let p = 0;
    for (let tries = 0; tries < 1000 && decode(d, p) === 0; tries++) p = randomPattern(r, d, spec);
    if (decode(d, p) === 0) p = encode(d, 1);
    t.setPattern(randomInt(r, 0, t.size - 1), p);
  }
  return t;
}

function poisonTensor(r: () => number, d: DType, shape: number[]): Tensor {
  const n = shape.reduce((a, c) => a * c, 1);
  const bytes = new Uint8Array(Math.ceil((n * d.bits) / 8) + 4);
  for (let i = 0; i < bytes.length; i++) bytes[i] = randomInt(r, 0, 255);
  return Tensor.fromBytes(d, shape, bytes);
}

// ---------------------------------------------------------------------------------------------
// The generator

const TILE_1D = [1, 2, 3, 4, 5, 7, 8, 12, 13, 16, 24, 31, 32, 33, 48, 64, 100, 128, 200, 256];
const TILE_DIM = [1, 2, 3, 4, 5, 7, 8, 9, 16, 32];
const FLOAT_CONSTS = [0.5, -1.5, 2, 3, -0.25, 0.1, 1 / 3, 7, -4, 1.25, -0.75];

/**
 * How each transcendental's result may differ between a conforming backend and the interpreter
 * (which rounds the float64 result once): WGSL's accuracy for the builtin (exp, exp2: 3 + 2|x| ulp;
 * inverseSqrt: 2 ulp; sqrt: as 1 / inverseSqrt; log, log2: 2^-21 absolute near 1, else 3 ulp; sin, cos:
 * 2^-11 absolute on [-pi, pi]), or a few ulp of 1 for tanh and erf, which backends build from exp;
 * plus one rounding to the tile's format; plus the input's error times the op's Lipschitz bound.
 * `lo` bounds the smallest nonzero result magnitude (for the no-subnormal analysis).
 */
interface TranscendentalRule {
  readonly pre: 'clamp' | 'abs' | 'abs1';
  /** For 'clamp': the largest |x| the op gets. */
  readonly limit: (g: { pick<T>(xs: readonly T[]): T }) => number;
  readonly info: (d: FloatDType, a: Info) => { M: number; lo: number; err: number };
}

const LN2 = Math.LN2;
const noLimit = () => Number.POSITIVE_INFINITY;
const TRANSCENDENTAL_RULES: Partial<Record<UnaryOp, TranscendentalRule>> = {
  exp: {
    pre: 'clamp',
    limit: (g) => g.pick([1, 2, 4]),
    info: (d, a) => {
      const M = Math.exp(a.M);
      return { M, lo: Math.exp(-a.M), err: M * a.err + (4 + 2 * a.M) * ulpBound(d, M) };
    },
  },
  exp2: {
    pre: 'clamp',
    limit: (g) => g.pick([1, 2, 4]),
    info: (d, a) => {
      const M = 2 ** a.M;
      return { M, lo: 2 ** -a.M, err: M * LN2 * a.err + (4 + 2 * a.M) * ulpBound(d, M) };
    },
  },
  tanh: {
    pre: 'clamp',
    limit: () => 8,
    info: (d, a) => ({ M: Math.min(a.M, 1), lo: Math.min(a.q, 1) / 2, err: a.err + 8 * ulpBound(d, 1) }),
  },
  erf: {
    pre: 'clamp',
    limit: () => 8,
    info: (d, a) => ({
      M: Math.min(1.13 * a.M, 1),
      lo: Math.min(a.q, 1) / 2,
      err: 1.13 * a.err + 8 * ulpBound(d, 1),
    }),
  },
  sqrt: {
    pre: 'abs',
    limit: noLimit,
    info: (d, a) => {
      const M = Math.sqrt(a.M);
      return { M, lo: Math.sqrt(a.q), err: 6 * ulpBound(d, M) };
    },
  },
  rsqrt: {
    pre: 'abs1',
    limit: noLimit,
    info: (d, a) => ({ M: 1, lo: 1 / Math.sqrt(a.M), err: a.err / 2 + 4 * ulpBound(d, 1) }),
  },
  log: {
    pre: 'abs1',
    limit: noLimit,
    info: (d, a) => {
      const M = Math.log(a.M);
      return { M, lo: Math.min(a.q, 1) / 2, err: a.err + 2 ** -21 + 4 * ulpBound(d, M) };
    },
  },
  log2: {
    pre: 'abs1',
    limit: noLimit,
    info: (d, a) => {
      const M = Math.log2(a.M);
      return { M, lo: Math.min(a.q, 1) / 2, err: a.err / LN2 + 2 ** -21 + 4 * ulpBound(d, M) };
    },
  },
  sin: {
    pre: 'clamp',
    limit: () => 3,
    info: (d, a) => ({
      M: Math.min(a.M, 1),
      lo: Math.min(a.q / 2, 0.14),
      err: a.err + 2 ** -11 + ulpBound(d, 1),
    }),
  },
  cos: {
    pre: 'clamp',
    limit: () => 3,
    // cos has zeros at +-pi/2, where it is at least the distance of the nearest value of the format.
    info: (d, a) => ({ M: 1, lo: 2 ** -(d.mantissaBits + 6), err: a.err + 2 ** -11 + ulpBound(d, 1) }),
  },
};
const TRANSCENDENTALS = Object.keys(TRANSCENDENTAL_RULES) as UnaryOp[];

/** Where the main tile sits, for index tiles, masks and partial outputs. */
interface Frame {
  /** Offsets of the main tile in the main tensors (one per global dim). */
  readonly offsets: readonly ScalarLike[];
  /** Global dims of the main tensors, e.g. ['M', 'N']. */
  readonly dims: readonly string[];
  /** First column index of the tile (the last dim) and, for 2-D tiles, the first row. */
  readonly col0: ScalarExpr;
  readonly row0?: ScalarExpr;
}

type Kind = 'map1d' | 'map2d' | 'rows' | 'loop1d' | 'loop2d' | 'matmul';

class Gen {
  readonly r: () => number;
  readonly b: ProgramBuilder;
  readonly infos = new Map<TileVar, Info>();
  pool: TileVar[] = [];
  readonly tags = new Set<string>();
  readonly tensors: TensorSpec[] = [];
  readonly scalarSpecs: ScalarSpec[] = [];
  readonly symbols: SymbolSpec[] = [];
  readonly outputs: string[] = [];
  readonly tolerance: Record<string, number> = {};
  /** The main tile shape. */
  S: number[] = [];
  frame!: Frame;
  inLoop = false;
  /** Specials mode (see `specialsMode`). */
  specials = false;
  /** Inside a loop body: the values defined outside it. */
  loopOuter: ReadonlySet<TileVar> = new Set();
  private flag: ScalarExpr | undefined;

  constructor(
    readonly seed: number,
    readonly opts: Required<RandomProgramOptions>,
  ) {
    this.r = rng((Math.imul(seed, 0x9e3779b1) ^ 0x5bd1e995) >>> 0);
    this.b = new ProgramBuilder(`rand_${seed >>> 0}`);
  }

  // ---- randomness ----

  int(lo: number, hi: number): number {
    return randomInt(this.r, lo, hi);
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(0, xs.length - 1)];
  }
  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    const total = entries.reduce((a, [, w]) => a + w, 0);
    let x = this.r() * total;
    for (const [v, w] of entries) {
      x -= w;
      if (x < 0) return v;
    }
    return entries[entries.length - 1][0];
  }

  randomDtype(): DType {
    return this.weighted<() => DType>([
      [() => this.pick(IEEE_FLOATS), 30],
      [() => this.pick(OCP_FLOATS), 10],
      [() => this.pick(SMALL_FLOATS), 8],
      [() => this.pick(SUBBYTE_INTS), 20],
      [() => this.pick(WIDE_INTS), 25],
      [() => bool, 4],
    ])();
  }

  // ---- values ----

  info(t: TileVar): Info {
    return this.infos.get(t)!;
  }
  dt(t: TileVar): DType {
    return t.type.dtype;
  }
  add(t: TileVar, info: Info, pool = true): TileVar {
    this.infos.set(t, info);
    if (pool) this.pool.push(t);
    return t;
  }
  /** A pool value, biased toward recent ones. */
  pickVal(filter: (t: TileVar) => boolean = () => true): TileVar | undefined {
    const c = this.pool.filter(filter);
    if (c.length === 0) return undefined;
    const x = this.r();
    return c[c.length - 1 - Math.floor(c.length * x * x)];
  }
  isMain(t: TileVar): boolean {
    return sameShape(t.type.shape, this.S);
  }
  toMain(t: TileVar): TileVar {
    if (this.isMain(t)) return t;
    this.tags.add('broadcast');
    return this.add(this.b.broadcast(t, this.S), this.info(t), false);
  }

  // ---- params ----

  symbol(name: string, lo: number, hi: number, tile: number): ScalarExpr {
    this.symbols.push({ name, lo, hi: Math.max(lo, hi), tile });
    return this.b.sym(name);
  }
  symbolHi(name: string): number {
    return this.symbols.find((s) => s.name === name)!.hi;
  }

  valueSpec(d: DType): ValueSpec | undefined {
    if (!isFloatD(d)) return undefined;
    const specials = this.specials;
    if (d.exponentBits >= 8) return { maxExp: this.int(0, 10), minExp: this.int(-10, -1), specials };
    if (d === f16) return { maxExp: this.int(1, 10), minExp: undefined, specials };
    const top = Math.floor(Math.log2(d.maxFinite)) + 1;
    // ieee and fn small formats sometimes get a narrower range, so that products stay finite.
    const maxExp = d.rule === 'finite' || this.chance(0.4) ? top : Math.max(1, top - this.int(1, 4));
    return { maxExp, minExp: undefined, specials };
  }

  /** Declares an input (or readwrite output) tensor filled with random values. */
  input(
    name: string,
    d: DType,
    dims: readonly (string | number)[],
    access: 'read' | 'readwrite' = 'read',
  ): Info {
    const values = this.valueSpec(d);
    this.b.global(name, d, dims, access);
    this.tensors.push({ name, dtype: d, dims, init: 'values', values });
    this.tags.add(`in:${d.name}`);
    return inputInfo(d, values);
  }

  output(name: string, d: DType, dims: readonly (string | number)[]): void {
    this.b.global(name, d, dims, 'write');
    this.tensors.push({ name, dtype: d, dims, init: 'poison' });
    this.outputs.push(name);
    this.tags.add(`out:${d.name}`);
    if (d.kind !== 'float' && d.bits < 8) this.tags.add('out:subbyte');
  }

  scalarParam(name: string, d: DType, choices: readonly number[]): ScalarExpr {
    this.scalarSpecs.push({ name, choices });
    this.tags.add(`scalar-param:${d.name}`);
    return this.b.scalar(name, d);
  }

  // ---- loads ----

  /** Loads a main-shaped tile of a tensor with the main dims, maybe masked and with `other`. */
  loadMain(name: string, info: Info, offsets: readonly ScalarLike[] = this.frame.offsets): TileVar {
    const p = this.b.paramList.find((q) => q.name === name)!;
    const d = p.dtype;
    let other: number | undefined;
    let mask: TileVar | undefined;
    let inf = info;
    if (this.chance(0.35)) {
      other = this.otherValue(d);
      this.tags.add('load:other');
      const v = roundToDType(d, other);
      const special = info.special || !Number.isFinite(v);
      inf = isFloatD(d)
        ? fin(d, Math.max(info.M, Math.abs(v)), Math.min(info.q, quantumOf(v)), 0, true, special)
        : info;
    }
    if (this.chance(0.25)) mask = this.makeMask();
    if (mask) this.tags.add('load:mask');
    const t = this.b.load(name, offsets, this.S, {
      ...(other !== undefined ? { other } : {}),
      ...(mask ? { mask } : {}),
    });
    return this.add(t, inf);
  }

  otherValue(d: DType): number {
    if (d.kind === 'bool') return this.int(0, 1);
    if (d.kind === 'int') return this.pick([0, 1, -1, 3, 100, d.max, d.min]);
    if (this.specials && this.chance(0.5)) {
      return this.pick([Number.NEGATIVE_INFINITY, Number.POSITIVE_INFINITY, Number.NaN, -0]);
    }
    return this.pick([0, 1, -1, 0.5, -2.5, 1.25, 3]);
  }

  /** A bool tile of the main shape: an index bound, or a comparison of an exact value. */
  makeMask(): TileVar {
    const exact = this.pickVal((t) => this.dt(t).kind !== 'bool' && this.info(t).err === 0);
    if (exact && this.chance(0.4)) {
      const d = this.dt(exact);
      const c =
        d.kind === 'int' ? this.int(Math.max(d.min, -3), Math.min(d.max, 3)) : this.pick([0, 0.5, -1]);
      this.tags.add('mask:data');
      return this.toMain(
        this.add(this.b.binary(this.pick(['gt', 'le', 'ne'] as const), exact, c), intInfo(bool), false),
      );
    }
    this.tags.add('mask:index');
    const L = this.S[this.S.length - 1];
    let idx = this.b.arange(i32, L, this.frame.col0);
    if (this.S.length === 2) idx = this.b.unsqueeze(idx, 0);
    const dim = this.b.sym(this.frame.dims[this.frame.dims.length - 1]);
    let m: TileVar;
    const how = this.int(0, 3);
    if (how === 0) m = this.b.binary('lt', idx, this.b.full(i32, [], sbin('sub', dim, this.int(1, 3))));
    else if (how === 1) m = this.b.binary('lt', idx, this.b.full(i32, [], this.limitParam()));
    else if (how === 2) m = this.b.binary('ge', idx, this.b.full(i32, [], this.limitParam()));
    else m = this.b.binary('eq', this.b.binary('and', idx, this.pick([1, 2, 3])), 0);
    if (this.S.length === 2 && this.frame.row0 && this.chance(0.5)) {
      const rows = this.b.unsqueeze(this.b.arange(i32, this.S[0], this.frame.row0), 1);
      const rm = this.b.binary('ne', this.b.binary('and', rows, 1), 0);
      m = this.b.binary(this.pick(['or', 'xor'] as const), m, rm);
    }
    return this.toMain(this.add(m, intInfo(bool), false));
  }

  limitParam(): ScalarExpr {
    if (!this.scalarSpecs.some((s) => s.name === 'lim')) {
      const hi = this.symbolHi(this.frame.dims[this.frame.dims.length - 1]);
      this.scalarSpecs.push({
        name: 'lim',
        choices: [1, 2, Math.floor(hi / 3), Math.floor(hi / 2), hi - 1, hi + 5],
      });
      this.tags.add('scalar-param:i32');
      return this.b.scalar('lim', i32);
    }
    return this.b.sym('lim');
  }

  /** A scalar condition: on a scalar param or on the block index. */
  condition(): ScalarExpr {
    const choice = this.int(0, 3);
    if (choice <= 1) {
      if (!this.flag) {
        const d = this.pick([i32, u8, bool] as const);
        this.flag = this.scalarParam('flag', d, d === bool ? [0, 1] : [0, 1, 2, 5]);
      }
      if (choice === 0) return this.flag;
      // Ordered comparisons are not defined on bool: compare a bool flag with eq.
      return this.flag.dtype === bool ? sbin('eq', this.flag, 0) : sbin('gt', this.flag, 1);
    }
    if (choice === 2) return sbin('eq', sbin('and', this.b.blockIdx.x, 1), 0);
    // Whether this tile is a full one (not the edge tile).
    const dim = this.frame.dims[this.frame.dims.length - 1];
    return sbin('le', sbin('add', this.frame.col0, this.S[this.S.length - 1]), this.b.sym(dim));
  }

  // ---- chain steps ----

  chain(steps: number, allowIf = true): void {
    for (let i = 0; i < steps; i++) this.step(allowIf);
  }

  step(allowIf: boolean): void {
    for (let attempt = 0; attempt < 30; attempt++) {
      const kind = this.weighted<string>([
        ['unary', 12],
        ['transcendental', this.opts.transcendentals ? 6 : 0],
        ['binary', 24],
        ['const', 10],
        ['cast', 14],
        ['select', 6],
        ['reduce', 6],
        ['arange', 3],
        ['transpose', this.S.length === 2 && this.S[0] === this.S[1] ? 3 : 0],
        ['dot', this.S.length === 2 && !this.inLoop ? 3 : 0],
        ['group', 3],
        ['shared', 3],
        ['view', 3],
        ['scalar', 2],
        ['if', allowIf ? 2 : 0],
      ]);
      if (this.tryStep(kind)) return;
    }
  }

  tryStep(kind: string): boolean {
    switch (kind) {
      case 'unary':
        return this.unaryStep();
      case 'transcendental':
        return this.transcendentalStep();
      case 'binary':
        return this.binaryStep();
      case 'const':
        return this.constStep();
      case 'cast':
        return this.castStep();
      case 'select':
        return this.selectStep();
      case 'reduce':
        return this.reduceStep();
      case 'arange':
        return this.arangeStep();
      case 'transpose':
        return this.transposeStep();
      case 'dot':
        return this.dotStep();
      case 'group':
        return this.groupStep();
      case 'shared':
        return this.sharedStep();
      case 'view':
        return this.viewStep();
      case 'scalar':
        return this.scalarStep();
      case 'if':
        return this.ifStep();
      default:
        return false;
    }
  }

  /** Info of an exact-preserving float unary op (neg, abs, floor, ceil, round, trunc), or undefined if unsafe. */
  unaryInfo(fn: UnaryOp, d: DType, a: Info): Info | undefined {
    if (!isFloatD(d)) return intInfo(d);
    switch (fn) {
      case 'neg':
      case 'abs':
        return a;
      case 'floor':
      case 'ceil':
      case 'round':
      case 'trunc': {
        if (a.err > 0) return undefined;
        return fin(d, Math.ceil(a.M), Math.max(a.q, 1), 0, a.zsign && fn === 'floor', a.special);
      }
      default:
        return undefined;
    }
  }

  unaryStep(): boolean {
    const v = this.pickVal();
    if (!v) return false;
    const d = this.dt(v);
    const a = this.info(v);
    if (d.kind === 'bool') {
      this.tags.add('unary:bool:not');
      this.add(this.b.unary('not', v), a);
      return true;
    }
    if (d.kind === 'int') {
      const fn = this.pick(['neg', 'abs', 'not'] as const);
      this.tags.add(`unary:int:${fn}`);
      this.add(this.b.unary(fn, v), a);
      return true;
    }
    const basic: UnaryOp[] = ['neg', 'abs', 'floor', 'ceil', 'round', 'trunc'];
    const fn = this.opts.transcendentals && this.chance(0.45) ? this.pick(TRANSCENDENTALS) : this.pick(basic);
    if (isFloatD(d) && TRANSCENDENTALS.includes(fn)) return this.transcendental(v, fn);
    const info = this.unaryInfo(fn, d, a);
    if (!info) return false;
    this.tags.add(`unary:float:${fn}`);
    this.add(this.b.unary(fn, v), info);
    return true;
  }

  /** A transcendental op on a float value (cast to a float dtype first if the pool has none). */
  transcendentalStep(): boolean {
    let v = this.pickVal((t) => isFloatD(this.dt(t)));
    if (!v || this.chance(0.2)) {
      const to = this.pick<DType>([f32, f32, f16, bf16, this.randomDtype()]);
      const src = this.pickVal((t) => castInfo(this.dt(t), to, this.info(t)) !== undefined);
      if (!src || !isFloatD(to)) return false;
      if (to !== this.dt(src)) {
        this.tags.add(`cast:${kindOf(this.dt(src))}->float`);
        v = this.add(this.b.cast(src, to), castInfo(this.dt(src), to, this.info(src))!);
      } else v = src;
    }
    return this.transcendental(v, this.pick(TRANSCENDENTALS));
  }

  /**
   * A transcendental op on a prepared input: clamped (exp, exp2, tanh, sin, cos), |x| (sqrt, of an
   * exact x) or |x| + 1 (rsqrt, log, log2), so that it is bounded and well-conditioned.
   */
  transcendental(v: TileVar, fn: UnaryOp): boolean {
    const d = this.dt(v) as FloatDType;
    const a = this.info(v);
    const rule = TRANSCENDENTAL_RULES[fn]!;
    if (a.special) return false; // WGSL builtins leave NaN and Inf arguments undefined
    let ai = a;
    let prep: (() => TileVar) | undefined;
    if (rule.pre === 'clamp') {
      const lim = rule.limit(this);
      if (a.M > lim) {
        if (roundToDType(d, lim) !== lim || roundToDType(d, -lim) !== -lim) return false;
        ai = { M: lim, q: Math.min(a.q, quantumOf(lim)), err: a.err, zsign: false };
        prep = () => {
          this.tags.add('clamp');
          return this.b.binary('min', this.b.binary('max', v, -lim), lim);
        };
      }
    } else if (rule.pre === 'abs') {
      if (a.err > 0) return false;
      prep = () => this.b.unary('abs', v);
    } else {
      if (roundToDType(d, 1) !== 1) return false;
      const y = this.binaryInfo('add', d, a, { M: 1, q: 1, err: 0, zsign: true });
      if (!y) return false;
      ai = y;
      prep = () => this.b.binary('add', this.b.unary('abs', v), 1);
    }
    const out = rule.info(d, ai);
    const info = fin(d, out.M, spacing(d, out.lo / 2), out.err, true);
    if (!valid(d, info) || !(out.M > 0)) return false;
    this.tags.add(`unary:float:${fn}`);
    this.add(this.b.unary(fn, prep ? prep() : v), info);
    return true;
  }

  /** Info of `a fn b` on operands of `d` (not div), or undefined if unsafe. */
  binaryInfo(fn: BinaryOp, d: DType, a: Info, b: Info): Info | undefined {
    const cmp = fn === 'eq' || fn === 'ne' || fn === 'lt' || fn === 'le' || fn === 'gt' || fn === 'ge';
    if (cmp) return a.err > 0 || b.err > 0 ? undefined : intInfo(bool);
    if (!isFloatD(d)) return intInfo(d);
    let info: Info;
    const e = a.err + b.err;
    const special = a.special || b.special;
    switch (fn) {
      case 'add':
      case 'sub': {
        const M = a.M + b.M;
        const err = e > 0 ? e + ulpBound(d, M) : 0;
        info = fin(d, M, Math.min(a.q, b.q), err, a.zsign && b.zsign, special);
        break;
      }
      case 'mul': {
        const M = a.M * b.M;
        const err = e > 0 ? a.M * b.err + b.M * a.err + a.err * b.err + ulpBound(d, M) : 0;
        info = fin(d, M, a.q * b.q, err, a.zsign && b.zsign, special);
        break;
      }
      case 'min':
      case 'max':
        info = fin(d, Math.max(a.M, b.M), Math.min(a.q, b.q), Math.max(a.err, b.err), false, special);
        break;
      default:
        return undefined;
    }
    return settle(d, info);
  }

  binaryOps(d: DType): BinaryOp[] {
    if (d.kind === 'bool') return ['and', 'or', 'xor', 'eq', 'ne'];
    if (d.kind === 'int') {
      const ops: BinaryOp[] = [
        'add',
        'sub',
        'mul',
        'div',
        'mod',
        'min',
        'max',
        'and',
        'or',
        'xor',
        'shl',
        'shr',
      ];
      ops.push('eq', 'ne', 'lt', 'le', 'gt', 'ge');
      ops.push('cdiv');
      return ops;
    }
    const ops: BinaryOp[] = [
      'add',
      'add',
      'sub',
      'sub',
      'mul',
      'mul',
      'min',
      'max',
      'lt',
      'le',
      'gt',
      'ge',
      'eq',
      'ne',
    ];
    ops.push('mod');
    if (this.opts.transcendentals) ops.push('div');
    return ops;
  }

  binaryStep(): boolean {
    const a = this.pickVal();
    if (!a) return false;
    const d = this.dt(a);
    let other = this.pickVal((t) => t !== a && this.dt(t) === d);
    if (!other) {
      // Bring another value to a's dtype.
      const src = this.pickVal((t) => t !== a && castInfo(this.dt(t), d, this.info(t)) !== undefined);
      if (!src) return false;
      other = this.add(this.b.cast(src, d), castInfo(this.dt(src), d, this.info(src))!);
      this.tags.add(`cast:${kindOf(this.dt(src))}->${kindOf(d)}`);
    }
    const [x, y] = this.chance(0.5) ? [a, other] : [other, a];
    return this.emitBinary(this.pick(this.binaryOps(d)), x, y);
  }

  emitBinary(fn: BinaryOp, x: TileVar, y: TileVar): boolean {
    const d = this.dt(x);
    if (fn === 'div' && isFloatD(d)) return this.floatDiv(x, y);
    if (fn === 'mod' && isFloatD(d)) return this.floatMod(x, y);
    const info = this.binaryInfo(fn, d, this.info(x), this.info(y));
    if (!info) return false;
    this.tags.add(`binary:${kindOf(d)}:${fn}`);
    this.add(this.b.binary(fn, x, y), info);
    return true;
  }

  /** x / max(|y|, 1): the divisor is at least 1, so the quotient is bounded and well-conditioned. */
  floatDiv(x: TileVar, y: TileVar): boolean {
    const d = this.dt(x) as FloatDType;
    if (roundToDType(d, 1) !== 1) return false;
    const a = this.info(x);
    const b = this.info(y);
    if (a.special || b.special) return false; // WGSL division is undefined at 0 and Inf divisors
    const M = a.M;
    const lo = a.q / Math.max(b.M, 1);
    const info = fin(d, M, spacing(d, lo / 2), a.err + a.M * b.err + 4 * ulpBound(d, M), true);
    if (!valid(d, info)) return false;
    this.tags.add('binary:float:div');
    const den = this.b.binary('max', this.b.unary('abs', y), 1);
    this.add(this.b.binary('div', x, den), info);
    return true;
  }

  /** fmod(x, max(|y|, 1)) of exact values: exact, with the sign of x. */
  floatMod(x: TileVar, y: TileVar): boolean {
    const d = this.dt(x) as FloatDType;
    const a = this.info(x);
    const b = this.info(y);
    if (roundToDType(d, 1) !== 1 || a.err > 0 || b.err > 0) return false;
    // fmod(Inf, y) and fmod(x, NaN) are NaN, fmod(x, Inf) is x: IEEE and JavaScript agree.
    const special = a.special || b.special;
    const M = Math.min(a.M, Math.max(b.M, 1));
    const info = settle(d, fin(d, M, Math.min(a.q, b.q, 1), 0, a.zsign, special));
    if (!info) return false;
    this.tags.add('binary:float:mod');
    const den = this.b.binary('max', this.b.unary('abs', y), 1);
    this.add(this.b.binary('mod', x, den), info);
    return true;
  }

  constStep(): boolean {
    const v = this.pickVal((t) => this.dt(t).kind !== 'bool');
    if (!v) return false;
    const d = this.dt(v);
    if (d.kind === 'int') {
      const fn = this.pick(this.binaryOps(d));
      const c =
        fn === 'shl' || fn === 'shr'
          ? this.int(0, 40)
          : this.pick([0, 1, 2, 3, -1, 5, 7, 100, -128, d.max, d.min, this.int(d.min, d.max)]);
      const info = this.binaryInfo(fn, d, intInfo(d), intInfo(d))!;
      this.tags.add(`const:int:${fn}`);
      this.add(this.chance(0.5) ? this.b.binary(fn, v, c) : this.b.binary(fn, c, v), info);
      return true;
    }
    if (!isFloatD(d)) return false;
    const c = this.pick(FLOAT_CONSTS);
    const cv = roundToDType(d, c);
    const ci: Info = { M: Math.abs(cv), q: quantumOf(cv), err: 0, zsign: true };
    const fn = this.pick(['add', 'sub', 'mul', 'mul', 'min', 'max', 'lt', 'gt'] as const);
    const swap = this.chance(0.3);
    const info = this.binaryInfo(fn, d, this.info(v), ci);
    if (!info) return false;
    this.tags.add(`const:float:${fn}`);
    this.add(swap ? this.b.binary(fn, c, v) : this.b.binary(fn, v, c), info);
    return true;
  }

  castTargets(v: TileVar): DType[] {
    const out: DType[] = [];
    for (let i = 0; i < 12; i++) {
      const to = this.randomDtype();
      if (to !== this.dt(v) && castInfo(this.dt(v), to, this.info(v))) out.push(to);
    }
    return out;
  }

  castStep(): boolean {
    const v = this.pickVal();
    if (!v) return false;
    const targets = this.castTargets(v);
    if (targets.length === 0) return false;
    const to = targets[0];
    const from = this.dt(v);
    this.tags.add(`cast:${kindOf(from)}->${kindOf(to)}`);
    this.add(this.b.cast(v, to), castInfo(from, to, this.info(v))!);
    return true;
  }

  selectStep(): boolean {
    let cond = this.pickVal((t) => this.dt(t).kind === 'bool');
    if (!cond || this.chance(0.5)) {
      const x = this.pickVal((t) => this.info(t).err === 0 && this.dt(t).kind !== 'bool');
      if (!x) return false;
      const y = this.pickVal((t) => t !== x && this.dt(t) === this.dt(x));
      const fn = this.pick(['lt', 'le', 'gt', 'ge', 'eq', 'ne'] as const);
      if (y && this.info(y).err === 0) cond = this.add(this.b.binary(fn, x, y), intInfo(bool));
      else
        cond = this.add(
          this.b.binary(fn, x, this.dt(x).kind === 'int' ? this.int(-2, 2) : 0.5),
          intInfo(bool),
        );
    }
    const a = this.pickVal((t) => this.dt(t).kind !== 'bool' || this.chance(0.2));
    if (!a) return false;
    const b = this.pickVal((t) => t !== a && this.dt(t) === this.dt(a));
    const d = this.dt(a);
    this.tags.add('select');
    if (b) {
      this.add(this.b.where(cond, a, b), merge(this.info(a), this.info(b)));
    } else {
      const c = d.kind === 'float' ? this.pick(FLOAT_CONSTS) : d.kind === 'bool' ? 1 : this.int(-3, 3);
      const cv = roundToDType(d, c);
      const ci: Info = isFloatD(d) ? { M: Math.abs(cv), q: quantumOf(cv), err: 0, zsign: true } : intInfo(d);
      const info = isFloatD(d)
        ? fin(
            d,
            Math.max(this.info(a).M, ci.M),
            Math.min(this.info(a).q, ci.q),
            this.info(a).err,
            this.info(a).zsign,
            this.info(a).special,
          )
        : intInfo(d);
      if (!valid(d, info)) return false;
      this.add(this.chance(0.5) ? this.b.where(cond, a, c) : this.b.where(cond, c, a), info);
    }
    return true;
  }

  /** Info of reducing n values with `fn` into `acc` (src info already converted to acc). */
  reduceInfo(fn: ReduceOp, acc: DType, a: Info, n: number): Info | undefined {
    if (!isFloatD(acc)) return intInfo(acc);
    let info: Info;
    if (fn === 'sum') {
      const M = n * a.M;
      info = fin(acc, M, a.q, a.err > 0 ? n * (a.err + ulpBound(acc, M)) : 0, a.zsign, a.special);
    } else {
      info = { ...a, zsign: false };
    }
    return settle(acc, info);
  }

  /** A reduction dtype for values of `d`: the same, or the wide accumulator of its family. */
  accFor(d: DType): DType {
    if (isFloatD(d)) return this.pick([d, f32, f32]);
    return this.pick([d, i32, d.kind === 'int' && !d.signed ? u32 : i32]);
  }

  reduceStep(): boolean {
    const v = this.pickVal((t) => this.dt(t).kind !== 'bool' && t.type.shape.length > 0);
    if (!v) return false;
    const shape = v.type.shape;
    const axis = this.int(0, shape.length - 1);
    const fn = this.pick(['sum', 'sum', 'max', 'min'] as const);
    const acc = this.accFor(this.dt(v));
    const src = castInfo(this.dt(v), acc, this.info(v));
    if (!src) return false;
    const info = this.reduceInfo(fn, acc, src, shape[axis]);
    if (!info) return false;
    this.tags.add(`reduce:${fn}`);
    if (acc !== this.dt(v)) this.tags.add('reduce:widen');
    const how = this.int(0, 3);
    let t: TileVar;
    if (how === 0) {
      t = this.b.reduce(fn, v, axis, { keepdim: true, dtype: acc });
    } else if (how === 1) {
      this.tags.add('unsqueeze');
      t = this.b.unsqueeze(this.b.reduce(fn, v, axis, { dtype: acc }), axis);
    } else if (how === 2) {
      this.tags.add('repeat');
      const kept = this.b.reduce(fn, v, axis, { keepdim: true, dtype: acc });
      t = this.b.repeat(
        kept,
        shape.map((s, i) => (i === axis ? s : 1)),
      );
    } else {
      this.tags.add('broadcast');
      t = this.b.broadcast(this.b.reduce(fn, v, axis, { keepdim: true, dtype: acc }), shape);
    }
    this.add(t, info);
    return true;
  }

  /** The element index along the last (or first) axis as a tile that broadcasts to the main shape. */
  arangeStep(): boolean {
    const f = this.frame;
    const rows = this.S.length === 2 && f.row0 !== undefined && this.chance(0.4);
    const L = rows ? this.S[0] : this.S[this.S.length - 1];
    const start = rows ? f.row0! : f.col0;
    const hi = Math.max(...f.dims.map((d) => this.symbolHi(d))) + 256;
    const d = this.weighted<DType>([
      [i32, 6],
      [this.randomDtype(), 4],
    ]);
    if (d.kind === 'bool') return false;
    const info = isFloatD(d) ? fin(d, hi, 1, 0, true) : intInfo(d);
    if (!valid(d, info)) return false;
    this.tags.add('arange');
    let t = this.b.arange(d, L, start);
    if (this.S.length === 2) t = this.b.unsqueeze(t, rows ? 1 : 0);
    this.add(t, info);
    return true;
  }

  transposeStep(): boolean {
    const v = this.pickVal((t) => t.type.shape.length === 2);
    if (!v) return false;
    this.tags.add('transpose');
    this.add(this.b.transpose(v, [1, 0]), this.info(v));
    return true;
  }

  dotStep(): boolean {
    const [BM, BN] = this.S;
    const float = this.chance(0.55);
    const dtA: DType = float
      ? this.pick([f32, f32, f16, bf16, f8e4m3, f8e5m2, f4e2m1, f6e3m2])
      : this.pick([i8, i8, u8, i4, u4, i16]);
    const acc: DType = float ? (dtA === f16 && this.chance(0.3) ? f16 : f32) : this.pick([i32, i32, u32]);
    const a = this.pickVal((t) => castInfo(this.dt(t), dtA, this.info(t)) !== undefined);
    const b = this.pickVal((t) => t !== a && castInfo(this.dt(t), dtA, this.info(t)) !== undefined);
    if (!a || !b) return false;
    const ia = castInfo(this.dt(a), dtA, this.info(a))!;
    const ib = castInfo(this.dt(b), dtA, this.info(b))!;
    let info: Info;
    if (isFloatD(acc)) {
      const ca = castInfo(dtA, acc, ia);
      const cb = castInfo(dtA, acc, ib);
      if (!ca || !cb) return false;
      const M = BN * ca.M * cb.M;
      const e = ca.err + cb.err;
      const err = e > 0 ? BN * (ca.M * cb.err + cb.M * ca.err + ca.err * cb.err + 2 * ulpBound(acc, M)) : 0;
      const settled = settle(acc, fin(acc, M, ca.q * cb.q, err, true, ca.special || cb.special));
      if (!settled) return false;
      info = settled;
    } else {
      info = intInfo(acc);
    }
    const ta = this.b.cast(this.toMain(a), dtA);
    const tb = this.b.transpose(this.b.cast(this.toMain(b), dtA), [1, 0]);
    let t = this.b.dot(ta, tb, this.b.zeros(acc, [BM, BM]));
    this.tags.add(`dot:${float ? 'float' : 'int'}`);
    this.tags.add('transpose');
    if (BM !== BN) {
      const r = this.reduceInfo('sum', acc, info, BM);
      if (!r) {
        // Keep the (already emitted) dot and fall back to a max, which cannot overflow.
        t = this.b.reduce('max', t, 1, { keepdim: true });
        info = { ...info, zsign: false };
      } else {
        t = this.b.reduce('sum', t, 1, { keepdim: true });
        info = r;
      }
    }
    this.add(t, info);
    return true;
  }

  /** Group reduction through reshape: [.., L] -> [.., L/g, g] -> reduce -> repeat -> [.., L]. */
  groupStep(): boolean {
    const v = this.pickVal((t) => this.isMain(t) && this.dt(t).kind !== 'bool');
    if (!v) return false;
    const n = this.S.reduce((a, c) => a * c, 1);
    const divisors = [2, 3, 4, 8, 16].filter((g) => g < n && n % g === 0);
    if (divisors.length === 0) return false;
    const g = this.pick(divisors);
    const fn = this.pick(['sum', 'max', 'min'] as const);
    const acc = this.dt(v);
    const info = this.reduceInfo(fn, acc, this.info(v), g);
    if (!info) return false;
    this.tags.add('reshape');
    this.tags.add('repeat');
    this.tags.add(`reduce:${fn}`);
    const grouped = this.b.reshape(v, [n / g, g]);
    const red = this.b.reduce(fn, grouped, 1, { keepdim: true });
    this.add(this.b.reshape(this.b.repeat(red, [1, g]), this.S), info);
    return true;
  }

  /** A round trip through shared memory, maybe mixing two values. */
  sharedStep(): boolean {
    const v = this.pickVal((t) => t.type.shape.length > 0);
    if (!v) return false;
    const out = this.sharedOf(v);
    this.add(out, this.info(out));
    return true;
  }

  /** `v` after a trip through shared memory (alone, or in a window over v and another value). */
  sharedOf(v: TileVar): TileVar {
    const d = this.dt(v);
    const shape = v.type.shape;
    const w = this.pickVal((t) => t !== v && this.dt(t) === d && sameShape(t.type.shape, shape));
    let out: TileVar;
    let info = this.info(v);
    this.tags.add('shared');
    if (w && this.chance(0.7)) {
      // smem = [v | w] along an axis; read back a window that straddles both.
      const axis = this.int(0, shape.length - 1);
      const L = shape[axis];
      const big = shape.map((s, i) => (i === axis ? 2 * s : s));
      const smem = this.b.shared(d, big);
      const zero = shape.map(() => 0);
      this.b.storeShared(smem, v, zero);
      this.b.storeShared(
        smem,
        w,
        shape.map((_, i) => (i === axis ? L : 0)),
      );
      this.b.sync();
      const s = this.int(0, L);
      out = this.b.loadShared(
        smem,
        shape.map((_, i) => (i === axis ? s : 0)),
        shape,
      );
      info = merge(info, this.info(w));
      this.tags.add('shared:window');
    } else {
      const pad = this.int(0, 3);
      const big = shape.map((s, i) => (i === shape.length - 1 ? s + pad : s));
      const off = shape.map((_, i) => (i === shape.length - 1 ? this.int(0, pad) : 0));
      const smem = this.b.shared(d, big);
      this.b.storeShared(smem, v, off);
      this.b.sync();
      out = this.b.loadShared(smem, off, shape);
    }
    this.tags.add('sync');
    if (d.kind !== 'float' && d.bits < 8) this.tags.add('shared:subbyte');
    if (this.inLoop) this.b.sync(); // the next iteration's stores must wait for these loads
    this.infos.set(out, info);
    return out;
  }

  /** Reinterpret bits: view to another width, maybe transform, view back to a dtype of the original width. */
  viewStep(): boolean {
    const v = this.pickVal((t) => {
      if (t.type.shape.length === 0) return false;
      const d = this.dt(t);
      const i = this.info(t);
      return !isFloatD(d) || (i.err === 0 && i.zsign && !i.special);
    });
    if (!v) return false;
    const d1 = this.dt(v);
    const L = v.type.shape[v.type.shape.length - 1];
    const n = v.type.shape.reduce((a, c) => a * c, 1);
    // Backends stage tiles in workgroup memory: keep the viewed tile at most 1024 elements.
    const widths = ALL_INTS.filter(
      (d) => (L * d1.bits) % d.bits === 0 && d.bits !== d1.bits && (n * d1.bits) / d.bits <= 1024,
    );
    if (widths.length === 0) return false;
    const d2 = this.pick(widths);
    let t = this.b.view(v, d2);
    const ops = this.int(0, 2);
    for (let i = 0; i < ops; i++) {
      if (this.chance(0.5)) t = this.b.unary(this.pick(['not', 'neg'] as const), t);
      else t = this.b.binary(this.pick(['xor', 'add', 'shl', 'or'] as const), t, this.int(0, 9));
    }
    // Back to d1's width: an integer, or a small float whose every pattern is finite (every width
    // has an integer dtype, so there is always a choice).
    const sameWidth = ALL_DTYPES.filter(
      (d) => d.bits === d1.bits && (d.kind !== 'float' || d.rule === 'finite') && d.kind !== 'bool',
    );
    const d3 = ops === 0 && this.chance(0.5) ? d1 : this.pick(sameWidth);
    const back = this.b.view(t, d3);
    const info =
      d3 === d1 && ops === 0
        ? this.info(v)
        : isFloatD(d3)
          ? { M: d3.maxFinite, q: d3.minSubnormal, err: 0, zsign: true }
          : intInfo(d3);
    this.tags.add('view');
    if (d1.bits < 8 || d2.bits < 8) this.tags.add('view:subbyte');
    this.add(back, info);
    return true;
  }

  /** Use a scalar param in tile math: full(scale) times a value. */
  scalarStep(): boolean {
    const v = this.pickVal((t) => this.dt(t).kind !== 'bool');
    if (!v) return false;
    const d = this.dt(v);
    if (isFloatD(d)) {
      if (!this.scalarSpecs.some((s) => s.name === 'scale'))
        this.scalarParam('scale', f32, [0.5, 1.5, -2, 0.75, 3]);
      const choices = [0.5, 1.5, -2, 0.75, 3].map((c) => roundToDType(d, c));
      const ci: Info = {
        M: Math.max(...choices.map(Math.abs)),
        q: Math.min(...choices.map(quantumOf)),
        err: 0,
        zsign: true,
      };
      const info = this.binaryInfo('mul', d, this.info(v), ci);
      if (!info) return false;
      const s = this.b.full(d, [], scalarVar('scale', f32));
      this.tags.add('scalar-full');
      this.add(this.b.mul(v, s), info);
      return true;
    }
    if (this.chance(0.5)) {
      // A value computed from the block index: full(blockIdx.x * 3 - 5), cast by the cast rules.
      this.tags.add('scalar-full:blockIdx');
      const s = this.b.full(d, [], sbin('sub', sbin('mul', this.b.blockIdx.x, 3), 5));
      this.add(this.b.binary(this.pick(['add', 'sub', 'xor', 'min'] as const), v, s), intInfo(d));
      return true;
    }
    if (!this.scalarSpecs.some((s) => s.name === 'kk')) this.scalarParam('kk', i32, [-3, 0, 2, 7]);
    const s = this.b.full(d, [], this.b.sym('kk'));
    this.tags.add('scalar-full');
    this.add(this.b.binary(this.pick(['add', 'mul', 'xor', 'max'] as const), v, s), intInfo(d));
    return true;
  }

  /** An op that keeps `v`'s dtype and shape (for `if` branches). */
  sameTypeOp(v: TileVar): TileVar | undefined {
    const d = this.dt(v);
    const shape = v.type.shape;
    const others = this.pool.filter(
      (t) => t !== v && this.dt(t) === d && sameShape(tryBroadcast(shape, t.type.shape) ?? [-1], shape),
    );
    for (let attempt = 0; attempt < 10; attempt++) {
      const choice = this.int(0, 3);
      if (choice === 0) {
        const fn: UnaryOp =
          d.kind === 'bool'
            ? 'not'
            : d.kind === 'int'
              ? this.pick(['neg', 'not', 'abs'] as const)
              : this.pick(['neg', 'abs'] as const);
        const t = this.b.unary(fn, v);
        this.infos.set(t, this.info(v));
        return t;
      }
      if (choice === 1 && others.length > 0) {
        const w = this.pick(others);
        const fn = this.pick(
          this.binaryOps(d).filter((f) => !['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'div'].includes(f)),
        );
        const info = this.binaryInfo(fn, d, this.info(v), this.info(w));
        if (!info) continue;
        this.tags.add(`binary:${kindOf(d)}:${fn}`);
        const t = this.b.binary(fn, v, w);
        this.infos.set(t, info);
        return t;
      }
      if (choice === 2 && shape.length > 0) return this.sharedOf(v);
      if (choice === 3 && d.kind !== 'bool') {
        const c = d.kind === 'int' ? this.int(-4, 4) : this.pick(FLOAT_CONSTS);
        const cv = roundToDType(d, c);
        const ci: Info = isFloatD(d)
          ? { M: Math.abs(cv), q: quantumOf(cv), err: 0, zsign: true }
          : intInfo(d);
        const info = this.binaryInfo('add', d, this.info(v), ci);
        if (!info) continue;
        const t = this.b.binary('add', v, c);
        this.infos.set(t, info);
        return t;
      }
    }
    return undefined;
  }

  ifStep(): boolean {
    // In a loop body only values of this iteration may be reassigned: an outer value would become
    // loop-carried, and its bounds would grow with the trip count.
    const v = this.pickVal((t) => !this.loopOuter.has(t));
    if (!v) return false;
    const cond = this.condition();
    const saved = this.pool;
    let thenInfo: Info | undefined;
    let elseInfo: Info | undefined;
    const hasElse = this.chance(0.5);
    const branch = (): Info | undefined => {
      this.pool = [...saved];
      const t = this.sameTypeOp(v);
      this.pool = saved;
      if (!t) return undefined;
      this.b.assign(v, t);
      return this.info(t);
    };
    this.b.if(
      cond,
      () => {
        thenInfo = branch();
      },
      hasElse
        ? () => {
            elseInfo = branch();
          }
        : undefined,
    );
    this.tags.add(hasElse ? 'if-else' : 'if');
    let info = this.info(v);
    if (thenInfo) info = merge(info, thenInfo);
    if (elseInfo) info = merge(info, elseInfo);
    this.infos.set(v, info);
    return true;
  }

  // ---- outputs ----

  /** Picks a value and an output dtype it casts to, and returns the (cast, main-shaped) tile. */
  finalValue(
    want?: DType,
    filter: (t: TileVar) => boolean = () => true,
  ): { t: TileVar; info: Info } | undefined {
    for (let attempt = 0; attempt < 20; attempt++) {
      // Mostly the newest values, so that outputs depend on the whole chain.
      const recent = this.pool.filter(filter).slice(-2);
      const v =
        attempt < 3 && recent.length > 0 && this.chance(0.7) ? this.pick(recent) : this.pickVal(filter);
      if (!v) return undefined;
      const to = want ?? (this.chance(0.3) ? this.dt(v) : this.randomDtype());
      const info = to === this.dt(v) ? this.info(v) : castInfo(this.dt(v), to, this.info(v));
      if (!info) continue;
      let t = v;
      if (to !== this.dt(v)) {
        this.tags.add(`cast:${kindOf(this.dt(v))}->${kindOf(to)}`);
        t = this.add(this.b.cast(v, to), info, false);
      }
      return { t, info };
    }
    return undefined;
  }

  storeMain(name: string, t: TileVar, info: Info, offsets: readonly ScalarLike[] = this.frame.offsets): void {
    const main = this.toMain(t);
    if (info.special) this.tags.add('out:special');
    let mask: TileVar | undefined;
    if (this.chance(0.25)) {
      mask = this.makeMask();
      this.tags.add('store:mask');
    }
    const store = () => this.b.store(name, offsets, main, mask ? { mask } : {});
    if (!this.inLoop && this.chance(0.15)) {
      // A store that only some blocks (or some launches) make.
      this.tags.add('if:store');
      this.b.if(this.condition(), store);
    } else store();
    this.tolerance[name] = info.err;
  }

  /** One or two outputs of the main shape, plus maybe a per-tile reduction. */
  mainOutputs(readwrite: { name: string; d: DType; loaded: TileVar } | undefined): void {
    if (readwrite) {
      const fv = this.finalValue(readwrite.d) ?? { t: readwrite.loaded, info: this.info(readwrite.loaded) };
      this.storeMain(readwrite.name, fv.t, fv.info);
      this.outputs.push(readwrite.name);
      this.tags.add('readwrite');
    }
    const n = readwrite ? this.int(0, 1) : this.int(1, 2);
    for (let i = 0; i < n; i++) {
      const fv = this.finalValue();
      if (!fv) continue;
      const name = `y${i}`;
      this.output(name, this.dt(fv.t), this.frame.dims);
      this.storeMain(name, fv.t, fv.info);
    }
  }

  // ---- skeletons ----

  generate(): RandomProgram {
    const kind = this.pick<Kind>(['map1d', 'map2d', 'map2d', 'rows', 'loop1d', 'loop2d', 'matmul']);
    this.tags.add(`kind:${kind}`);
    this.specials = this.chance(0.2);
    if (this.specials) this.tags.add('specials');
    specialsMode = this.specials;
    const threads = this.pick([32, 64, 128]);
    this.b.threads(threads);
    this.tags.add(`threads:${threads}`);
    switch (kind) {
      case 'map1d':
        this.map1d();
        break;
      case 'map2d':
        this.map2d();
        break;
      case 'rows':
        this.rows();
        break;
      case 'loop1d':
        this.loop1d();
        break;
      case 'loop2d':
        this.loop2d();
        break;
      case 'matmul':
        this.matmul();
        break;
    }
    if (this.outputs.length === 0) this.fallbackOutput();
    const program = this.b.build();
    const specs = {
      tensors: [...this.tensors],
      scalars: [...this.scalarSpecs],
      symbols: [...this.symbols],
      params: program.params,
    };
    return {
      program,
      makeArgs: (seed) => makeArgs(specs, seed),
      outputs: [...this.outputs],
      tolerance: { ...this.tolerance },
      tags: [...this.tags].sort(),
    };
  }

  /** Stores some pool value when no output could be made (rare). */
  fallbackOutput(): void {
    const v = this.pool.find((t) => this.isMain(t)) ?? this.pool[0];
    this.output('y0', this.dt(v), this.frame.dims);
    this.storeMain('y0', v, this.info(v));
  }

  steps(): number {
    return this.int(2, this.opts.maxSteps);
  }

  mainInputs(count: number): void {
    for (let i = 0; i < count; i++) {
      const d = this.randomDtype();
      const info = this.input(`x${i}`, d, this.frame.dims);
      this.loadMain(`x${i}`, info);
      if (this.chance(0.25)) {
        // The neighbouring window (a stencil): offsets shifted by a few elements, negative at the
        // first tile, so that both ends of the tensor are out of range somewhere.
        const offsets = [...this.frame.offsets];
        const axis = offsets.length - 1 - (offsets.length > 1 && this.chance(0.3) ? 1 : 0);
        const k = this.pick([-3, -2, -1, 1, 2, 5]);
        offsets[axis] = sbin(k < 0 ? 'sub' : 'add', offsets[axis], Math.abs(k));
        this.tags.add('load:shifted');
        this.loadMain(`x${i}`, info, offsets);
      }
    }
  }

  maybeReadwrite(): { name: string; d: DType; loaded: TileVar } | undefined {
    if (!this.chance(0.2)) return undefined;
    const d = this.randomDtype();
    const info = this.input('io', d, this.frame.dims, 'readwrite');
    const loaded = this.loadMain('io', info);
    return { name: 'io', d, loaded };
  }

  /** Sizes a dim of `tile`-sized tiles: up to `tiles` tiles, within the element budget. */
  dimHi(tile: number, tiles: number, budget: number): number {
    return Math.max(1, Math.min(tile * tiles + tile - 1, budget));
  }

  map1d(): void {
    const b = this.b;
    const BN = this.pick(TILE_1D);
    this.S = [BN];
    const N = this.symbol('N', 1, this.dimHi(BN, 5, this.opts.maxElements), BN);
    b.grid(sbin('cdiv', N, BN));
    const col0 = b.let('c0', sbin('mul', b.blockIdx.x, BN));
    this.frame = { offsets: [col0], dims: ['N'], col0 };
    const rw = this.maybeReadwrite();
    this.mainInputs(this.int(1, rw ? 2 : 3));
    const groups = [2, 3, 4, 8].filter((g) => g < BN && BN % g === 0);
    if (groups.length > 0 && this.chance(0.3)) {
      // One value per group of g elements, repeated (group scales).
      const g = this.pick(groups);
      const d = this.randomDtype();
      const info = this.input('grp', d, [`cdiv(N, ${g})`]);
      this.tags.add('input:group');
      this.tags.add('repeat');
      const t = b.load('grp', [sbin('mul', b.blockIdx.x, BN / g)], [BN / g]);
      this.add(b.repeat(t, [g]), info);
    }
    if (this.chance(0.2)) {
      const d = this.randomDtype();
      const info = this.input('s', d, [1]);
      this.tags.add('load:rank0');
      this.add(b.load('s', [0], []), info);
    }
    this.chain(this.steps());
    this.mainOutputs(rw);
    if (this.chance(0.4)) {
      const fv = this.finalValue(undefined, (t) => this.dt(t).kind !== 'bool');
      if (fv && fv.t.type.dtype.kind !== 'bool') {
        const red = this.reduceToScalar(this.toMain(fv.t), fv.info, 0, false);
        if (red) {
          this.output('p', this.dt(red.t), [`cdiv(N, ${BN})`]);
          this.tags.add('out:per-block');
          b.store('p', [b.blockIdx.x], red.t);
          this.tolerance.p = red.info.err;
        }
      }
    }
  }

  /** Reduce along `axis` (keepdim or not) with a random op and accumulator. */
  reduceToScalar(
    v: TileVar,
    info: Info,
    axis: number,
    keepdim: boolean,
  ): { t: TileVar; info: Info } | undefined {
    const fn = this.pick(['sum', 'max', 'min'] as const);
    const acc = this.accFor(this.dt(v));
    const src = castInfo(this.dt(v), acc, info);
    if (!src) return undefined;
    const out = this.reduceInfo(fn, acc, src, v.type.shape[axis]);
    if (!out) return undefined;
    this.tags.add(`reduce:${fn}`);
    return { t: this.b.reduce(fn, v, axis, { keepdim, dtype: acc }), info: out };
  }

  map2d(): void {
    const b = this.b;
    const BM = this.pick(TILE_DIM);
    let BN = this.pick(TILE_DIM.concat([13, 24, 64]));
    while (BM * BN > 256) BN = Math.max(1, BN >> 1);
    if (this.chance(0.15)) BN = BM; // square tiles allow transposes and square dots
    this.S = [BM, BN];
    const budget = this.opts.maxElements;
    const Mhi = this.dimHi(BM, 3, 40);
    const M = this.symbol('M', 1, Mhi, BM);
    const N = this.symbol('N', 1, this.dimHi(BN, 4, Math.floor(budget / Mhi)), BN);
    const layout = this.int(0, 2);
    let rb: ScalarExpr;
    let cb: ScalarExpr;
    if (layout === 0) {
      b.grid(sbin('cdiv', N, BN), sbin('cdiv', M, BM));
      cb = b.blockIdx.x;
      rb = b.blockIdx.y;
    } else if (layout === 1) {
      b.grid(sbin('cdiv', M, BM), sbin('cdiv', N, BN));
      rb = b.blockIdx.x;
      cb = b.blockIdx.y;
    } else {
      // One flat grid axis over all tiles.
      b.grid(sbin('mul', sbin('cdiv', M, BM), sbin('cdiv', N, BN)));
      cb = b.let('cb', sbin('mod', b.blockIdx.x, sbin('cdiv', N, BN)));
      rb = b.let('rb', sbin('div', b.blockIdx.x, sbin('cdiv', N, BN)));
      this.tags.add('grid:flat');
    }
    const row0 = b.let('r0', sbin('mul', rb, BM));
    const col0 = b.let('c0', sbin('mul', cb, BN));
    this.frame = { offsets: [row0, col0], dims: ['M', 'N'], col0, row0 };
    const rw = this.maybeReadwrite();
    this.mainInputs(this.int(1, rw ? 2 : 3));
    this.aux2d(cb);
    this.chain(this.steps());
    this.mainOutputs(rw);
    if (this.chance(0.4)) {
      const fv = this.finalValue(undefined, (t) => this.dt(t).kind !== 'bool');
      if (fv && fv.t.type.dtype.kind !== 'bool') {
        const axis = this.int(0, 1);
        const red = this.reduceToScalar(this.toMain(fv.t), fv.info, axis, true);
        if (red) {
          this.tags.add('out:per-block');
          if (axis === 1) {
            this.output('p', this.dt(red.t), ['M', `cdiv(N, ${BN})`]);
            b.store('p', [row0, cb], red.t);
          } else {
            this.output('p', this.dt(red.t), [`cdiv(M, ${BM})`, 'N']);
            b.store('p', [rb, col0], red.t);
          }
          this.tolerance.p = red.info.err;
        }
      }
    }
  }

  /** Inputs that broadcast into 2-D tiles: a column vector, a row vector, a transposed matrix, groups. */
  aux2d(cb: ScalarExpr): void {
    const b = this.b;
    const [BM, BN] = this.S;
    const { row0, col0 } = this.frame;
    if (this.chance(0.3)) {
      const info = this.input('cv', this.randomDtype(), ['N']);
      this.tags.add('input:colvec');
      this.tags.add('unsqueeze');
      this.add(b.unsqueeze(b.load('cv', [col0], [BN]), 0), info);
    }
    if (this.chance(0.3)) {
      const info = this.input('rv', this.randomDtype(), ['M']);
      this.tags.add('input:rowvec');
      const t = b.load('rv', [row0!], [BM]);
      this.add(this.chance(0.5) ? b.unsqueeze(t, 1) : b.reshape(t, [BM, 1]), info);
    }
    if (this.chance(0.25)) {
      const info = this.input('xt', this.randomDtype(), ['N', 'M']);
      this.tags.add('input:transposed');
      this.tags.add('transpose');
      this.add(b.transpose(b.load('xt', [col0, row0!], [BN, BM]), [1, 0]), info);
    }
    const groups = [2, 3, 4].filter((g) => g < BN && BN % g === 0);
    if (groups.length > 0 && this.chance(0.25)) {
      const g = this.pick(groups);
      const info = this.input('grp', this.randomDtype(), ['M', `cdiv(N, ${g})`]);
      this.tags.add('input:group');
      this.tags.add('repeat');
      const t = b.load('grp', [row0!, sbin('mul', cb, BN / g)], [BM, BN / g]);
      this.add(b.repeat(t, [1, g]), info);
    }
  }

  rows(): void {
    const b = this.b;
    const BN = this.pick(TILE_1D.filter((t) => t <= 128));
    this.S = [BN];
    const Mhi = this.int(1, 12);
    const M = this.symbol('M', 1, Mhi, 1);
    const N = this.symbol('N', 1, this.dimHi(BN, 3, Math.floor(this.opts.maxElements / Mhi)), BN);
    const swap = this.chance(0.5);
    if (swap) b.grid(M, sbin('cdiv', N, BN));
    else b.grid(sbin('cdiv', N, BN), M);
    const row = swap ? b.blockIdx.x : b.blockIdx.y;
    const cb = swap ? b.blockIdx.y : b.blockIdx.x;
    const col0 = b.let('c0', sbin('mul', cb, BN));
    this.frame = { offsets: [row, col0], dims: ['M', 'N'], col0 };
    this.tags.add('load:leading-dim');
    const rw = this.maybeReadwrite();
    this.mainInputs(this.int(1, rw ? 2 : 3));
    if (this.chance(0.35)) {
      const info = this.input('cv', this.randomDtype(), ['N']);
      this.tags.add('input:colvec');
      this.add(b.load('cv', [col0], [BN]), info);
    }
    if (this.chance(0.35)) {
      const info = this.input('rs', this.randomDtype(), ['M']);
      this.tags.add('load:rank0');
      this.add(b.load('rs', [row], []), info);
    }
    this.chain(this.steps());
    this.mainOutputs(rw);
    if (this.chance(0.4)) {
      const fv = this.finalValue(undefined, (t) => this.dt(t).kind !== 'bool');
      if (fv && fv.t.type.dtype.kind !== 'bool') {
        const red = this.reduceToScalar(this.toMain(fv.t), fv.info, 0, false);
        if (red) {
          this.tags.add('out:per-block');
          this.output('p', this.dt(red.t), ['M', `cdiv(N, ${BN})`]);
          b.store('p', [row, cb], red.t);
          this.tolerance.p = red.info.err;
        }
      }
    }
  }

  /** An accumulator updated once per loop iteration: returns the op or undefined (and the info after `iters`). */
  accumulate(acc: TileVar, v: TileVar, iters: number): Info | undefined {
    const d = this.dt(acc);
    const a = this.info(acc);
    const x = this.info(v);
    const ops: BinaryOp[] =
      d.kind === 'bool'
        ? ['or', 'xor', 'and']
        : d.kind === 'int'
          ? ['add', 'xor', 'max', 'min', 'mul', 'sub', 'or']
          : ['add', 'add', 'max', 'min', 'sub'];
    for (let attempt = 0; attempt < 5; attempt++) {
      const fn = this.pick(ops);
      let info: Info;
      if (!isFloatD(d)) info = intInfo(d);
      else if (fn === 'add' || fn === 'sub') {
        const M = a.M + iters * x.M;
        const e = a.err + x.err;
        info = fin(
          d,
          M,
          Math.min(a.q, x.q),
          e > 0 ? a.err + iters * (x.err + ulpBound(d, M)) : 0,
          a.zsign && x.zsign,
          a.special || x.special,
        );
      } else {
        const M = Math.max(a.M, x.M);
        info = fin(d, M, Math.min(a.q, x.q), Math.max(a.err, x.err), false, a.special || x.special);
      }
      const settled = settle(d, info);
      if (!settled) continue;
      info = settled;
      this.tags.add(`loop-acc:${kindOf(d)}:${fn}`);
      this.b.assign(acc, this.b.binary(fn, acc, v));
      return info;
    }
    return undefined;
  }

  /** Runs `body` in a loop scope: values made inside are dropped from the pool afterwards. */
  loopScope(body: () => void): void {
    const saved = this.pool;
    const savedOuter = this.loopOuter;
    this.pool = [...saved];
    this.loopOuter = new Set(saved);
    const wasInLoop = this.inLoop;
    this.inLoop = true;
    try {
      body();
    } finally {
      this.pool = saved;
      this.loopOuter = savedOuter;
      this.inLoop = wasInLoop;
    }
  }

  /** The accumulator: zeros, or a constant, of dtype d and the main shape. */
  makeAcc(d: DType): TileVar {
    const init = d.kind === 'bool' ? this.int(0, 1) : this.pick([0, 0, 1, -1]);
    const v = roundToDType(d, init);
    const info: Info = isFloatD(d) ? fin(d, Math.abs(v), quantumOf(v), 0, true) : intInfo(d);
    this.tags.add('loop');
    return this.add(this.b.full(d, this.S, init, 'acc'), info, false);
  }

  loop1d(): void {
    const b = this.b;
    const BN = this.pick(TILE_1D.filter((t) => t <= 128));
    const T = this.int(1, 4);
    this.S = [BN];
    const N = this.symbol('N', 1, this.dimHi(BN * T, 3, this.opts.maxElements), BN);
    b.grid(sbin('cdiv', N, BN * T));
    const byOffset = this.chance(0.5);
    // Inputs are declared up front; the loop loads them tile by tile.
    const count = this.int(1, 3);
    const inputs: { name: string; info: Info }[] = [];
    for (let i = 0; i < count; i++) {
      const name = `x${i}`;
      inputs.push({ name, info: this.input(name, this.randomDtype(), ['N']) });
    }
    const accD = this.randomDtype();
    const acc = this.makeAcc(accD);
    let accInfo = this.info(acc);
    const first = sbin('mul', b.blockIdx.x, BN * T);
    this.frame = { offsets: [first], dims: ['N'], col0: first };
    const body = (offset: ScalarExpr) => {
      this.loopScope(() => {
        this.frame = { offsets: [offset], dims: ['N'], col0: offset };
        for (const x of inputs) this.loadMain(x.name, x.info);
        this.chain(this.steps());
        const fv = this.finalValue(accD);
        if (fv) {
          const info = this.accumulate(acc, this.toMain(fv.t), T);
          if (info) accInfo = info;
        }
      });
    };
    if (byOffset) {
      b.for('k', first, sbin('add', first, BN * T), BN, (k) => body(k));
    } else {
      b.for('i', 0, T, 1, (i) => {
        const off = b.let('off', sbin('mul', sbin('add', sbin('mul', b.blockIdx.x, T), i), BN));
        body(off);
      });
    }
    this.infos.set(acc, accInfo);
    this.frame = { offsets: [first], dims: ['N'], col0: first };
    this.pool.push(acc);
    this.chain(this.int(0, 3), false);
    const G = `cdiv(N, ${BN * T})`;
    const fv = this.finalValue(undefined, (t) => t === acc || this.chance(0.5));
    if (fv) {
      this.output('y0', this.dt(fv.t), [G, BN]);
      this.tags.add('out:leading-dim');
      b.store('y0', [b.blockIdx.x, 0], this.toMain(fv.t));
      this.tolerance.y0 = fv.info.err;
    }
    if (this.chance(0.6) || !fv) {
      const src = this.finalValue(undefined, (t) => this.dt(t).kind !== 'bool');
      if (src && src.t.type.dtype.kind !== 'bool') {
        const red = this.reduceToScalar(this.toMain(src.t), src.info, 0, false);
        if (red) {
          this.output('p', this.dt(red.t), [G]);
          b.store('p', [b.blockIdx.x], red.t);
          this.tolerance.p = red.info.err;
        }
      }
    }
  }

  loop2d(): void {
    const b = this.b;
    const BM = this.pick(TILE_DIM);
    let BN = this.pick(TILE_DIM.concat([13, 24, 64]));
    while (BM * BN > 256) BN = Math.max(1, BN >> 1);
    if (this.chance(0.15)) BN = BM;
    this.S = [BM, BN];
    const Mhi = this.dimHi(BM, 3, 40);
    const M = this.symbol('M', 1, Mhi, BM);
    const Nhi = this.dimHi(BN, 5, Math.floor(this.opts.maxElements / Mhi));
    const N = this.symbol('N', 1, Nhi, BN);
    const iters = Math.ceil(Nhi / BN);
    b.grid(sbin('cdiv', M, BM));
    const row0 = b.let('r0', sbin('mul', b.blockIdx.x, BM));
    this.frame = { offsets: [row0, 0], dims: ['M', 'N'], col0: constant(0), row0 };
    const count = this.int(1, 3);
    const inputs: { name: string; info: Info }[] = [];
    for (let i = 0; i < count; i++) {
      const name = `x${i}`;
      inputs.push({ name, info: this.input(name, this.randomDtype(), ['M', 'N']) });
    }
    if (this.chance(0.4)) {
      const info = this.input('rv', this.randomDtype(), ['M']);
      this.tags.add('input:rowvec');
      this.add(b.unsqueeze(b.load('rv', [row0], [BM]), 1), info);
    }
    const cv = this.chance(0.3) ? { info: this.input('cv', this.randomDtype(), ['N']) } : undefined;
    const accD = this.randomDtype();
    const acc = this.makeAcc(accD);
    let accInfo = this.info(acc);
    b.for('k', 0, N, BN, (k) => {
      this.loopScope(() => {
        this.frame = { offsets: [row0, k], dims: ['M', 'N'], col0: k, row0 };
        for (const x of inputs) this.loadMain(x.name, x.info);
        if (cv) {
          this.tags.add('input:colvec');
          this.add(b.unsqueeze(b.load('cv', [k], [BN]), 0), cv.info);
        }
        this.chain(this.steps());
        const fv = this.finalValue(accD);
        if (fv) {
          const info = this.accumulate(acc, this.toMain(fv.t), iters);
          if (info) accInfo = info;
        }
      });
    });
    this.infos.set(acc, accInfo);
    this.frame = { offsets: [row0, 0], dims: ['M', 'N'], col0: constant(0), row0 };
    this.pool.push(acc);
    this.chain(this.int(0, 3), false);
    const fv = this.finalValue(undefined, (t) => t === acc || this.chance(0.5));
    if (fv) {
      this.output('y0', this.dt(fv.t), ['M', BN]);
      this.tags.add('out:const-dim');
      b.store('y0', [row0, 0], this.toMain(fv.t));
      this.tolerance.y0 = fv.info.err;
    }
    if (this.chance(0.6) || !fv) {
      const src = this.finalValue(undefined, (t) => this.dt(t).kind !== 'bool');
      if (src && src.t.type.dtype.kind !== 'bool') {
        const red = this.reduceToScalar(this.toMain(src.t), src.info, 1, false);
        if (red) {
          this.output('p', this.dt(red.t), ['M']);
          b.store('p', [row0], red.t);
          this.tolerance.p = red.info.err;
        }
      }
    }
  }

  matmul(): void {
    const b = this.b;
    const float = this.chance(0.6);
    const BM = this.pick([1, 2, 4, 5, 8, 16]);
    let BN = this.pick([1, 3, 4, 8, 16, 32]);
    let BK = this.pick([1, 2, 4, 7, 8, 16, 32]);
    while (BM * BN > 256) BN >>= 1;
    while (BM * BK > 256 || BK * BN > 256) BK = Math.max(1, BK >> 1);
    this.S = [BM, BN];
    const M = this.symbol('M', 1, this.dimHi(BM, 3, 24), BM);
    const N = this.symbol('N', 1, this.dimHi(BN, 3, 40), BN);
    const Khi = this.dimHi(BK, 4, 48);
    const K = this.symbol('K', 1, Khi, BK);
    b.grid(sbin('cdiv', N, BN), sbin('cdiv', M, BM));
    const row0 = b.let('r0', sbin('mul', b.blockIdx.y, BM));
    const col0 = b.let('c0', sbin('mul', b.blockIdx.x, BN));
    this.frame = { offsets: [row0, col0], dims: ['M', 'N'], col0, row0 };
    const dtA: DType = float
      ? this.pick([f32, f16, bf16, f8e4m3, f8e5m2, f4e2m1, f6e3m2])
      : this.pick([i8, u8, i4, u4, i16]);
    const acc: DType = float ? (dtA === f16 && this.chance(0.3) ? f16 : f32) : this.pick([i32, u32]);
    const inA = this.chance(0.6) ? dtA : this.randomDtype();
    const inB = this.chance(0.6) ? dtA : this.randomDtype();
    const ia = this.input('a', inA, ['M', 'K']);
    const bT = this.chance(0.3);
    const ib = this.input('bm', inB, bT ? ['N', 'K'] : ['K', 'N']);
    if (bT) this.tags.add('input:transposed');
    const ca = castInfo(inA, dtA, ia);
    const cb = castInfo(inB, dtA, ib);
    const accInit = this.makeAcc(acc);
    let accInfo = this.info(accInit);
    let ok = true;
    if (ca && cb && isFloatD(acc)) {
      const xa = castInfo(dtA, acc, ca);
      const xb = castInfo(dtA, acc, cb);
      if (!xa || !xb) ok = false;
      else {
        const M2 = accInfo.M + Khi * xa.M * xb.M;
        const settled = settle(
          acc,
          fin(acc, M2, Math.min(accInfo.q, xa.q * xb.q), 0, true, xa.special || xb.special),
        );
        ok = settled !== undefined;
        if (settled) accInfo = settled;
      }
    } else if (!ca || !cb) ok = false;
    this.tags.add(`dot:${float ? 'float' : 'int'}`);
    b.for('k', 0, K, BK, (k) => {
      this.loopScope(() => {
        let ta = b.load('a', [row0, k], [BM, BK], this.chance(0.3) ? { other: 1 } : {});
        let tb = bT
          ? b.transpose(b.load('bm', [col0, k], [BN, BK]), [1, 0])
          : b.load('bm', [k, col0], [BK, BN]);
        if (ok) {
          if (inA !== dtA) ta = b.cast(ta, dtA);
          if (inB !== dtA) tb = b.cast(tb, dtA);
          if (!float && this.chance(0.3)) {
            this.tags.add('unary:int:neg');
            ta = b.unary('neg', ta);
          }
          if (float && this.chance(0.3)) {
            this.tags.add('unary:float:abs');
            tb = b.unary('abs', tb);
          }
          b.assign(accInit, b.dot(ta, tb, accInit));
        } else {
          // The operands cannot be cast safely: accumulate a safe elementwise function of them instead.
          const t = b.reduce('max', b.cast(b.binary('ne', ta, 0), acc), 1, { keepdim: true });
          b.assign(accInit, b.binary('max', accInit, t));
          this.tags.add('matmul:fallback');
        }
      });
    });
    if (!ok) accInfo = isFloatD(acc) ? fin(acc, 1, 1, 0, false) : intInfo(acc);
    this.infos.set(accInit, accInfo);
    this.pool.push(accInit);
    if (this.chance(0.4)) {
      const info = this.input('bias', this.randomDtype(), ['N']);
      this.tags.add('input:colvec');
      this.add(b.unsqueeze(b.load('bias', [col0], [BN]), 0), info);
    }
    this.chain(this.int(0, 3), false);
    const fv = this.finalValue(undefined, (t) => t === accInit || this.chance(0.3));
    if (fv) {
      this.output('y0', this.dt(fv.t), ['M', 'N']);
      this.storeMain('y0', fv.t, fv.info);
    }
  }
}

function kindOf(d: DType): string {
  if (d.kind === 'bool') return 'bool';
  if (d.kind === 'int') return 'int';
  return 'float';
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function tryBroadcast(a: readonly number[], b: readonly number[]): number[] | undefined {
  try {
    return broadcastShapes(a, b);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Launch arguments

interface LaunchSpecs {
  readonly tensors: readonly TensorSpec[];
  readonly scalars: readonly ScalarSpec[];
  readonly symbols: readonly SymbolSpec[];
  readonly params: Program['params'];
}

function pickSize(r: () => number, s: SymbolSpec): number {
  const { lo, hi, tile } = s;
  const x = r();
  if (tile > 1 && x < 0.7) {
    // Leave an edge tile: not a multiple of the tile.
    const candidates: number[] = [];
    for (let n = lo; n <= hi; n++) if (n % tile !== 0) candidates.push(n);
    if (candidates.length > 0) return candidates[randomInt(r, 0, candidates.length - 1)];
  }
  if (x < 0.85) {
    const candidates: number[] = [];
    for (let n = lo; n <= hi; n++) if (n % tile === 0) candidates.push(n);
    if (candidates.length > 0) return candidates[randomInt(r, 0, candidates.length - 1)];
  }
  return randomInt(r, lo, hi);
}

function makeArgs(specs: LaunchSpecs, seed: number): Record<string, Tensor | number> {
  const r = rng((Math.imul(seed, 0x85ebca6b) ^ 0xc2b2ae35) >>> 0);
  const env = new Map<string, number>();
  for (const s of specs.symbols) env.set(s.name, pickSize(r, s));
  const args: Record<string, Tensor | number> = {};
  for (const p of specs.params) {
    if (p.kind === 'scalar') {
      const s = specs.scalars.find((q) => q.name === p.name)!;
      args[p.name] = s.choices[randomInt(r, 0, s.choices.length - 1)];
      continue;
    }
    const t = specs.tensors.find((q) => q.name === p.name)!;
    const shape = t.dims.map((d) => evalShapeExpr(parseShapeExpr(d), env)!);
    args[p.name] =
      t.init === 'poison' ? poisonTensor(r, t.dtype, shape) : randomTensor(r, t.dtype, shape, t.values);
  }
  return args;
}

/** A random, valid VM program with launch arguments and per-output tolerances (see the file comment). */
export function randomProgram(seed: number, options: RandomProgramOptions = {}): RandomProgram {
  const opts: Required<RandomProgramOptions> = {
    maxElements: options.maxElements ?? 1024,
    transcendentals: options.transcendentals ?? true,
    maxSteps: options.maxSteps ?? 8,
  };
  try {
    return new Gen(seed, opts).generate();
  } finally {
    specialsMode = false;
  }
}
