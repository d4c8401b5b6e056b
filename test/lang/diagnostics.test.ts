// Bad kernels and the exact diagnostics they get: code, severity, message, hint and the line:column
// inside the template (line 1 is the text right after the backtick, so each kernel starts with a
// newline and its first statement is on line 2). Most cases also check that the span covers the
// offending token or expression, so an excerpt's caret lands on it.
import { describe, expect, it } from 'vitest';
import {
  CompileError,
  type CompileResult,
  DeviceFn,
  type Diagnostic,
  f16,
  f32,
  fn,
  global,
  i32,
  type Kernel,
  kernel,
  spatial,
  u8,
} from '../../dsl/index.js';
import { placeholder } from '../../dsl/lang/source.js';

// ---- helpers ----

interface Shown {
  code: string;
  severity: 'error' | 'warning';
  line: number;
  column: number;
  message: string;
  hint?: string;
  /** Only when the diagnostic belongs to a fn, not to the kernel. */
  source?: string;
}

/** The diagnostics as plain objects, for toEqual. */
function shown(k: Kernel, result: CompileResult): Shown[] {
  return result.diagnostics.map((d) => ({
    code: d.code,
    severity: d.severity,
    line: d.line,
    column: d.column,
    message: d.message,
    ...(d.hint !== undefined ? { hint: d.hint } : {}),
    ...(d.source !== undefined && d.source !== k.name ? { source: d.source } : {}),
  }));
}

/** The source text each diagnostic's span covers (in the kernel's or the fn's own source). */
function tokens(result: CompileResult): string[] {
  return result.diagnostics.map((d: Diagnostic) => {
    const source = result.sources.get(d.source ?? '');
    if (!source) throw new Error(`no source text for ${d.source}`);
    return source.text.slice(d.span.start, d.span.end);
  });
}

function err(line: number, column: number, code: string, message: string, hint?: string): Shown {
  return { code, severity: 'error', line, column, message, ...(hint !== undefined ? { hint } : {}) };
}

function inFn(source: string, d: Shown): Shown {
  return { ...d, source };
}

interface Case {
  readonly name: string;
  readonly kernel: Kernel;
  readonly consts?: Record<string, number>;
  readonly expected: readonly Shown[];
  /** The text under each diagnostic's span, in order (omit to skip the check). */
  readonly at?: readonly string[];
}

function run(cases: readonly Case[]): void {
  for (const c of cases) {
    it(c.name, () => {
      const result = c.kernel.check(c.consts ?? {});
      expect(shown(c.kernel, result)).toEqual(c.expected);
      if (c.at) expect(tokens(result)).toEqual(c.at);
      // Errors and a program exclude each other.
      const hasErrors = result.diagnostics.some((d) => d.severity === 'error');
      expect(result.program === undefined).toBe(hasErrors);
    });
  }
}

// A small GEMV-like signature most cases share.
const P = { x: global(f32, ['N']), w: global(f16, ['M', 'N']), y: global(f32, ['N'], 'write') };
const C = { BN: [64, 128] };
/** `k`...``: a kernel named 'k' over P and C. */
const k = (strings: TemplateStringsArray, ...values: unknown[]) =>
  kernel({ name: 'k', params: P, consts: C })(strings, ...values);

const FN_HINT = 'define device functions with fn() and interpolate them';
const LOOP_HINT = 'only counted for loops are supported: for (let i = a; i < b; i += s)';
const NUMBER_HINT = 'write digits, then optionally a dtype name right after them, e.g. 255u8 or 1.5f16';
const INTERP_TAIL = 'kernels accept numbers, booleans, dtypes, layouts and fn() device functions';
const BROADCAST_HINT = 'make dims equal or 1, e.g. with .unsqueeze(axis) or .repeat(...)';
const TILE_MEMBERS =
  'known here: shape, dtype, ndim, to(), view(), reshape(), unsqueeze(), squeeze(), repeat(), transpose(), broadcast(), sum(), mean(), max(), min()';

// ---- syntax (TV1xxx) ----

