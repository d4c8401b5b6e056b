// Seeded fuzzing of the whole front end (lexer, parser, checker, lowering, validation): valid
// kernels are mutated at random (tokens and characters deleted, duplicated, swapped; identifiers
// replaced by other names, builtins, dtypes and keywords; numbers by edge values; operators and
// brackets inserted; the text truncated; interpolated values, fn bodies, signatures and consts
// changed) and each mutant is compiled with kernel.check(). Whatever the input, the compiler must
// return, promptly, either a program or at least one error, and every diagnostic must be well
// formed: a known code, a position inside the text it points into, and no internal compiler error.
//
// TILEVM_FUZZ_CASES (default 10000) and TILEVM_FUZZ_SEED (default 1) scale and vary a run; a
// failure prints the seed kernel, the consts and the mutated source, which reproduce it.
import { describe, expect, it } from 'vitest';
import {
  bool,
  CompileError,
  DeviceFn,
  DIAGNOSTIC_CODES,
  type DType,
  f16,
  f32,
  fn,
  formatDiagnostic,
  global,
  i32,
  Kernel,
  type KernelSignature,
  local,
  spatial,
  u4,
  u8,
} from '../../dsl/index.js';
import { placeholder, type SourceText } from '../../dsl/lang/source.js';
import { rng } from '../helpers/random.js';

const CASES = Number(process.env.TILEVM_FUZZ_CASES ?? 10_000);
const SEED = Number(process.env.TILEVM_FUZZ_SEED ?? 1);
/** A case slower than this is a hang (or a performance bug). */
const CASE_LIMIT_MS = 2000;

// ---- the valid kernels ----

const gelu = fn({ name: 'gelu', params: { v: f32 }, returns: f32 })`
  return 0.5 * v * (1 + erf(v * 0.7071067811865476));
`;
const leaky = fn({ name: 'leaky', params: { v: f32, s: f32 }, returns: f32 })`
  const t = v * s;
  return t > 0 ? t : 0.01 * t;
`;
/** The body of a fn the fuzzer mutates too; ${0} is `gelu`. */
const FN_TEXT = `
  const u = v * 0.7071;
  return 0.5 * v * (1 + erf(u)) + \${0}(v) * 0;
`;

interface Seed {
  readonly name: string;
  readonly signature: KernelSignature;
  /** The kernel text, each interpolation written as its placeholder `${i}`. */
  readonly text: string;
  readonly values: readonly unknown[];
}