describe('syntax errors', () => {
  run([
    {
      name: 'TV1001: a character that starts no token',
      kernel: k`
  const t = load(x, [0], [BN]) @ 2;
  store(y, [0], t);
`,
      expected: [err(2, 32, 'TV1001', "unexpected character '@'")],
      at: ['@'],
    },
    {
      name: 'TV1001: a run of bad characters is reported once',
      kernel: k`
  const t = load(x, [0], [BN]);
  store(y, [0], t ## 2);
`,
      expected: [err(3, 19, 'TV1001', "unexpected characters '##'")],
      at: ['##'],
    },
    {
      name: 'TV1002: unterminated block comment',
      kernel: k`
  const t = load(x, [0], [BN]);
  /* scale it
  store(y, [0], t);
`,
      expected: [
        err(
          3,
          3,
          'TV1002',
          "unterminated comment: expected '*/' before the end of input",
          "close the comment with '*/'",
        ),
      ],
      at: ['/*'],
    },
    {
      name: "TV1003: '_' separators must sit between digits",
      kernel: k`
  const t = load(x, [0], [1__0]);
`,
      expected: [
        err(2, 27, 'TV1003', "malformed number literal '1__0': '_' must sit between digits", NUMBER_HINT),
      ],
      at: ['1__0'],
    },
    {
      name: 'TV1003: a suffix that is not a dtype',
      kernel: k`
  const t = load(x, [0], [BN]) * 2.0q;
`,
      expected: [
        err(2, 34, 'TV1003', "malformed number literal '2.0q': 'q' is not a dtype suffix", NUMBER_HINT),
      ],
      at: ['2.0q'],
    },
    {
      name: 'TV1003: an exponent without digits',
      kernel: k`
  const t = load(x, [0], [BN]) * 1e;
`,
      expected: [
        err(2, 34, 'TV1003', "malformed number literal '1e': expected digits after 'e'", NUMBER_HINT),
      ],
      at: ['1e'],
    },
    {
      name: 'TV1004: an operator with no right operand',
      kernel: k`
  const t = load(x, [0], [BN]);
  store(y, [0], t * );
`,
      expected: [err(3, 21, 'TV1004', "expected an expression, found ')'")],
      at: [')'],
    },
    {
      name: "TV1004: an extra '}'",
      kernel: k`
  const t = load(x, [0], [BN]);
  }
  store(y, [0], t);
`,
      expected: [err(3, 3, 'TV1004', "expected a statement, found '}'", "remove the extra '}'")],
      at: ['}'],
    },
    {
      name: 'TV1005: two statements on one line without a semicolon',
      kernel: k`
  const t = load(x, [0], [BN]) const u = t;
  store(y, [0], t);
`,
      // Reported right after the statement's last token, where the ';' belongs.
      expected: [err(2, 31, 'TV1005', "expected ';' after the statement, found 'const'")],
      at: [''],
    },
    {
      name: "TV1006: 'while' loops",
      kernel: k`
  let i = 0;
  while (i < 4) { i += 1; }
`,
      expected: [err(3, 3, 'TV1006', "'while' loops are not supported", LOOP_HINT)],
      at: ['while'],
    },
    {
      name: 'TV1006: arrow functions',
      kernel: k`
  const twice = (a) => a * 2;
  const half = a => a / 2;
`,
      expected: [
        err(2, 17, 'TV1006', 'arrow functions are not supported', FN_HINT),
        err(3, 18, 'TV1006', 'arrow functions are not supported', FN_HINT),
      ],
      at: ['(', '=>'],
    },
    {
      name: 'TV1006: string literals',
      kernel: k`
  const t = load(x, [0], [BN]);
  store(y, [0], "t");
`,
      expected: [err(3, 17, 'TV1006', 'string literals are not supported', 'kernels have no strings')],
      at: ['"t"'],
    },
    {
      name: 'TV1006: destructuring',
      kernel: k`
  const [a, b] = [1, 2];
`,
      expected: [
        err(2, 9, 'TV1006', 'destructuring is not supported', 'declare each variable with its own const'),
      ],
      at: ['['],
    },
    {
      name: 'TV1006: for...of',
      kernel: k`
  for (let k of [0, 1]) {
  }
`,
      expected: [err(2, 14, 'TV1006', "'for...of' loops are not supported", LOOP_HINT)],
      at: ['of'],
    },
    {
      name: 'TV1007: assigning to an element of a tile',
      kernel: k`
  const t = load(x, [0], [BN]);
  t[0] = 1;
`,
      expected: [
        err(
          3,
          3,
          'TV1007',
          "cannot assign to 't[0]': only a variable can be assigned",
          "tiles are values: write to memory with store(...) or a shared tile's .store(...)",
        ),
      ],
      at: ['t[0]'],
    },
    {
      name: 'TV1008: a loop condition that is not `i < stop`',
      kernel: k`
  for (let k = 0; k > N; k += BN) {
    store(y, [k], load(x, [k], [BN]));
  }
`,
      expected: [
        err(2, 19, 'TV1008', "expected the condition 'k < stop' or 'k <= stop', found 'k > N'", LOOP_HINT),
      ],
      at: ['k > N'],
    },
    {
      name: 'TV1008: a loop update that is not a step',
      kernel: k`
  for (let k = 1; k < N; k *= 2) {
  }
`,
      expected: [err(2, 26, 'TV1008', "expected the update 'k++' or 'k += step', found 'k *= 2'", LOOP_HINT)],
      at: ['k *= 2'],
    },
    {
      name: "TV1009: a '{' never closed",
      kernel: k`
  for (let k = 0; k < N; k += BN) {
    store(y, [k], load(x, [k], [BN]));
`,
      // At the end of input (line 4 is the empty text after the last newline).
      expected: [
        err(4, 1, 'TV1009', "'{' opened at line 2, column 35 is never closed", "add the matching '}'"),
      ],
      at: [''],
    },
    {
      name: "TV1009: a '(' never closed",
      kernel: k`
  const t = load(x, [0], [BN]);
  store(y, [0], t`,
      expected: [
        err(3, 18, 'TV1009', "'(' opened at line 3, column 8 is never closed", "add the matching ')'"),
      ],
      at: [''],
    },
  ]);
});

describe('the parser recovers and reports several syntax errors in one pass', () => {
  run([
    {
      name: 'one error per broken statement',
      kernel: k`
  const a = load(x, [0], [BN]) @;
  let b = a +* 2;
  let c = 1 2;
  store(y, [0], b);
  while (c) {}
`,
      expected: [
        err(2, 32, 'TV1001', "unexpected character '@'"),
        err(3, 14, 'TV1004', "expected an expression, found '*'"),
        err(4, 12, 'TV1005', "expected ';' after the statement, found '2'"),
        err(6, 3, 'TV1006', "'while' loops are not supported", LOOP_HINT),
      ],
      at: ['@', '*', '', 'while'],
    },
    {
      name: "a missing ')' before a block does not swallow the statements after it",
      kernel: k`
  const t = load(x, [0], [BN]);
  if (blockIdx.x > 0 {
    store(y, [0], t);
  }
  const u = t * * 2;
  store(y, [0], u
`,
      expected: [
        err(3, 22, 'TV1004', "expected ')' to close the 'if' condition, found '{'"),
        err(6, 17, 'TV1004', "expected an expression, found '*'"),
        err(8, 1, 'TV1009', "'(' opened at line 7, column 8 is never closed", "add the matching ')'"),
      ],
      at: ['{', '*', ''],
    },
  ]);
});

// ---- names ----

describe('unknown names', () => {
  run([
    {
      name: 'a misspelled variable (two letters swapped) gets a did-you-mean hint',
      kernel: k`
  const tile = load(x, [0], [BN]);
  store(y, [0], tiel * 2);
`,
      expected: [err(3, 17, 'TV2001', "unknown name 'tiel'", "did you mean 'tile'?")],
      at: ['tiel'],
    },
    {
      name: 'a misspelled builtin',
      kernel: k`
  store(y, [0], exq(load(x, [0], [BN])));
`,
      expected: [err(2, 17, 'TV2001', "unknown name 'exq'", "did you mean 'exp'?")],
      at: ['exq'],
    },
    {
      name: 'a misspelled dtype',
      kernel: k`
  const t = load(w, [0, 0], [1, BN]).to(f23);
`,
      expected: [err(2, 41, 'TV2001', "unknown name 'f23'", "did you mean 'f32'?")],
      at: ['f23'],
    },
    {
      name: 'a misspelled param',
      kernel: k`
  const t = load(xx, [0], [BN]);
`,
      expected: [err(2, 18, 'TV2001', "unknown name 'xx'", "did you mean 'x'?")],
      at: ['xx'],
    },
    {
      name: 'a name like nothing in scope gets no hint',
      kernel: k`
  const t = load(x, [0], [BN]);
  store(y, [0], t * scale);
`,
      expected: [err(3, 21, 'TV2001', "unknown name 'scale'")],
      at: ['scale'],
    },
    {
      name: 'assigning to an undeclared variable',
      kernel: k`
  total = 0;
`,
      expected: [err(2, 3, 'TV2001', "'total' is not declared", 'declare it first: let total = ...')],
      at: ['total'],
    },
  ]);
});

// ---- dtypes and shapes ----

describe('dtype mismatches', () => {
  run([
    {
      name: 'storing f16 into an f32 tensor',
      kernel: k`
  const t = load(w, [0, 0], [4, BN]);
  store(y, [0], t.sum(0));
`,
      expected: [
        err(3, 17, 'TV2005', "'y' holds f32, but the value is an f16[64] tile", 'convert it: (...).to(f32)'),
      ],
      at: ['t.sum(0)'],
    },
    {
      name: 'mixing signed and unsigned integer tiles',
      kernel: k`
  const a = load(x, [0], [BN]).to(i32);
  const b = a + load(x, [0], [BN]).to(u8);
`,
      expected: [
        err(
          3,
          13,
          'TV2005',
          'cannot apply + to an i32[64] tile and a u8[64] tile: i32 and u8 mix signed and unsigned integers',
          'convert one side with .to(dtype)',
        ),
      ],
      at: ['a + load(x, [0], [BN]).to(u8)'],
    },
    {
      name: 'dot operands of different dtypes',
      kernel: k`
  const a = load(w, [0, 0], [16, 16]);
  const b = load(w, [0, 0], [16, 16]).to(f32);
  const c = dot(a, b);
`,
      expected: [
        err(
          4,
          13,
          'TV2005',
          'dot operands must have one dtype: a is f16, b is f32',
          'convert one with .to(dtype)',
        ),
      ],
      at: ['dot(a, b)'],
    },
    {
      name: '&& on integers',
      kernel: k`
  if (blockIdx.x && N) {
  }
`,
      expected: [
        err(2, 7, 'TV2014', '&& needs bool operands, not i32', 'compare first, e.g. (x != 0) && (y != 0)'),
      ],
      at: ['blockIdx.x && N'],
    },
    {
      name: '&& on floats asks for bools, not integers',
      kernel: k`
  const t = load(x, [0], [BN]) && 1.5;
`,
      expected: [
        err(2, 13, 'TV2014', '&& needs bool operands, not f32', 'compare first, e.g. (x != 0) && (y != 0)'),
      ],
    },
    {
      name: 'unary minus on a bool names the operator',
      kernel: k`
  const t = -(load(x, [0], [BN]) > 0);
`,
      expected: [err(2, 13, 'TV2014', 'unary - is not defined on bool tiles')],
      at: ['-(load(x, [0], [BN]) > 0)'],
    },
    {
      name: "'!' on an array",
      kernel: k`
  const t = ![1, 2];
`,
      expected: [err(2, 13, 'TV2004', '! needs a bool or a number, not an array of 2')],
      at: ['![1, 2]'],
    },
    {
      name: 'a float literal where an integer is needed is shown as a float',
      kernel: k`
  for (let k = 0; k < 1e9; k++) {
  }
`,
      expected: [err(2, 23, 'TV2023', 'loop bounds must be integer scalars, not the number 1000000000.0')],
      at: ['1e9'],
    },
    {
      name: 'a suffixed literal that does not fit its dtype',
      kernel: k`
  const t = load(x, [0], [BN]).to(u8) + 300u8;
`,
      expected: [err(2, 41, 'TV2025', '300 does not fit in u8 (0..255)')],
      at: ['300u8'],
    },
  ]);
});

describe('shape mismatches', () => {
  run([
    {
      name: 'operands that do not broadcast',
      kernel: k`
  const a = load(w, [0, 0], [4, BN]).to(f32);
  const b = load(x, [0], [4]);
  store(y, [0], (a * b).sum(0));
`,
      expected: [
        err(
          4,
          18,
          'TV2006',
          'cannot apply * to an f32[4, 64] tile and an f32[4] tile: shapes [4, 64] and [4] do not broadcast',
          BROADCAST_HINT,
        ),
      ],
      at: ['a * b'],
    },
    {
      name: 'dot with mismatched inner dims',
      kernel: k`
  const a = load(w, [0, 0], [16, 32]);
  const c = dot(a, a);
`,
      expected: [err(3, 13, 'TV2018', 'dot: inner dims differ: a is [16, 32], b is [16, 32]')],
      at: ['dot(a, a)'],
    },
    {
      name: 'reshape to a different element count',
      kernel: k`
  const t = load(x, [0], [BN]);
  store(y, [0], t.reshape(3, -1).sum(0));
`,
      expected: [err(3, 17, 'TV2018', 'cannot reshape [64] (64 elements) to [3, -1]')],
      at: ['t.reshape(3, -1)'],
    },
    {
      name: 'repeat with too few counts',
      kernel: k`
  const t = load(w, [0, 0], [4, 8]);
  const r = t.repeat(2);
`,
      expected: [
        err(
          3,
          13,
          'TV2003',
          '.repeat needs one count per axis of an f16[4, 8] tile (2), got 1',
          'e.g. .repeat(1, 1)',
        ),
      ],
      at: ['t.repeat(2)'],
    },
    {
      name: 'broadcast to a shape the tile does not stretch to',
      kernel: k`
  const m = (arange(BN) < N).unsqueeze(1).broadcast(4, BN);
`,
      expected: [
        err(
          2,
          13,
          'TV2018',
          'cannot broadcast [64, 1] to [4, 64]',
          'dims align from the right; each must equal the target dim or be 1 (add axes with .unsqueeze(axis))',
        ),
      ],
    },
    {
      name: 'a tile shape from a shape symbol',
      kernel: k`
  const t = load(x, [0], [N]);
  store(y, [0], t);
`,
      expected: [
        err(
          2,
          27,
          'TV2007',
          'tile dim 0 is an i32 scalar; tile shapes must be compile-time constants',
          'use consts (e.g. BN) for tile sizes; mask the edges instead of sizing tiles at run time',
        ),
      ],
      at: ['N'],
    },
    {
      name: 'a zero tile dim',
      kernel: k`
  const t = zeros(f32, [BN, 0]);
`,
      expected: [err(2, 29, 'TV2008', 'tile dim 1 is 0; tile dims must be positive integers')],
      at: ['0'],
    },
    {
      name: 'wrong number of offsets for load and for store',
      kernel: k`
  const t = load(w, [0], [4, BN]);
  store(y, [0, 0], load(x, [0], [BN]));
`,
      expected: [
        err(2, 21, 'TV2017', "'w' has 2 dims, so load needs 2 offsets, got 1"),
        err(3, 12, 'TV2017', "'y' has 1 dim, so store needs 1 offset, got 2"),
      ],
      at: ['[0]', '[0, 0]'],
    },
    {
      name: 'a reduction axis out of range',
      kernel: k`
  const t = load(w, [0, 0], [4, BN]).to(f32);
  store(y, [0], t.sum(2));
`,
      expected: [
        err(3, 23, 'TV2009', 'axis 2 is out of range for a rank-2 tile (use 0..1, or -1 for the last)'),
      ],
      at: ['2'],
    },
    {
      name: 'an unsqueeze axis out of range names the rank of the tile itself',
      kernel: k`
  const u = load(x, [0], [BN]).unsqueeze(-3);
`,
      expected: [
        err(
          2,
          42,
          'TV2009',
          'axis -3 is out of range for unsqueeze on a rank-1 tile (use 0..1, or -1 for the last)',
        ),
      ],
      at: ['-3'],
    },
  ]);
});