const SEEDS: readonly Seed[] = [
  {
    name: 'gemv',
    signature: {
      name: 'gemv_u4',
      params: {
        x: global(f32, ['K']),
        w: global(u4, ['N', 'K']),
        s: global(f16, ['N', 'cdiv(K, 128)']),
        y: global(f32, ['N'], 'write'),
      },
      consts: { BN: [8, 4], BK: [256, 128] },
    },
    text: `
  grid(cdiv(N, BN));
  threads(64);
  let acc = zeros(f32, [BN, BK]);
  for (let k = 0; k < K; k += BK) {
    const wt = load(w, [blockIdx.x * BN, k], [BN, BK]).to(f32) - 8;
    const st = load(s, [blockIdx.x * BN, k / 128], [BN, BK / 128]).to(f32);
    const xt = load(x, [k], [BK]);
    acc += wt * st.repeat(1, 128) * xt.unsqueeze(0);
  }
  store(y, [blockIdx.x * BN], acc.sum(1));
`,
    values: [],
  },
  {
    name: 'softmax',
    signature: {
      name: 'softmax_prefix',
      params: { x: global(f32, ['M', 'N']), y: global(f32, ['M', 'N'], 'write'), n: i32 },
      consts: { BM: [4, 2], BN: [64, 32] },
    },
    text: `
  grid(cdiv(M, BM));
  threads(128);
  const row = blockIdx.x * BM;
  const keep = (arange(BN) < n).unsqueeze(0).broadcast(BM, BN);
  const t = load(x, [row, 0], [BM, BN], { other: -Infinity, mask: keep });
  const e = exp(t - t.max(1, { keepdim: true }));
  store(y, [row, 0], e / e.sum(1, { keepdim: true }), { mask: keep });
`,
    values: [],
  },
  {
    name: 'matmul with shared tiles',
    signature: {
      name: 'matmul',
      params: { a: global(f16, ['M', 'K']), b: global(f16, ['K', 'N']), c: global(f32, ['M', 'N'], 'write') },
      consts: { BM: [16, 8], BN: [16, 32], BK: [8, 16] },
    },
    text: `
  grid(cdiv(M, BM), cdiv(N, BN));
  threads(128);
  const m0 = blockIdx.x * BM;
  const n0 = blockIdx.y * BN;
  const sa = shared(f16, [BM, BK]);
  const sb = shared(f16, [BK, BN]);
  let acc = zeros(f32, [BM, BN]);
  for (let k = 0; k < K; k += BK) {
    sa.store(load(a, [m0, k], [BM, BK]));
    sb.store(load(b, [k, n0], [BK, BN]));
    sync();
    acc = dot(sa.load(), sb.load(), acc);
    sync();
  }
  store(c, [m0, n0], acc);
`,
    values: [],
  },
  {
    name: 'layer norm with loops and ifs',
    signature: {
      name: 'layer_norm',
      params: {
        x: global(f32, ['M', 'N']),
        gamma: global(f32, ['N']),
        y: global(f32, ['M', 'N'], 'write'),
        eps: f32,
      },
      consts: { BM: 4, BN: [32, 16] },
    },
    text: `
  grid(cdiv(M, BM));
  const row = blockIdx.x * BM;
  let s = zeros(f32, [BM, BN]);
  for (let k = 0; k < N; k += BN) {
    s += load(x, [row, k], [BM, BN]);
  }
  const mean = s.sum(1, { keepdim: true }) / N;
  let q = zeros(f32, [BM, BN]);
  for (let k = 0; k < N; k += BN) {
    const inside = (arange(BN, k) < N).unsqueeze(0);
    const d = where(inside, load(x, [row, k], [BM, BN]) - mean, 0);
    q += d * d;
  }
  const rstd = rsqrt(q.sum(1, { keepdim: true }) / N + eps);
  for (let k = 0; k < N; k++) {
    if (k % BN == 0) {
      const g = load(gamma, [k], [BN]).unsqueeze(0);
      store(y, [row, k], (load(x, [row, k], [BM, BN]) - mean) * rstd * g);
    } else if (k > N) {
      store(y, [row, k], zeros(f32, [BM, BN]));
    }
  }
`,
    values: [],
  },
  {
    name: 'fn calls',
    signature: {
      name: 'ffn',
      params: { x: global(f32, ['N']), b: global(f32, ['N']), y: global(f32, ['N'], 'write'), alpha: f32 },
      consts: { BN: [64, 128] },
    },
    text: `
  grid(cdiv(N, BN));
  threads(\${0});
  const o = blockIdx.x * BN;
  const h = load(x, [o], [BN]) + load(b, [o], [BN]);
  const g = \${1}(h);
  store(y, [o], \${2}(g, alpha) + silu(h) * sigmoid(h), { mask: arange(BN, o) < N });
`,
    values: [64, gelu, leaky],
  },
  {
    name: 'ternaries and a layout',
    signature: {
      name: 'clip_mix',
      params: { x: global(f32, ['N']), q: global(u8, ['N']), y: global(f32, ['N'], 'readwrite'), lo: f32 },
      consts: { BN: 32, MODE: [0, 1, 2] },
    },
    text: `
  grid(cdiv(N, BN));
  threads(32);
  const o = blockIdx.x * BN;
  const t = load(x, [o], [BN], { layout: \${0} });
  const v = load(q, [o], [BN]).to(f32) * (1.0 / 255);
  const m = MODE == 0 ? t : MODE == 1 ? max(t, v) : clamp(t, lo, 6);
  const flag = (t > lo) ? 1 : 0;
  let r = where(t > lo, m, -m) * \${1};
  r = r + (blockIdx.x > 2 ? 1.5 : 0.5);
  const prev = load(y, [o], [BN]);
  store(y, [o], (r + prev * flag).to(\${2}));
`,
    values: [spatial(32), 0.5, f32],
  },
  {
    name: 'nested loops over an integer histogram',
    signature: {
      name: 'histo',
      params: { x: global(i32, ['N']), y: global(i32, ['B'], 'write'), n: i32 },
      consts: { BN: [16, 8], NB: 4 },
    },
    text: `
  grid(1);
  threads(64);
  let counts = zeros(i32, [NB]);
  let total = 0;
  for (let k = 0; k < n; k += BN) {
    const v = load(x, [k], [BN]);
    for (let b = 0; b <= NB - 1; b++) {
      if (b == 0) {
        counts += (arange(NB) == b).to(i32) * (v < 0).to(i32).sum();
      } else {
        const hit = (v >> 2 & 3) == b;
        counts += (arange(NB) == b).to(i32) * hit.to(i32).sum(0);
      }
    }
    total += 1;
  }
  if (total > 0 && n > 0) {
    store(y, [0], counts);
  }
`,
    values: [],
  },
  {
    name: 'rank-3 pooling with reshapes',
    signature: {
      name: 'avg_pool',
      params: { x: global(f32, ['C', 'H', 'W']), y: global(f32, ['C'], 'write') },
      consts: { BC: 4, BH: [4, 2], BW: 8 },
    },
    text: `
  grid(cdiv(C, BC));
  threads(128);
  const c0 = blockIdx.x * BC;
  let acc = zeros(f32, [BC, BH, BW]);
  for (let h = 0; h < H; h += BH) {
    for (let w = 0; w < W; w += BW) {
      acc += load(x, [c0, h, w], [BC, BH, BW]);
    }
  }
  const flat = acc.reshape(BC, -1).transpose().transpose();
  store(y, [c0], flat.mean(1) + acc.sum(2).sum(1) * 0 / (H * W));
`,
    values: [],
  },
];