// ---- calls ----

describe('wrong arity, methods and options', () => {
  run([
    {
      name: 'a builtin with too few arguments',
      kernel: k`
  const t = load(x, [0]);
`,
      expected: [
        err(
          2,
          13,
          'TV2003',
          'load takes 3 to 4 arguments, got 2',
          'call it as load(tensor, [offsets], [shape], { other?, mask?, layout? })',
        ),
      ],
      at: ['load(x, [0])'],
    },
    {
      name: 'a unary builtin with two arguments',
      kernel: k`
  const t = exp(load(x, [0], [BN]), 2);
`,
      expected: [err(2, 13, 'TV2003', 'exp takes 1 argument, got 2', 'call it as exp(x)')],
    },
    {
      name: 'a method with too many arguments',
      kernel: k`
  const t = load(x, [0], [BN]).to(f16, f32);
`,
      expected: [err(2, 13, 'TV2003', 'to takes 1 argument, got 2', 'call it as .to(dtype)')],
    },
    {
      name: 'an unknown method',
      kernel: k`
  const t = load(x, [0], [BN]);
  store(y, [0], t.exp());
`,
      expected: [err(3, 19, 'TV2015', "an f32[64] tile has no property or method 'exp'", TILE_MEMBERS)],
      at: ['exp'],
    },
    {
      name: 'an unknown option',
      kernel: k`
  const t = load(x, [0], [BN], { other: 0, masks: true });
`,
      expected: [err(2, 44, 'TV2016', "unknown option 'masks'", 'the options here are: other, mask, layout')],
      at: ['masks'],
    },
    {
      name: 'an option of the wrong type',
      kernel: k`
  const t = load(w, [0, 0], [4, BN]).to(f32).sum(0, { keepdim: 1 });
`,
      expected: [err(2, 64, 'TV2016', "option 'keepdim' must be true or false, not the number 1")],
      at: ['1'],
    },
    {
      name: 'a composite builtin applied to a param names itself, not its inner ops',
      kernel: k`
  const t = sigmoid(x);
`,
      expected: [err(2, 21, 'TV2004', "sigmoid needs numbers or tiles, not global tensor 'x'")],
      at: ['x'],
    },
    {
      name: 'a builtin that is not called',
      kernel: k`
  const f = exp;
`,
      expected: [err(2, 13, 'TV2004', "builtin 'exp' must be called; it is not a value")],
      at: ['exp'],
    },
    {
      name: 'calling a tile',
      kernel: k`
  const t = load(x, [0], [BN]);
  const u = t(0);
`,
      expected: [err(3, 13, 'TV2002', 'an f32[64] tile is not callable')],
      at: ['t'],
    },
    {
      name: 'a number where a dtype belongs',
      kernel: k`
  const t = load(x, [0], [BN]).to(BN);
`,
      expected: [err(2, 35, 'TV2024', 'expected a dtype such as f32 or u4, found the number 64')],
      at: ['BN'],
    },
  ]);
});

// ---- interpolations ----

describe('bad interpolations', () => {
  run([
    {
      name: 'a string',
      kernel: k`
  const t = load(x, [0], [BN]) * ${'2'};
`,
      expected: [
        err(
          2,
          34,
          'TV3001',
          `interpolation \${0} is a string; ${INTERP_TAIL}`,
          'interpolations are values, not code: write the code into the kernel text instead',
        ),
      ],
      at: [placeholder(0)],
    },
    {
      name: 'an object',
      kernel: k`
  const t = load(x, [0], [BN]) * ${{ scale: 2 }};
`,
      expected: [err(2, 34, 'TV3001', `interpolation \${0} is an object; ${INTERP_TAIL}`)],
      at: [placeholder(0)],
    },
    {
      name: 'a JavaScript function',
      kernel: k`
  const t = ${(a: number) => a * 2}(load(x, [0], [BN]));
`,
      expected: [
        err(
          2,
          13,
          'TV3001',
          `interpolation \${0} is a JavaScript function; ${INTERP_TAIL}`,
          'wrap device code in fn({...})`...` instead of a JavaScript function',
        ),
      ],
      at: [placeholder(0)],
    },
    {
      name: 'null, then undefined (each reported with its own index)',
      kernel: k`
  const t = load(x, [0], [BN]) * ${null};
  const u = t + ${undefined};
`,
      expected: [
        err(2, 34, 'TV3001', `interpolation \${0} is null; ${INTERP_TAIL}`),
        err(3, 17, 'TV3001', `interpolation \${1} is undefined; ${INTERP_TAIL}`),
      ],
      at: [placeholder(0), placeholder(1)],
    },
    {
      name: 'an array',
      kernel: k`
  const t = load(x, [0], ${[64]});
`,
      expected: [err(2, 26, 'TV3001', `interpolation \${0} is an array; ${INTERP_TAIL}`)],
      at: [placeholder(0)],
    },
    {
      name: 'a bad interpolation as an option value is reported once',
      kernel: k`
  threads(32);
  const t = load(x, [0], [BN], { layout: ${'spatial(32)'} });
`,
      expected: [
        err(
          3,
          42,
          'TV3001',
          `interpolation \${0} is a string; ${INTERP_TAIL}`,
          'interpolations are values, not code: write the code into the kernel text instead',
        ),
      ],
    },
  ]);
});

// ---- params and assignments ----

describe('param access', () => {
  run([
    {
      name: 'storing to a read-only param',
      kernel: k`
  store(x, [0], load(x, [0], [BN]) * 2);
`,
      expected: [
        err(2, 9, 'TV2010', "'x' is read-only", "declare it global(f32, [...], 'write') to store to it"),
      ],
      at: ['x'],
    },
    {
      name: 'loading from a write-only param',
      kernel: k`
  const t = load(y, [0], [BN]);
`,
      expected: [
        err(
          2,
          18,
          'TV2010',
          "'y' is write-only",
          "declare it global(f32, [...], 'readwrite') to load from it",
        ),
      ],
      at: ['y'],
    },
  ]);
});

describe('assignments', () => {
  run([
    {
      name: 'to a const variable',
      kernel: k`
  const t = load(x, [0], [BN]);
  t = t * 2;
`,
      expected: [
        err(3, 3, 'TV2011', "cannot assign to 't': it is declared with const", 'declare it with let'),
      ],
      at: ['t'],
    },
    {
      name: 'to a param, a shape symbol and a compile-time const',
      kernel: k`
  x = 1;
  N += 1;
  BN = 32;
`,
      expected: [
        err(2, 3, 'TV2011', "cannot assign to 'x': it is a param"),
        err(3, 3, 'TV2011', "cannot assign to 'N': it is a shape symbol"),
        err(4, 3, 'TV2011', "cannot assign to 'BN': it is a compile-time const"),
      ],
      at: ['x', 'N', 'BN'],
    },
    {
      name: 'to the loop variable',
      kernel: k`
  for (let k = 0; k < N; k += BN) {
    k += 1;
  }
`,
      expected: [err(3, 5, 'TV2011', "cannot assign to 'k': it is a loop variable; the loop owns it")],
      at: ['k'],
    },
    {
      name: 'a tile of another dtype',
      kernel: k`
  let acc = zeros(f32, [BN]);
  acc = load(w, [0, 0], [1, BN]).sum(0);
`,
      expected: [
        err(3, 3, 'TV2012', "'acc' holds f32 tiles; this value is f16", 'convert it: (...).to(f32)'),
      ],
      at: ['acc = load(w, [0, 0], [1, BN]).sum(0);'],
    },
    {
      name: 'a tile of another shape',
      kernel: k`
  let acc = zeros(f32, [BN]);
  acc = zeros(f32, [2, BN]);
`,
      expected: [err(3, 3, 'TV2012', "'acc' is [64]; a [2, 64] tile cannot be assigned to it")],
    },
    {
      name: 'a fraction into an integer scalar (it would be truncated)',
      kernel: k`
  let s = 0;
  s += 0.5;
`,
      expected: [
        err(
          3,
          3,
          'TV2012',
          "'s' is an i32 scalar; this value is f32",
          'declare it with a float value to hold fractions, e.g. let s = 0.0',
        ),
      ],
      at: ['s += 0.5;'],
    },
    {
      name: 'a float number into an integer tile',
      kernel: k`
  let counts = zeros(i32, [BN]);
  counts = 0.5;
`,
      expected: [
        err(
          3,
          3,
          'TV2012',
          "'counts' holds i32 tiles; this value is f32",
          "make 'counts' a float tile to hold fractions, e.g. zeros(f32, [...])",
        ),
      ],
    },
    {
      name: 'declaring a name twice in one block',
      kernel: k`
  const t = load(x, [0], [BN]);
  const t = load(x, [BN], [BN]);
`,
      expected: [
        err(
          3,
          9,
          'TV2019',
          "'t' is already declared in this block",
          'pick another name, or assign without const/let',
        ),
      ],
      at: ['t'],
    },
  ]);
});

describe('control flow', () => {
  run([
    {
      name: 'if on a tile',
      kernel: k`
  const t = load(x, [0], [BN]);
  if (t > 0) {
    store(y, [0], t);
  }
`,
      expected: [
        err(
          3,
          7,
          'TV2013',
          'an if condition must be a scalar, not a bool[64] tile',
          'choose per element with where(cond, a, b)',
        ),
      ],
      at: ['t > 0'],
    },
    {
      name: 'if on a float scalar',
      kernel: k`
  if (blockIdx.x * 0.5) {
  }
`,
      expected: [
        err(2, 7, 'TV2013', 'an if condition must be bool or integer, not f32', 'compare it: x != 0'),
      ],
      at: ['blockIdx.x * 0.5'],
    },
    {
      name: 'a zero loop step',
      kernel: k`
  for (let k = 0; k < N; k += 0) {
  }
`,
      expected: [
        err(
          2,
          31,
          'TV2023',
          'the loop step is 0; it must be positive',
          'count upwards: for (let i = a; i < b; i += s) with s > 0',
        ),
      ],
      at: ['0'],
    },
    {
      name: 'a loop that never runs is a warning, and the kernel still compiles',
      kernel: k`
  for (let k = 0; k <= -1; k++) {
    store(y, [k], load(x, [k], [BN]));
  }
`,
      expected: [
        {
          code: 'TV2023',
          severity: 'warning',
          line: 2,
          column: 3,
          message: 'this loop never runs: k starts at 0, and 0 <= -1 is false',
        },
      ],
    },
    {
      name: 'return in a kernel',
      kernel: k`
  const t = load(x, [0], [BN]);
  return t;
`,
      expected: [
        err(
          3,
          3,
          'TV2020',
          'a kernel cannot return',
          'kernels write results with store(...); edge tiles are masked, so no early exit is needed',
        ),
      ],
      at: ['return t;'],
    },
  ]);
});

// ---- grid, threads, shared tiles, layouts ----