/** Builds a kernel from text with `${i}` placeholders, each standing for seed.values[i]. */
function toKernel(signature: KernelSignature, text: string, values: readonly unknown[]): Kernel {
  const parts: string[] = [];
  const used: unknown[] = [];
  let last = 0;
  for (const m of text.matchAll(/\$\{(\d+)\}/g)) {
    parts.push(text.slice(last, m.index));
    used.push(values[Number(m[1])]);
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return new Kernel(signature, parts, used);
}

// ---- mutations ----

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

/** Placeholders, words, numbers (with glued suffixes), whitespace, operators, single characters. */
const TOKEN =
  /\$\{\d+\}|[A-Za-z_$][\w$]*|\d[\w.]*|\s+|>>>=|>>=|<<=|\*\*=|===|!==|>>>|\.\.\.|[-+*/%&|^<>=!]=|&&|\|\||\*\*|<<|>>|\+\+|--|=>|[^\w\s]/g;
const isWord = (t: string): boolean => /^[A-Za-z_$]/.test(t);
const isNumber = (t: string): boolean => /^\d/.test(t);

const NAMES = [
  ...['x', 'y', 'w', 'N', 'K', 'M', 'BN', 'BK', 'acc', 'row', 'k', 'b', 'foo', 'tiel', 'undefined', 'null'],
  ...['load', 'store', 'zeros', 'full', 'grid', 'threads', 'shared', 'sync', 'dot', 'where', 'arange', 'exp'],
  ...['sum', 'mean', 'max', 'min', 'cdiv', 'clamp', 'relu', 'gelu', 'silu', 'pow', 'blockIdx', 'neg'],
  ...['f32', 'f16', 'bf16', 'bool', 'u4', 'i32', 'u8', 'f4e2m1', 'i3'],
  ...['const', 'let', 'for', 'if', 'else', 'return', 'true', 'false', 'NaN', 'Infinity'],
  ...['while', 'new', 'this', 'function', 'in', 'of', 'var', 'typeof'],
  ...['reshape', 'repeat', 'to', 'view', 'shape', 'dtype', 'ndim', 'length', 'transpose', 'unsqueeze'],
  ...['squeeze', 'broadcast', 'keepdim', 'mask', 'other', 'layout', 'x', 'bits'],
  ...['constructor', '__proto__', 'toString', 'hasOwnProperty', 'prototype', 'valueOf'],
];
const NUMBERS = [
  ...['0', '-1', '1', '3', '7', '1e9', '0.5', 'NaN', 'Infinity', '-Infinity', '-0', '1e400', '1e-9'],
  ...['.5', '5.', '2147483648', '4294967296', '9007199254740993', '65536', '1024', '255u8', '256u8'],
  ...['128i8', '1.5f16', '0x10', '0b101', '1_000', '1e', '0x', '1u1', '2bool', '3f4e2m1'],
];
const INSERTS = [
  ...['(', ')', '[', ']', '{', '}', ',', ';', '.', ':', '?', '=', '+=', '++', '--', '=>', '...', '?.', '??'],
  ...['+', '-', '*', '/', '%', '**', '<<', '>>', '>>>', '<', '>', '<=', '==', '!=', '&&', '||', '&', '|'],
  ...['^', '!', '~', '@', '#', '"', "'", '`', '/*', '//', '\\', '\n', ' ', '\u00a0', '\u2028', 'é', '😀'],
];
/** A fn named like the 'fn calls' seed kernel, with an error in its body. */
const sameName = fn({ name: 'ffn', params: { v: f32 }, returns: f32 })`
  return v * missing;
`;
/** A fn whose signature JavaScript let through: a dtype given by name. */
const badSignature = new DeviceFn(
  { name: 'bad_sig', params: { v: 'f32' as never }, returns: f32 },
  ['return v;'],
  [],
);
/** What an interpolated value may be replaced with: bad values and good ones in the wrong place. */
const VALUES: readonly unknown[] = [
  ...['f32', null, undefined, { scale: 2 }, () => 1, Number.NaN, 1e9, -1, 0.5, true],
  ...[[1, 2], Symbol('s'), 10n, f16, bool, spatial(64), spatial(128), local(4)],
  ...[gelu, leaky, sameName, badSignature],
];
/** Signature params a mutation may put in place of a valid one. */
const BAD_PARAMS: readonly unknown[] = [
  ...[global(f32, ['K +']), global(f32, ['N', 'cdiv(N']), global(f32, [-1]), global(f32, [1.5])],
  ...[global('f32' as never, ['N']), global(f32, ['N'], 'rw' as never), global(f32, []), global(f32, ['BN'])],
  ...['f32', null, {}, i32, global(f32, 'N' as never)],
];

/** One random edit of the token list. */
function mutateOnce(t: string[], r: Rand): string[] {
  const out = [...t];
  const i = Math.floor(r() * out.length);
  const span = () => Math.min(out.length, i + 1 + Math.floor(r() * 8));
  switch (Math.floor(r() * 12)) {
    case 0: // delete a token
      out.splice(i, 1);
      break;
    case 1: // duplicate a token
      out.splice(i, 0, out[i]);
      break;
    case 2: {
      // swap two tokens
      const j = Math.floor(r() * out.length);
      [out[i], out[j]] = [out[j], out[i]];
      break;
    }
    case 3: {
      // replace a word by a known name or another word of the text
      const words = out.flatMap((s, q) => (isWord(s) ? [q] : []));
      if (words.length > 0) out[pick(r, words)] = r() < 0.6 ? pick(r, NAMES) : out[pick(r, words)];
      break;
    }
    case 4: {
      // replace a number by an edge value
      const numbers = out.flatMap((s, q) => (isNumber(s) ? [q] : []));
      if (numbers.length > 0) out[pick(r, numbers)] = pick(r, NUMBERS);
      break;
    }
    case 5: // insert an operator, bracket or odd character
      out.splice(i, 0, pick(r, INSERTS));
      break;
    case 6: // truncate
      out.length = i;
      break;
    case 7: {
      // a character-level edit: delete, duplicate or swap with the next one
      const s = out.join('');
      const c = Math.floor(r() * s.length);
      const edits = [
        () => s.slice(0, c) + s.slice(c + 1),
        () => s.slice(0, c + 1) + s.slice(c),
        () => s.slice(0, c) + s.slice(c + 1, c + 2) + s.slice(c, c + 1) + s.slice(c + 2),
      ];
      return pick(r, edits)().match(TOKEN) ?? [];
    }
    case 8: // replace a token by another token of the text
      out[i] = pick(r, out);
      break;
    case 9: // duplicate a run of tokens
      out.splice(i, 0, ...out.slice(i, span()));
      break;
    case 10: // delete a run of tokens
      out.splice(i, span() - i);
      break;
    case 11: // insert an operator and a number
      out.splice(i, 0, pick(r, INSERTS), pick(r, NUMBERS));
      break;
  }
  return out;
}

function mutateText(text: string, r: Rand): string {
  let tokens: string[] = text.match(TOKEN) ?? [];
  const edits = 1 + Math.floor(r() * 3);
  for (let e = 0; e < edits && tokens.length > 0; e++) tokens = mutateOnce(tokens, r);
  return tokens.join('');
}

interface Mutant {
  readonly kernel: Kernel;
  readonly text: string;
  readonly consts: Record<string, number>;
  /** What besides the text changed, for the failure report. */
  readonly notes: readonly string[];
}

function mutant(seed: Seed, r: Rand): Mutant {
  const notes: string[] = [];
  const text = r() < 0.9 ? mutateText(seed.text, r) : seed.text;
  const values = [...seed.values];
  if (values.length > 0 && r() < 0.3) {
    const i = Math.floor(r() * values.length);
    if (r() < 0.5) {
      values[i] = pick(r, VALUES);
      notes.push(`\${${i}} = ${describeValue(values[i])}`);
    } else {
      // A fn whose own body, params or return dtype are mutated.
      const body = mutateText(FN_TEXT, r);
      const params: Record<string, DType> = r() < 0.7 ? { v: f32 } : { v: f32, w: f16 };
      const returns = r() < 0.8 ? f32 : i32;
      const parts = body.split(placeholder(0)); // each ${0} left in the body calls gelu
      values[i] = new DeviceFn(
        { name: 'mutated_fn', params, returns },
        parts,
        parts.slice(1).map(() => gelu),
      );
      notes.push(
        `\${${i}} = fn({ params: ${JSON.stringify(Object.keys(params))}, returns: ${returns.name} })\`${body}\``,
      );
    }
  }
  let signature = seed.signature;
  if (r() < 0.05) {
    const params: Record<string, unknown> = { ...signature.params };
    const victim = pick(r, Object.keys(params));
    params[victim] = pick(r, BAD_PARAMS);
    notes.push(`param ${victim} = ${describeValue(params[victim])}`);
    const consts = r() < 0.3 ? { BN: [] as number[], X: Number.NaN } : signature.consts;
    if (consts !== signature.consts) notes.push('consts = { BN: [], X: NaN }');
    signature = { ...signature, params: params as KernelSignature['params'], consts };
  }
  const kernel = toKernel(signature, text, values);
  const variants = kernel.variants();
  const first = variants[0] ?? {};
  const roll = r();
  const consts =
    roll < 0.05
      ? { ...first, BOGUS: 1 }
      : roll < 0.1
        ? Object.fromEntries(Object.keys(first).map((key) => [key, 3]))
        : (pick(r, variants) ?? {});
  return { kernel, text, consts, notes };
}

function describeValue(v: unknown): string {
  if (typeof v === 'symbol' || typeof v === 'bigint' || typeof v === 'function') return String(v);
  if (v instanceof DeviceFn) return `fn ${v.signature.name}`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

// ---- the properties every compile must have ----

const CODES = new Set(Object.keys(DIAGNOSTIC_CODES));

/** What is wrong with one compile, or undefined. Throws nothing. */
function problemWith(m: Mutant): { problem?: string; ms: number; compiled: boolean } {
  const start = performance.now();
  let problem: string | undefined;
  let compiled = false;
  try {
    const result = m.kernel.check(m.consts);
    compiled = result.program !== undefined;
    const errors = result.diagnostics.filter((d) => d.severity === 'error');
    if (!result.program && errors.length === 0) problem = 'neither a program nor an error';
    if (result.program && errors.length > 0) problem = 'a program despite errors';
    for (const d of result.diagnostics) {
      problem ??= diagnosticProblem(d, result.sources.get(d.source ?? ''));
    }
    // compile() agrees with check(), and CompileError formats every diagnostic.
    try {
      m.kernel.compile(m.consts);
      if (!result.program) problem ??= 'compile() did not throw for a kernel with errors';
    } catch (e) {
      if (!(e instanceof CompileError)) throw e;
      if (result.program) problem ??= 'compile() threw for a kernel check() accepted';
      if (!e.message.startsWith(`kernel '${m.kernel.name}' has `))
        problem ??= `odd CompileError: ${e.message}`;
    }
  } catch (e) {
    problem = `exception escaped: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`;
  }
  const ms = performance.now() - start;
  if (ms > CASE_LIMIT_MS) problem ??= `took ${ms.toFixed(0)} ms (limit ${CASE_LIMIT_MS} ms)`;
  return { problem, ms, compiled };
}

function diagnosticProblem(d: CompileResultDiagnostic, source: SourceText | undefined): string | undefined {
  const where = `${d.code} '${d.message}'`;
  if (!CODES.has(d.code)) return `unknown code in ${where}`;
  if (d.code === 'TV4001') return `internal compiler error: ${where}`;
  if (d.severity !== 'error' && d.severity !== 'warning') return `bad severity ${d.severity} in ${where}`;
  if (typeof d.message !== 'string' || d.message.length === 0) return `empty message in ${where}`;
  if (!Number.isInteger(d.line) || d.line < 1 || !Number.isInteger(d.column) || d.column < 1) {
    return `bad position ${d.line}:${d.column} in ${where}`;
  }
  if (!source) return `no source text for '${d.source}' in ${where}`;
  const { start, end } = d.span;
  if (
    !(
      Number.isInteger(start) &&
      Number.isInteger(end) &&
      start >= 0 &&
      start <= end &&
      end <= source.text.length
    )
  ) {
    return `span ${start}..${end} outside the text (length ${source.text.length}) in ${where}`;
  }
  const pos = source.position(start);
  if (pos.line !== d.line || pos.column !== d.column) {
    return `line:column ${d.line}:${d.column} does not match the span start ${pos.line}:${pos.column} in ${where}`;
  }
  formatDiagnostic(d, source);
  return undefined;
}

type CompileResultDiagnostic = ReturnType<Kernel['check']>['diagnostics'][number];

function report(seed: Seed, index: number, m: Mutant, problem: string): string {
  return [
    `[${seed.name}] case ${index} (TILEVM_FUZZ_SEED=${SEED}): ${problem}`,
    `consts: ${JSON.stringify(m.consts)}`,
    ...m.notes,
    `source (\${i} is interpolation i of the seed):`,
    m.text,
  ].join('\n');
}

// ---- the tests ----

describe('the seed kernels', () => {
  for (const seed of SEEDS) {
    it(`${seed.name} compiles cleanly for every const variant`, () => {
      const kernel = toKernel(seed.signature, seed.text, seed.values);
      // The placeholders split back into interpolations: the kernel's source is the seed text.
      expect(kernel.source.text).toBe(seed.text);
      for (const consts of kernel.variants()) {
        const result = kernel.check(consts);
        expect(result.diagnostics.map((d) => `${d.line}:${d.column} ${d.code} ${d.message}`)).toEqual([]);
        expect(result.program).toBeDefined();
      }
    });
  }
});

describe(`fuzzing the compiler with ${CASES} mutated kernels`, () => {
  const perSeed = Math.ceil(CASES / SEEDS.length);
  for (const [s, seed] of SEEDS.entries()) {
    it(`${seed.name}: ${perSeed} mutants compile to a program or to errors, promptly`, () => {
      const failures: string[] = [];
      let slowest = 0;
      let programs = 0;
      for (let c = 0; c < perSeed; c++) {
        const index = s * perSeed + c;
        const r = rng(SEED * 1_000_003 + index);
        const m = mutant(seed, r);
        const { problem, ms, compiled } = problemWith(m);
        slowest = Math.max(slowest, ms);
        if (compiled) programs++;
        if (problem && failures.length < 5) failures.push(report(seed, index, m, problem));
      }
      if (failures.length > 0) console.error(failures.join('\n\n----\n\n'));
      expect(failures).toEqual([]);
      expect(slowest).toBeLessThan(CASE_LIMIT_MS);
      // The mutations are not all fatal: some mutants still compile.
      expect(programs).toBeGreaterThan(0);
    }, 120_000);
  }
});