describe('grid and threads misuse', () => {
  run([
    {
      name: 'grid inside a loop',
      kernel: k`
  for (let k = 0; k < N; k += BN) {
    grid(cdiv(N, BN));
  }
`,
      expected: [
        err(3, 5, 'TV2021', 'grid() must be at the top level of the kernel, not inside a loop or if'),
      ],
      at: ['grid(cdiv(N, BN))'],
    },
    {
      name: 'grid twice',
      kernel: k`
  grid(cdiv(N, BN));
  grid(N);
`,
      expected: [err(3, 3, 'TV2021', 'grid() is given twice', 'give the grid once')],
      at: ['grid(N)'],
    },
    {
      name: 'grid sized by blockIdx',
      kernel: k`
  grid(blockIdx.x + 1);
`,
      expected: [
        err(
          2,
          8,
          'TV2021',
          "grid sizes may use only numbers, consts, shape symbols and scalar params; 'blockIdx' is known only inside a block",
        ),
      ],
      at: ['blockIdx.x + 1'],
    },
    {
      name: 'threads(2000)',
      kernel: k`
  threads(2000);
`,
      expected: [err(2, 11, 'TV2025', 'threads(2000): a block has 1 to 1024 threads')],
      at: ['2000'],
    },
    {
      name: 'threads twice',
      kernel: k`
  threads(64);
  threads(128);
`,
      expected: [err(3, 3, 'TV2021', 'threads() is given twice')],
    },
    {
      name: 'threads from a shape symbol',
      kernel: k`
  threads(N);
`,
      expected: [
        err(
          2,
          11,
          'TV2007',
          'the thread count must be known at compile time, but it is an i32 scalar',
          'use numbers and consts here',
        ),
      ],
      at: ['N'],
    },
  ]);
});

describe('shared tiles', () => {
  run([
    {
      name: 'a shared tile used as a value',
      kernel: k`
  const s = shared(f32, [BN]);
  s.store(load(x, [0], [BN]));
  store(y, [0], s * 2);
`,
      expected: [
        err(
          4,
          17,
          'TV2022',
          'a shared tile is memory, not a value',
          'read it into registers first: s.load()',
        ),
      ],
      at: ['s * 2'],
    },
    {
      name: 'storing a tile of another dtype',
      kernel: k`
  const s = shared(f16, [BN]);
  s.store(load(x, [0], [BN]));
`,
      expected: [
        err(
          3,
          11,
          'TV2005',
          'the shared tile holds f16, but the value is an f32[64] tile',
          'convert it: (...).to(f16)',
        ),
      ],
      at: ['load(x, [0], [BN])'],
    },
    {
      name: 'storing a tile that does not fit',
      kernel: k`
  const s = shared(f16, [4, BN]);
  s.store(load(w, [0, 0], [BN]));
`,
      expected: [
        err(
          3,
          11,
          'TV2018',
          'an f16[64] tile does not fit in the [4, 64] shared tile',
          "store a tile with 2 dims, none larger than the shared tile's",
        ),
      ],
      at: ['load(w, [0, 0], [BN])'],
    },
    {
      name: 'loading a tile larger than the shared tile',
      kernel: k`
  const s = shared(f32, [4, BN]);
  const t = s.load([0, 0], [8, BN]);
`,
      expected: [
        err(
          3,
          28,
          'TV2018',
          'a [8, 64] tile does not fit in the [4, 64] shared tile',
          "use 2 dims, none larger than the shared tile's",
        ),
      ],
      at: ['[8, BN]'],
    },
    {
      name: 'an unknown shared-tile method',
      kernel: k`
  const s = shared(f32, [BN]);
  s.fill(0);
`,
      expected: [
        err(
          3,
          5,
          'TV2015',
          "a shared f32[64] tile has no property or method 'fill'",
          'known here: shape, dtype, load(), store()',
        ),
      ],
      at: ['fill'],
    },
  ]);
});

describe('register layouts', () => {
  run([
    {
      name: 'a layout over another shape',
      kernel: k`
  threads(32);
  const t = load(x, [0], [BN], { layout: ${spatial(32)} });
`,
      expected: [err(3, 42, 'TV2016', 'the layout spatial(32) covers [32], but the tile is [64]')],
      at: [placeholder(0)],
    },
    {
      name: 'threads() after a load whose layout spans another number of threads',
      kernel: k`
  const t = load(x, [0], [128], { layout: ${spatial(128)} });
  threads(64);
`,
      expected: [
        err(
          3,
          11,
          'TV2021',
          'threads(64) does not match a layout used before it, which spans 128 threads',
          'give threads() first, with as many threads as the layouts span',
        ),
      ],
      at: ['64'],
    },
    {
      name: 'a layout over another number of threads',
      kernel: k`
  const t = load(x, [0], [32], { layout: ${spatial(32)} });
`,
      expected: [
        err(
          2,
          42,
          'TV2016',
          'the layout spatial(32) spans 32 threads, but the kernel has the default threads(128)',
          'give threads(32) before the load',
        ),
      ],
    },
  ]);
});

// ---- device functions ----

const gelu = fn({ name: 'gelu', params: { v: f32 }, returns: f32 })`
  return 0.5 * v * (1 + erf(v * 0.7071067811865476));
`;
const axpy = fn({ name: 'axpy', params: { a: f32, v: f32, b: f32 }, returns: f32 })`
  return a * v + b;
`;
const noReturn = fn({ name: 'no_return', params: { v: f32 }, returns: f32 })`
  const u = v * 2;
`;
const typo = fn({ name: 'typo', params: { v: f32 }, returns: f32 })`
  const u = v * scal;
  return u;
`;
const broken = fn({ name: 'broken', params: { v: f32 }, returns: f32 })`
  return v * ;
`;
const halfReturn = fn({ name: 'half_return', params: { v: f32 }, returns: f32 })`
  return v.to(f16);
`;
const assignsParam = fn({ name: 'assigns_param', params: { v: f32 }, returns: f32 })`
  v = v * 2;
  return v;
`;
// A fn that calls itself: its own interpolation is filled in after it is made.
const selfValues: unknown[] = [];
const recursive = new DeviceFn(
  { name: 'recursive', params: { v: f32 }, returns: f32 },
  ['\n  return ', '(v);\n'],
  selfValues,
);
selfValues.push(recursive);

describe('device functions', () => {
  run([
    {
      name: 'a call with too few arguments',
      kernel: k`
  const t = load(x, [0], [BN]);
  store(y, [0], ${axpy}(t, 2));
`,
      expected: [err(3, 17, 'TV2003', "'axpy' takes 3 arguments (a: f32, v: f32, b: f32), got 2")],
      at: [`${placeholder(0)}(t, 2)`],
    },
    {
      name: 'an argument of the wrong dtype',
      kernel: k`
  const t = load(w, [0, 0], [1, BN]);
  store(y, [0], ${gelu}(t).sum(0));
`,
      expected: [
        err(
          3,
          22,
          'TV2005',
          "'gelu' parameter 'v' is f32, but the argument is an f16[1, 64] tile",
          'convert it: .to(f32)',
        ),
      ],
      at: ['t'],
    },
    {
      name: 'a body without a return',
      kernel: k`
  store(y, [0], ${noReturn}(load(x, [0], [BN])));
`,
      expected: [
        inFn('no_return', err(2, 3, 'TV2020', "device function 'no_return' must end with return <value>;")),
      ],
      at: ['const u = v * 2;'],
    },
    {
      name: "an error in the body is reported against the fn's own source, once for two calls",
      kernel: k`
  const a = ${typo}(load(x, [0], [BN]));
  const b = ${typo}(load(x, [BN], [BN]));
  store(y, [0], a + b);
`,
      expected: [inFn('typo', err(2, 17, 'TV2001', "unknown name 'scal'"))],
      at: ['scal'],
    },
    {
      name: 'a syntax error in the body',
      kernel: k`
  store(y, [0], ${broken}(load(x, [0], [BN])));
`,
      expected: [inFn('broken', err(2, 14, 'TV1004', "expected an expression, found ';'"))],
      at: [';'],
    },
    {
      name: 'a return of the wrong dtype',
      kernel: k`
  store(y, [0], ${halfReturn}(load(x, [0], [BN])));
`,
      expected: [
        inFn(
          'half_return',
          err(
            2,
            10,
            'TV2020',
            "'half_return' declares returns: f32, but this value is f16",
            'convert it: .to(f32)',
          ),
        ),
      ],
      at: ['v.to(f16)'],
    },
    {
      name: 'assigning to a fn param',
      kernel: k`
  store(y, [0], ${assignsParam}(load(x, [0], [BN])));
`,
      expected: [inFn('assigns_param', err(2, 3, 'TV2011', "cannot assign to 'v': it is a param"))],
    },
    {
      name: 'a fn with a param that is not a dtype',
      kernel: k`
  store(y, [0], ${fn({ name: 'scale', params: { v: 'f32' as never }, returns: f32 })`
  return v * 2;
`}(load(x, [0], [BN])));
`,
      expected: [
        err(
          2,
          17,
          'TV3002',
          "device function 'scale': param 'v' must be a dtype such as f32, not the string 'f32'",
          "declare it as fn({ name: 'f', params: { x: f32 }, returns: f32 })`...`",
        ),
      ],
      at: [`${placeholder(0)}(load(x, [0], [BN]))`],
    },
    {
      name: 'a fn named like the kernel is reported under a numbered name, with its own excerpt',
      kernel: kernel({ name: 'typo', params: P, consts: C })`
  const t = load(x, [0], [BN]);
  store(y, [0], ${typo}(t) + bias);
`,
      expected: [
        inFn('typo#2', err(2, 17, 'TV2001', "unknown name 'scal'")),
        err(3, 27, 'TV2001', "unknown name 'bias'"),
      ],
      at: ['scal', 'bias'],
    },
    {
      name: 'recursion',
      kernel: k`
  store(y, [0], ${recursive}(load(x, [0], [BN])));
`,
      expected: [
        inFn('recursive', err(2, 10, 'TV2002', 'device functions nest deeper than 16 calls (recursion?)')),
      ],
      at: [`${placeholder(0)}(v)`],
    },
  ]);
});

// ---- signatures and consts ----

/** A kernel whose body is fine, so only the signature or the consts are wrong. */
function sig(params: Record<string, unknown>, consts?: Record<string, unknown>): Kernel {
  return kernel({ name: 's', params: params as never, ...(consts ? { consts: consts as never } : {}) })`
  threads(32);
`;
}
const at0 = (code: string, message: string, hint?: string) => err(1, 1, code, message, hint);

describe('bad signatures', () => {
  run([
    {
      name: 'a param that is neither global() nor a dtype',
      kernel: sig({ x: 'f32' }),
      expected: [
        at0('TV3002', "param 'x' must be global(dtype, shape, access?) or a dtype (a scalar param)"),
      ],
    },
    {
      name: 'a dtype given by name',
      kernel: sig({ x: global('f32' as never, ['N']) }),
      expected: [
        at0(
          'TV3002',
          "param 'x': global() needs a dtype such as f32 or u4, not the string 'f32'",
          'pass the dtype object, not its name: global(f32, ...)',
        ),
      ],
    },
    {
      name: "a shape string like 'K +'",
      kernel: sig({ x: global(f32, ['K +']) }),
      expected: [
        at0(
          'TV3002',
          "param 'x': shape 'K +': unexpected end; write dims like 'K', 'K / 128' or 'cdiv(K, 32)'",
        ),
      ],
    },
    {
      name: 'an access mode that does not exist',
      kernel: sig({ x: global(f32, ['N'], 'rw' as never) }),
      expected: [at0('TV3002', "param 'x': access must be 'read', 'write' or 'readwrite', not 'rw'")],
    },
    {
      name: 'a const named like a param',
      kernel: sig({ x: global(f32, ['N']), BN: i32 }, { BN: 64 }),
      expected: [at0('TV3004', "param 'BN' has the same name as a const", 'rename one of them')],
    },
    {
      name: 'a const named like a shape symbol',
      kernel: sig({ x: global(f32, ['N']) }, { N: 64 }),
      expected: [at0('TV3004', "shape symbol 'N' of param 'x' has the same name as a const or param")],
    },
    {
      name: 'a kernel name that is not an identifier',
      kernel: kernel({ name: 'my kernel', params: P })`
  threads(32);
`,
      expected: [{ ...at0('TV3002', "the kernel name 'my kernel' must be an identifier") }],
    },
  ]);
});

describe('const errors', () => {
  run([
    {
      name: 'a const the kernel does not have',
      kernel: sig({ x: global(f32, ['N']) }, { BN: [64, 128] }),
      consts: { BM: 64 },
      expected: [at0('TV3003', "there is no const 'BM' to set", 'the consts are: BN')],
    },
    {
      name: 'a value that is not a candidate',
      kernel: sig({ x: global(f32, ['N']) }, { BN: [64, 128] }),
      consts: { BN: 96 },
      expected: [at0('TV3003', "const 'BN' = 96 is not one of its candidates [64, 128]")],
    },
    {
      name: 'an empty candidate list',
      kernel: sig({ x: global(f32, ['N']) }, { BN: [] }),
      expected: [at0('TV3003', "const 'BN' must be a finite number or a non-empty list of them")],
    },
  ]);
});

// ---- several checker errors at once, and CompileError ----

describe('several errors in one kernel', () => {
  const bad = kernel({ name: 'bad', params: P, consts: C })`
  const t = load(x, [0], [BN]);
  const u = t + load(x, [0], [BN / 2]);
  store(x, [0], t);
  store(y, [0], t.to(f16));
  fooo(1);
`;

  it('reports each independent error, in source order', () => {
    const result = bad.check();
    expect(shown(bad, result)).toEqual([
      err(
        3,
        13,
        'TV2006',
        'cannot apply + to an f32[64] tile and an f32[32] tile: shapes [64] and [32] do not broadcast',
        BROADCAST_HINT,
      ),
      err(4, 9, 'TV2010', "'x' is read-only", "declare it global(f32, [...], 'write') to store to it"),
      err(5, 17, 'TV2005', "'y' holds f32, but the value is an f16[64] tile", 'convert it: (...).to(f32)'),
      err(6, 3, 'TV2001', "unknown name 'fooo'"),
    ]);
    expect(tokens(result)).toEqual(['t + load(x, [0], [BN / 2])', 'x', 't.to(f16)', 'fooo']);
  });

  it('CompileError formats each as name:line:col CODE error: message, with an excerpt and a caret', () => {
    let thrown: unknown;
    try {
      bad.compile();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(CompileError);
    const e = thrown as CompileError;
    expect(e.diagnostics).toHaveLength(4);
    expect(e.message).toBe(
      [
        "kernel 'bad' has 4 errors:",
        'bad:3:13 TV2006 error: cannot apply + to an f32[64] tile and an f32[32] tile: shapes [64] and [32] do not broadcast',
        '  |   const u = t + load(x, [0], [BN / 2]);',
        '  |             ^^^^^^^^^^^^^^^^^^^^^^^^^^',
        `  hint: ${BROADCAST_HINT}`,
        "bad:4:9 TV2010 error: 'x' is read-only",
        '  |   store(x, [0], t);',
        '  |         ^',
        "  hint: declare it global(f32, [...], 'write') to store to it",
        "bad:5:17 TV2005 error: 'y' holds f32, but the value is an f16[64] tile",
        '  |   store(y, [0], t.to(f16));',
        '  |                 ^^^^^^^^^',
        '  hint: convert it: (...).to(f32)',
        "bad:6:3 TV2001 error: unknown name 'fooo'",
        '  |   fooo(1);',
        '  |   ^^^^',
      ].join('\n'),
    );
  });

  it('CompileError formats syntax errors the same way, and a fn error with the fn source', () => {
    const syntax = kernel({ name: 'syn', params: P, consts: C })`
  let b = 1 +* 2;
  store(y, [0], ${typo}(load(x, [0], [BN])));
`;
    expect(() => syntax.compile()).toThrow(
      [
        "kernel 'syn' has 1 error:",
        "syn:2:14 TV1004 error: expected an expression, found '*'",
        '  |   let b = 1 +* 2;',
        '  |              ^',
      ].join('\n'),
    );
    const inBody = kernel({ name: 'body', params: P, consts: C })`
  store(y, [0], ${typo}(load(x, [0], [BN])));
`;
    expect(() => inBody.compile()).toThrow(
      [
        "kernel 'body' has 1 error:",
        "typo:2:17 TV2001 error: unknown name 'scal'",
        '  |   const u = v * scal;',
        '  |                 ^^^^',
      ].join('\n'),
    );
  });
});

describe('numbers meet dtypes without silent wrapping', () => {
  const params = { x: global(u8, ['N']), y: global(f32, ['N'], 'write'), h: f16 };
  const codes = (src: TemplateStringsArray) =>
    kernel({ name: 'n', params })(src)
      .check()
      .diagnostics.map((d) => `${d.code} ${d.line}:${d.column} ${d.message}`);
  it('a literal that does not fit the tile dtype is an error', () => {
    expect(codes`const t = load(x, [0], [4]); const u = t + 300;`).toEqual([
      'TV2025 1:40 300 does not fit in u8 (0..255)',
    ]);
    expect(codes`const u = full(u8, [4], 300);`).toEqual(['TV2025 1:25 300 does not fit in u8 (0..255)']);
  });
  it('literal arithmetic that overflows i32 is an error', () => {
    expect(codes`const c = 100000 * 100000;`).toEqual([
      'TV2025 1:11 100000 * 100000 = 10000000000 overflows i32',
    ]);
  });
  it('integer literals: ** and >>> fold as integers; suffixes need integers; negative suffixed literals', () => {
    expect(codes`const t = load(x, [0], [2 ** 3]); const q = 5 >>> 1; store(y, [q], t.to(f32));`).toEqual([]);
    expect(codes`const a = 1.5i32;`).toEqual([
      'TV1003 1:11 1.5i32: an integer suffix needs an integer literal',
    ]);
    expect(codes`const a = -128i8; const b = -129i8;`).toEqual([
      'TV2025 1:30 -129 does not fit in i8 (-128..127)',
    ]);
  });
  it('a symbol used only inside a dim expression is a signature error', () => {
    const r = kernel({ name: 'g', params: { x: global(f32, ['K / 2']) } })`sync();`.check();
    expect(r.diagnostics.map((d) => `${d.code} ${d.message}`)).toEqual([
      "TV3002 param 'x': shape symbol 'K' never appears alone as a dim, so a launch cannot bind it",
    ]);
  });
  it('a rejected grid() does not make the next one a duplicate', () => {
    expect(codes`grid(blockIdx.x); grid(4);`).toEqual([
      "TV2021 1:6 grid sizes may use only numbers, consts, shape symbols and scalar params; 'blockIdx' is known only inside a block",
    ]);
  });
});
