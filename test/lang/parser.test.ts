import { describe, expect, it } from 'vitest';
import type { Expr, ForStmt, IfStmt, Program, Span, Stmt } from '../../dsl/lang/ast.js';
import { type Diagnostic, DiagnosticBag } from '../../dsl/lang/diagnostics.js';
import { type NumberToken, type Token, tokenize } from '../../dsl/lang/lexer.js';
import { FN_HINT, LOOP_HINT, MAX_DIAGNOSTICS, parse, STORE_HINT } from '../../dsl/lang/parser.js';
import { placeholder, SourceText } from '../../dsl/lang/source.js';
import { randomInt, rng } from '../helpers/random.js';

// ---- helpers ----

interface Parsed {
  source: SourceText;
  program: Program;
  diags: Diagnostic[];
}

function parseParts(...parts: string[]): Parsed {
  const source = new SourceText(parts);
  const bag = new DiagnosticBag(source);
  const program = parse(source, bag);
  return { source, program, diags: bag.items };
}

/** Parses source that must be valid. */
function parseOk(...parts: string[]): Parsed {
  const parsed = parseParts(...parts);
  expect(parsed.diags.map((d) => `${d.code} ${d.message}`)).toEqual([]);
  return parsed;
}

function lex(...parts: string[]): { tokens: Token[]; diags: Diagnostic[] } {
  const source = new SourceText(parts);
  const bag = new DiagnosticBag(source);
  return { tokens: tokenize(source, bag), diags: bag.items };
}

/** The expression of `const _ = <text>;`. */
function exprOf(text: string): Expr {
  const stmt = parseOk(`const _ = ${text};`).program.body[0];
  if (stmt.kind !== 'var') throw new Error(`not a declaration: ${stmt.kind}`);
  return stmt.init;
}

/** An S-expression: the tree shape without spans. */
function show(e: Expr): string {
  switch (e.kind) {
    case 'number':
      return `${e.value}${e.suffix ?? ''}`;
    case 'bool':
      return String(e.value);
    case 'ident':
      return e.name;
    case 'interp':
      return `$${e.index}`;
    case 'member':
      return `(. ${show(e.object)} ${e.name})`;
    case 'index':
      return `(idx ${show(e.object)} ${show(e.index)})`;
    case 'call':
      return `(call ${[e.callee, ...e.args].map(show).join(' ')})`;
    case 'array':
      return `[${e.elements.map(show).join(' ')}]`;
    case 'object':
      return `{${e.props.map((p) => `${p.key}: ${show(p.value)}`).join(', ')}}`;
    case 'unary':
      return `(${e.op} ${show(e.operand)})`;
    case 'binary':
      return `(${e.op} ${show(e.left)} ${show(e.right)})`;
    case 'conditional':
      return `(? ${show(e.cond)} ${show(e.whenTrue)} ${show(e.whenFalse)})`;
    case 'error':
      return '<error>';
  }
}

function showStmt(s: Stmt): string {
  switch (s.kind) {
    case 'var':
      return `(${s.declKind} ${s.name} ${show(s.init)})`;
    case 'assign':
      return `(${s.op} ${s.target.name} ${show(s.value)})`;
    case 'expr':
      return show(s.expr);
    case 'for':
      return `(for ${s.variable} ${show(s.start)} ${s.inclusive ? '<=' : '<'} ${show(s.stop)} ${show(s.step)} ${showStmt(s.body)})`;
    case 'if':
      return `(if ${show(s.cond)} ${showStmt(s.consequent)}${s.alternate ? ` ${showStmt(s.alternate)}` : ''})`;
    case 'return':
      return s.value ? `(return ${show(s.value)})` : '(return)';
    case 'block':
      return `{${s.body.map(showStmt).join('; ')}}`;
  }
}

const shape = (...parts: string[]): string[] => parseOk(...parts).program.body.map(showStmt);

interface Node {
  kind: string;
  span: Span;
}
const isNode = (x: unknown): x is Node =>
  typeof x === 'object' && x !== null && 'kind' in x && 'span' in x && typeof x.kind === 'string';

/** Every AST node under `root` (each parent before its children). */
function nodes(root: unknown): Node[] {
  const out: Node[] = [];
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const x = stack.pop();
    if (Array.isArray(x)) stack.push(...x);
    else if (typeof x === 'object' && x !== null) {
      if (isNode(x)) out.push(x);
      for (const v of Object.values(x)) if (typeof v === 'object') stack.push(v);
    }
  }
  return out;
}

/** Spans lie inside the text, and children inside their parents. */
function checkSpans(program: Program, length: number): void {
  const visit = (x: unknown, outer: Span): void => {
    if (Array.isArray(x)) {
      for (const v of x) visit(v, outer);
      return;
    }
    if (typeof x !== 'object' || x === null) return;
    let inner = outer;
    if (isNode(x)) {
      const { start, end } = x.span;
      if (!(start >= outer.start && start <= end && end <= outer.end)) {
        throw new Error(`${x.kind} span ${start}..${end} outside ${outer.start}..${outer.end}`);
      }
      inner = x.span;
    }
    for (const v of Object.values(x)) visit(v, inner);
  };
  visit(program, { start: 0, end: length });
}

const brief = (d: Diagnostic) => ({ code: d.code, message: d.message, line: d.line, column: d.column });

const KERNEL = [
  `
  grid(cdiv(N, BN));
  threads(64);
  let acc = zeros(f32, [BN, BK]);
  for (let k = 0; k < K; k += BK) {
    const wt = load(w, [blockIdx.x * BN, k], [BN, BK]).to(f32);   // comment
    const st = load(s, [blockIdx.x * BN, k / 128], [BN, BK / 128]).to(f32);
    acc += wt * st.repeat(1, 128) * load(x, [k], [BK]).unsqueeze(0);
  }
  const t = load(x, [0, 0], [BM, BN], { other: -Infinity, mask: m });
  const y = c ? exp(t - t.max(1, { keepdim: true })) : `,
  `(t);
  if (blockIdx.x == 0) { store(y, [0], acc.sum(1)); } else if (k > 2) { sync(); } else { return; }
`,
];

// ---- lexer ----

describe('lexer', () => {
  const kinds = (...parts: string[]) => lex(...parts).tokens.map((t) => `${t.kind}:${t.text}`);

  it('splits operators longest-first and marks keywords', () => {
    expect(kinds('let x = a >>> 2 ** b !== c;')).toEqual([
      'keyword:let',
      'ident:x',
      'punct:=',
      'ident:a',
      'punct:>>>',
      'number:2',
      'punct:**',
      'ident:b',
      'punct:!==',
      'ident:c',
      'punct:;',
      'eof:',
    ]);
    expect(kinds('a<<=b>>=c**=d')).toEqual([
      'ident:a',
      'punct:<<=',
      'ident:b',
      'punct:>>=',
      'ident:c',
      'punct:**=',
      'ident:d',
      'eof:',
    ]);
  });

  it('gives exact token spans and skips comments', () => {
    const { tokens, diags } = lex('a /* x\n y */ + // tail\n$b_1');
    expect(diags).toEqual([]);
    expect(tokens.map((t) => [t.text, t.span.start, t.span.end, t.newlineBefore])).toEqual([
      ['a', 0, 1, false],
      ['+', 13, 14, true],
      ['$b_1', 23, 27, true],
      ['', 27, 27, false],
    ]);
  });

  it('emits interpolation tokens at the placeholder offsets', () => {
    const { tokens } = lex('a + ', ' * b', '');
    expect(tokens.map((t) => (t.kind === 'interp' ? `interp${t.index}@${t.span.start}` : t.text))).toEqual([
      'a',
      '+',
      'interp0@4',
      '*',
      'b',
      'interp1@12',
      '',
    ]);
  });

  it('stops identifiers and numbers at a glued placeholder', () => {
    const p0 = `interp:${placeholder(0)}`;
    expect(kinds('x', 'y')).toEqual(['ident:x', p0, 'ident:y', 'eof:']);
    expect(kinds('1', '')).toEqual(['number:1', p0, 'eof:']);
  });

  it('uses the offsets, not the placeholder text', () => {
    // A part may itself spell `${1}`: it is not an interpolation.
    const { tokens } = lex(`f(\${1}`, ')');
    expect(tokens.filter((t) => t.kind === 'interp').map((t) => t.span.start)).toEqual([6]);
  });

  it('skips placeholders swallowed by comments, keeping the later indices right', () => {
    const { tokens } = lex('a /* ', ' */ + ', '');
    expect(tokens.map((t) => (t.kind === 'interp' ? `interp${t.index}` : t.text))).toEqual([
      'a',
      '+',
      'interp1',
      '',
    ]);
  });

  it('reads string literals whole, for the parser to reject', () => {
    expect(kinds(`f('a"b', "c\\"d", \`e\`)`)).toEqual([
      'ident:f',
      'punct:(',
      `string:'a"b'`,
      'punct:,',
      'string:"c\\"d"',
      'punct:,',
      'string:`e`',
      'punct:)',
      'eof:',
    ]);
  });

  it('keeps `?.` before a digit a conditional', () => {
    expect(kinds('a?.5:b')).toEqual(['ident:a', 'punct:?', 'number:.5', 'punct::', 'ident:b', 'eof:']);
  });
});

// ---- number literals ----

describe('number literals', () => {
  const number = (text: string): NumberToken => {
    const { tokens, diags } = lex(text);
    expect(diags).toEqual([]);
    expect(tokens).toHaveLength(2);
    const t = tokens[0];
    if (t.kind !== 'number') throw new Error(`not a number: ${t.kind}`);
    return t;
  };

  it.each([
    ['0', 0, false, undefined],
    ['42', 42, false, undefined],
    ['1_000_000', 1e6, false, undefined],
    ['1.', 1, true, undefined],
    ['.5', 0.5, true, undefined],
    ['1.5', 1.5, true, undefined],
    ['1e3', 1000, true, undefined],
    ['1.5e-3', 0.0015, true, undefined],
    ['2E+2', 200, true, undefined],
    ['1.e2', 100, true, undefined],
    ['0x1F', 31, false, undefined],
    ['0XfF', 255, false, undefined],
    ['0xFF_FF', 0xffff, false, undefined],
    ['0b101', 5, false, undefined],
    ['0B1_0', 2, false, undefined],
    ['Infinity', Number.POSITIVE_INFINITY, true, undefined],
    ['NaN', Number.NaN, true, undefined],
    ['255u8', 255, false, 'u8'],
    ['1.5f16', 1.5, true, 'f16'],
    ['3i32', 3, false, 'i32'],
    ['0xFFu8', 255, false, 'u8'],
    ['0x7Fi8', 127, false, 'i8'],
    ['0b11u2', 3, false, 'u2'],
    ['2f4e2m1', 2, false, 'f4e2m1'],
    ['1e3f32', 1000, true, 'f32'],
    ['.5bf16', 0.5, true, 'bf16'],
    ['1_0i16', 10, false, 'i16'],
    // Hex digits include 'f': a float-looking suffix is just more digits.
    ['0xFFf16', 0xfff16, false, undefined],
  ])('%s', (text, value, isFloat, suffix) => {
    const t = number(text);
    expect(t.value).toBe(value);
    expect(t.isFloat).toBe(isFloat);
    expect(t.suffix).toBe(suffix);
  });

  it('reaches the AST with suffix and isFloat', () => {
    const e = exprOf('1.5f16');
    expect(e).toEqual({
      kind: 'number',
      span: { start: 10, end: 16 },
      value: 1.5,
      isFloat: true,
      suffix: 'f16',
    });
    expect(exprOf('7')).toEqual({ kind: 'number', span: { start: 10, end: 11 }, value: 7, isFloat: false });
  });

  it.each([
    ['12abc', "malformed number literal '12abc': 'abc' is not a dtype suffix"],
    ['1e', "malformed number literal '1e': expected digits after 'e'"],
    ['1e+', "malformed number literal '1e+': expected digits after 'e+'"],
    ['0x', "malformed number literal '0x': expected digits after '0x'"],
    ['0b', "malformed number literal '0b': expected digits after '0b'"],
    ['0b12', "malformed number literal '0b12': '2' is not a dtype suffix"],
    ['0x1Fg', "malformed number literal '0x1Fg': 'g' is not a dtype suffix"],
    ['5u9', "malformed number literal '5u9': 'u9' is not a dtype suffix"],
    ['1.5x', "malformed number literal '1.5x': 'x' is not a dtype suffix"],
    ['1__0', "malformed number literal '1__0': '_' must sit between digits"],
    ['1_', "malformed number literal '1_': '_' must sit between digits"],
    ['0x_1', "malformed number literal '0x_1': '_' must sit between digits"],
    ['1_u8', "malformed number literal '1_u8': '_' must sit between digits"],
  ])('%s is TV1003', (text, message) => {
    const { tokens, diags } = lex(`x = ${text};`);
    expect(diags.map(brief)).toEqual([{ code: 'TV1003', message, line: 1, column: 5 }]);
    expect(diags[0].span).toEqual({ start: 4, end: 4 + text.length });
    expect(tokens.map((t) => t.text)).toEqual(['x', '=', text, ';', '']);
  });

  it('reports one error for a malformed literal, not a cascade', () => {
    const { diags, program } = parseParts('const a = 12abc + 1;\nconst b = 2;');
    expect(diags.map((d) => d.code)).toEqual(['TV1003']);
    expect(program.body.map(showStmt)).toEqual(['(const a (+ 0 1))', '(const b 2)']);
  });
});

// ---- expressions ----

describe('expressions', () => {
  it.each([
    ['a + b * c', '(+ a (* b c))'],
    ['a * b + c', '(+ (* a b) c)'],
    ['a - b - c', '(- (- a b) c)'],
    ['a / b % c * d', '(* (% (/ a b) c) d)'],
    ['a ** b ** c', '(** a (** b c))'],
    ['a * b ** c', '(* a (** b c))'],
    ['2 ** -a', '(** 2 (- a))'],
    ['(-a) ** b', '(** (- a) b)'],
    ['a << b + c', '(<< a (+ b c))'],
    ['a >> b >>> c', '(>>> (>> a b) c)'],
    ['a < b << c', '(< a (<< b c))'],
    ['a <= b == c > d', '(== (<= a b) (> c d))'],
    ['a === b !== c', '(!== (=== a b) c)'],
    ['a & b == c', '(& a (== b c))'],
    ['a ^ b & c', '(^ a (& b c))'],
    ['a | b ^ c', '(| a (^ b c))'],
    ['a && b | c', '(&& a (| b c))'],
    ['a || b && c', '(|| a (&& b c))'],
    ['a || b || c', '(|| (|| a b) c)'],
    ['a ? b : c ? d : e', '(? a b (? c d e))'],
    ['a ? b ? c : d : e', '(? a (? b c d) e)'],
    ['a || b ? c + 1 : d', '(? (|| a b) (+ c 1) d)'],
    ['-a * b', '(* (- a) b)'],
    ['!a && ~b', '(&& (! a) (~ b))'],
    ['- - +a', '(- (- (+ a)))'],
    ['-a.b(c)[d]', '(- (idx (call (. a b) c) d))'],
    ['(a + b) * c', '(* (+ a b) c)'],
    ['f(a, b)(c)', '(call (call f a b) c)'],
    ['f(a, b,)', '(call f a b)'],
    ['f()', '(call f)'],
    ['a.b.c', '(. (. a b) c)'],
    ['a[i][j]', '(idx (idx a i) j)'],
    ['a.if.true', '(. (. a if) true)'],
    ['[a, b, c,]', '[a b c]'],
    ['[]', '[]'],
    ['[[1], [2, 3]]', '[[1] [2 3]]'],
    ['{ a: 1, b, }', '{a: 1, b: b}'],
    ['{}', '{}'],
    ['{ mask, other: -Infinity }', '{mask: mask, other: (- Infinity)}'],
    ['true && !false', '(&& true (! false))'],
    ['x.max(1, { keepdim: true })', '(call (. x max) 1 {keepdim: true})'],
  ])('%s', (text, expected) => {
    expect(show(exprOf(text))).toBe(expected);
  });

  it('reads interpolations as expressions', () => {
    const { program } = parseOk('const y = ', '(t) + ', ';');
    expect(program.body.map(showStmt)).toEqual(['(const y (+ (call $0 t) $1))']);
  });

  it('gives binary nodes exact spans and operator spans', () => {
    const { source, program } = parseOk('x = (a + b) * c;');
    const stmt = program.body[0];
    if (stmt.kind !== 'assign' || stmt.value.kind !== 'binary') throw new Error('bad shape');
    expect(source.slice(stmt.value.span)).toBe('(a + b) * c');
    expect(source.slice(stmt.value.opSpan)).toBe('*');
    expect(source.slice(stmt.value.left.span)).toBe('a + b');
    expect(stmt.value.left.kind === 'binary' && source.slice(stmt.value.left.opSpan)).toBe('+');
  });

  it('gives right-associative chains nested spans', () => {
    const { source, program } = parseOk('x = a ** b ** c;');
    const spans = nodes(program)
      .filter((n) => n.kind === 'binary')
      .map((n) => source.slice(n.span));
    expect(spans).toEqual(['a ** b ** c', 'b ** c']);
  });

  it('gives member, call, index, conditional, array and object nodes exact spans', () => {
    const text = 'x = c ? f(a.bc[0], [1, 2]) : { k: v, w };';
    const { source, program } = parseOk(text);
    const slices = nodes(program).map((n) => `${n.kind}:${source.slice(n.span)}`);
    expect(slices).toEqual(
      expect.arrayContaining([
        'assign:x = c ? f(a.bc[0], [1, 2]) : { k: v, w };',
        'conditional:c ? f(a.bc[0], [1, 2]) : { k: v, w }',
        'call:f(a.bc[0], [1, 2])',
        'index:a.bc[0]',
        'member:a.bc',
        'array:[1, 2]',
        'object:{ k: v, w }',
        'ident:w',
      ]),
    );
    const member = nodes(program).find((n) => n.kind === 'member');
    expect(member && 'nameSpan' in member && source.slice(member.nameSpan as Span)).toBe('bc');
    const object = nodes(program).find((n) => n.kind === 'object');
    const keys = object && 'props' in object ? (object.props as { keySpan: Span }[]) : [];
    expect(keys.map((p) => source.slice(p.keySpan))).toEqual(['k', 'w']);
  });

  it.each([
    ['number', '1.5f16'],
    ['bool', 'false'],
    ['ident', 'abc'],
    ['unary', '-abc'],
    ['unary', '!(a)'],
    ['binary', 'a+b'],
    ['binary', '(a) + (b)'],
    ['conditional', '(c) ? a : (b)'],
    ['member', 'f(x).y'],
    ['index', 'a[i + 1]'],
    ['call', '(f)(x, y,)'],
    ['array', '[1, 2,]'],
    ['object', '{ a: 1 }'],
  ])('gives a %s node the span of %j exactly', (kind, text) => {
    const { source, program } = parseOk(`x =  ${text}  ;`);
    const node = nodes(program).find((n) => n.kind === kind);
    expect(node && source.slice(node.span)).toBe(text);
  });

  it('gives interpolations the span of their placeholder', () => {
    const { source, program } = parseOk('x = ', ' + ', ';');
    const interps = nodes(program)
      .filter((n) => n.kind === 'interp')
      .sort((a, b) => a.span.start - b.span.start);
    expect(interps.map((n) => [n.span.start, source.slice(n.span)])).toEqual([
      [4, placeholder(0)],
      [11, placeholder(1)],
    ]);
  });

  it('reports a unary operand on the left of ** (TV1006) but still builds (-a) ** b', () => {
    const { diags, program } = parseParts('x = -a ** b;');
    expect(diags.map(brief)).toEqual([
      { code: 'TV1006', message: "a unary '-' is not allowed on the left of '**'", line: 1, column: 5 },
    ]);
    expect(program.body.map(showStmt)).toEqual(['(= x (** (- a) b))']);
  });
});

// ---- statements ----

describe('statements', () => {
  it('parses declarations with exact spans', () => {
    const { source, program } = parseOk('const x = 1;\nlet yy = x + 2');
    expect(program.body.map(showStmt)).toEqual(['(const x 1)', '(let yy (+ x 2))']);
    const [a, b] = program.body;
    expect(source.slice(a.span)).toBe('const x = 1;');
    expect(source.slice(b.span)).toBe('let yy = x + 2');
    expect(b.kind === 'var' && source.slice(b.nameSpan)).toBe('yy');
    expect(program.span).toEqual({ start: 0, end: source.text.length });
  });

  it.each(['=', '+=', '-=', '*=', '/=', '%=', '&=', '|=', '^=', '<<=', '>>=', '**='])(
    'assigns with %s',
    (op) => {
      expect(shape(`x ${op} y;`)).toEqual([`(${op} x y)`]);
    },
  );

  it('turns ++ and -- into += 1 and -= 1, the literal spanning the operator', () => {
    const { source, program } = parseOk('i++;\n--j;\n++k\nm--');
    expect(program.body.map(showStmt)).toEqual(['(+= i 1)', '(-= j 1)', '(+= k 1)', '(-= m 1)']);
    expect(program.body.map((s) => source.slice(s.span))).toEqual(['i++;', '--j;', '++k', 'm--']);
    const one = program.body.map((s) => (s.kind === 'assign' ? source.slice(s.value.span) : ''));
    expect(one).toEqual(['++', '--', '++', '--']);
    expect(program.body[0].kind === 'assign' && program.body[0].value).toMatchObject({
      value: 1,
      isFloat: false,
    });
  });

  it('parses expression statements, returns and blocks', () => {
    expect(shape('store(y, [0], acc);\nreturn;\nreturn x + 1;\n{ a(); { b(); } }\n{}\n;;')).toEqual([
      '(call store y [0] acc)',
      '(return)',
      '(return (+ x 1))',
      '{(call a); {(call b)}}',
      '{}',
    ]);
  });

  it('reads a `{` at statement start as a block', () => {
    expect(shape('{ mask }')).toEqual(['{mask}']);
  });

  it('parses if / else if / else chains', () => {
    const { source, program } = parseOk(KERNEL[1].slice(5));
    const stmt = program.body[0] as IfStmt;
    expect(showStmt(stmt)).toBe(
      '(if (== (. blockIdx x) 0) {(call store y [0] (call (. acc sum) 1))} {(if (> k 2) {(call sync)} {(return)})})',
    );
    const elseIf = stmt.alternate?.body[0] as IfStmt;
    expect(source.slice(stmt.alternate?.span ?? stmt.span)).toBe(source.slice(elseIf.span));
    expect(source.slice(elseIf.span)).toBe('if (k > 2) { sync(); } else { return; }');
    expect(source.slice(stmt.consequent.span)).toBe('{ store(y, [0], acc.sum(1)); }');
  });

  it('wraps single-statement bodies in blocks', () => {
    const { source, program } = parseOk('if (a) b(); else c = 1;\nfor (let i = 0; i < n; i++) f(i);');
    expect(program.body.map(showStmt)).toEqual([
      '(if a {(call b)} {(= c 1)})',
      '(for i 0 < n 1 {(call f i)})',
    ]);
    const ifStmt = program.body[0] as IfStmt;
    expect(source.slice(ifStmt.consequent.span)).toBe('b();');
    expect(source.slice(ifStmt.alternate?.span ?? ifStmt.span)).toBe('c = 1;');
  });

  it.each([
    ['for (let i = 0; i < n; i++) {}', '(for i 0 < n 1 {})'],
    ['for (let i = 0; i < n; ++i) {}', '(for i 0 < n 1 {})'],
    ['for (let i = a; i <= b; i += 2) {}', '(for i a <= b 2 {})'],
    ['for (let i = 1; i < n * 2; i = i + s) {}', '(for i 1 < (* n 2) s {})'],
    ['for (let k = 0; k < K; k += BK) { acc += k; }', '(for k 0 < K BK {(+= acc k)})'],
    ['for (let i = 0; i < n; i++) ;', '(for i 0 < n 1 {})'],
  ])('parses the counted loop %s', (text, expected) => {
    expect(shape(text)).toEqual([expected]);
  });

  it('gives for loops exact spans', () => {
    const { source, program } = parseOk('for (let idx = 0; idx < n; idx++) { f(); }');
    const loop = program.body[0] as ForStmt;
    expect(source.slice(loop.span)).toBe('for (let idx = 0; idx < n; idx++) { f(); }');
    expect(source.slice(loop.variableSpan)).toBe('idx');
    expect(source.slice(loop.step.span)).toBe('++');
    expect(source.slice(loop.body.span)).toBe('{ f(); }');
  });

  it('parses the sample kernel with exact, nested spans', () => {
    const { source, program } = parseOk(...KERNEL);
    expect(program.body.map((s) => s.kind)).toEqual(['expr', 'expr', 'var', 'for', 'var', 'var', 'if']);
    checkSpans(program, source.text.length);
    for (const n of nodes(program)) {
      if (n.kind === 'program') continue;
      const text = source.slice(n.span);
      expect(text.length).toBeGreaterThan(0);
      expect(text.trim()).toBe(text);
    }
    const loop = program.body[3] as ForStmt;
    expect(showStmt(loop.body.body[2])).toBe(
      '(+= acc (* (* wt (call (. st repeat) 1 128)) (call (. (call load x [k] [BK]) unsqueeze) 0)))',
    );
    expect(showStmt(program.body[5])).toBe(
      '(const y (? c (call exp (- t (call (. t max) 1 {keepdim: true}))) (call $0 t)))',
    );
  });
});

// ---- automatic semicolons ----

describe('semicolons', () => {
  it('may be omitted at a line break, before } and at the end', () => {
    expect(shape('a = 1\nb = 2\n{ c() }\nd()')).toEqual(['(= a 1)', '(= b 2)', '{(call c)}', '(call d)']);
  });

  it('continue an expression across lines when the next line cannot start a statement alone', () => {
    expect(shape('x = a\n  + b\ny = f\n(c)')).toEqual(['(= x (+ a b))', '(= y (call f c))']);
  });

  it('treat ++ on a new line as a prefix, and return before a line break as bare', () => {
    expect(shape('x\n++y')).toEqual(['x', '(+= y 1)']);
    expect(shape('return\nx')).toEqual(['(return)', 'x']);
  });

  it('count a line break inside a block comment, but not a comment on one line', () => {
    expect(shape('a = 1 /* \n */ b = 2')).toEqual(['(= a 1)', '(= b 2)']);
    expect(shape('a = 1 // note\nb = 2')).toEqual(['(= a 1)', '(= b 2)']);
    expect(parseParts('a = 1 /* x */ b = 2').diags.map((d) => d.code)).toEqual(['TV1005']);
  });

  it('are required between statements on one line (TV1005 at the end of the previous token)', () => {
    const { diags, program } = parseParts('a = 1 b = 2;\nc = 3;');
    expect(diags.map(brief)).toEqual([
      { code: 'TV1005', message: "expected ';' after the statement, found 'b'", line: 1, column: 6 },
    ]);
    expect(diags[0].span).toEqual({ start: 5, end: 5 });
    expect(program.body.map(showStmt)).toEqual(['(= a 1)', '(= c 3)']);
  });
});

// ---- diagnostics ----

describe('diagnostics', () => {
  const diagnose = (...parts: string[]) => parseParts(...parts).diags.map(brief);

  it('TV1001: unexpected characters', () => {
    expect(diagnose('x = 1;\n  y = #;')).toEqual([
      { code: 'TV1001', message: "unexpected character '#'", line: 2, column: 7 },
    ]);
    expect(diagnose('a @@ b;')).toEqual([
      { code: 'TV1001', message: "unexpected characters '@@'", line: 1, column: 3 },
    ]);
    expect(diagnose('x = \u0001;')).toEqual([
      { code: 'TV1001', message: 'unexpected character U+0001', line: 1, column: 5 },
    ]);
    expect(diagnose('é = 1;')).toEqual([
      { code: 'TV1001', message: "unexpected character 'é'", line: 1, column: 1 },
    ]);
  });

  it('TV1002: unterminated block comment', () => {
    expect(diagnose('a();\n/* never closed')).toEqual([
      {
        code: 'TV1002',
        message: "unterminated comment: expected '*/' before the end of input",
        line: 2,
        column: 1,
      },
    ]);
  });

  it.each([
    ['x = );', "expected an expression, found ')'", 1, 5],
    ['f(,);', "expected an expression, found ','", 1, 3],
    ['x = a +;', "expected an expression, found ';'", 1, 8],
    ['const x = ;', "expected an expression, found ';'", 1, 11],
    ['x = f(a;', "expected ')' to close the call, found ';'", 1, 8],
    ['x = a[1;', "expected ']' to close the index, found ';'", 1, 8],
    ['x = [1 2];', "expected ']' to close the array, found '2'", 1, 8],
    ['x = (a b);', "expected ')' to close the parenthesized expression, found 'b'", 1, 8],
    ['x = { a: 1 b };', "expected '}' to close the object, found 'b'", 1, 12],
    ['x = { 1: a };', "expected a property name in the object, found '1'", 1, 7],
    ['x = { a 1 };', "expected ':' after the property 'a', found '1'", 1, 9],
    ['x = a.;', "expected a property name after '.', found ';'", 1, 7],
    ['x = c ? a;', "expected ':' in the conditional expression, found ';'", 1, 10],
    ['let = 1;', "expected a variable name after 'let', found '='", 1, 5],
    ['let x;', "expected '=' and an initial value after 'let x', found ';'", 1, 5],
    ['const y\nf();', "expected '=' and an initial value after 'const y', found the end of the line", 1, 7],
    ['if x {}', "expected '(' after 'if', found 'x'", 1, 4],
    ['for i {}', "expected '(' after 'for', found 'i'", 1, 5],
    ['if (a b) {}', "expected ')' to close the 'if' condition, found 'b'", 1, 7],
    ['x = 1;\n}', "expected a statement, found '}'", 2, 1],
    ['else {}', "expected a statement, found 'else' without a matching 'if'", 1, 1],
    [') x;', "expected a statement, found ')'", 1, 1],
  ])('TV1004: %j', (text, message, line, column) => {
    expect(diagnose(text)).toEqual([{ code: 'TV1004', message, line, column }]);
  });

  it('TV1004 carries the missing-initializer hint', () => {
    const d = parseParts('let x;').diags[0];
    expect(d.hint).toBe('give the variable a value: let x = ...');
  });

  it.each([
    ['while (x) { a(); }', "'while' loops are not supported", LOOP_HINT],
    ['do { a(); } while (x);', "'do' loops are not supported", LOOP_HINT],
    ['break;', "'break' is not supported", LOOP_HINT],
    ['continue;', "'continue' is not supported", LOOP_HINT],
    ['function f() { return 1; }', 'functions are not supported inside a kernel', FN_HINT],
    ['class A {}', 'classes are not supported', FN_HINT],
    ['x = (a) => a;', 'arrow functions are not supported', FN_HINT],
    ['var x = 1;', "'var' is not supported", 'use let or const'],
    ["x = 'abc';", 'string literals are not supported', 'kernels have no strings'],
    ['x = "abc";', 'string literals are not supported', 'kernels have no strings'],
    ['x = `abc`;', 'string literals are not supported', 'kernels have no strings'],
    ['switch (x) {}', "'switch' is not supported", 'use an if / else if chain'],
    ['x = new A();', "'new' is not supported", 'call builtins directly, without new'],
    ['x = this.a;', "'this' is not supported", 'refer to params and values by name'],
    ['x = typeof a;', "'typeof' is not supported", 'drop the test: types are known at compile time'],
    ['import x;', "'import' is not supported", 'import in the host file and interpolate the value'],
    ['export x;', "'export' is not supported", 'export from the host file'],
    ['async f();', "'async' is not supported", 'remove it: kernels are synchronous'],
    ['x = await f();', "'await' is not supported", 'remove it: kernels are synchronous'],
    ['try {}', "'try' is not supported", 'remove it: kernels cannot throw'],
    ['throw x;', "'throw' is not supported", 'check the condition and return early instead'],
    ['delete x;', "'delete' is not supported", 'rebind the value with let instead'],
    [
      'x = a instanceof b;',
      "'instanceof' is not supported",
      'drop the test: types are known at compile time',
    ],
    ['x = a in b;', "'in' is not supported", LOOP_HINT],
    ['for (const x of xs) {}', "'for...of' loops are not supported", LOOP_HINT],
    ['for (let k in o) {}', "'for...in' loops are not supported", LOOP_HINT],
    ['x = yield;', "'yield' is not supported", 'return the value instead'],
    ['x = a ?? b;', "'??' is not supported", 'kernel values are never null: remove it'],
    ['x = a?.b;', "'?.' is not supported", "kernel values are never null: use '.'"],
    ['f(...a);', 'spread syntax is not supported', 'pass the elements one by one'],
    ['x >>>= 1;', "'>>>=' is not supported", 'spell it out: x = x >>> y'],
    ['f(i++);', "expected ')' to close the call, found '++'", undefined],
    [
      'f(++i);',
      "'++' inside an expression is not supported",
      'write i++ or i += 1 as a statement of its own',
    ],
    ['let [a, b] = t;', 'destructuring is not supported', 'declare each variable with its own let'],
    ['let x: f32 = 1;', 'type annotations are not supported', 'remove the annotation: types are inferred'],
    [
      'let a = 1, b = 2;',
      'declaring several variables at once is not supported',
      'write one let per variable',
    ],
  ])('TV1006: %s', (text, message, hint) => {
    const diags = parseParts(text).diags;
    expect(diags.map((d) => [d.message, d.hint])).toEqual([[message, hint]]);
    if (hint) expect(diags[0].code).toBe('TV1006');
  });

  it('TV1006 points at the offending word', () => {
    expect(diagnose('x = 1;\nwhile (x) {}')).toEqual([
      { code: 'TV1006', message: "'while' loops are not supported", line: 2, column: 1 },
    ]);
  });

  it.each([
    ['a.b = 1;', "cannot assign to 'a.b': only a variable can be assigned", 1],
    ['a[0] += 1;', "cannot assign to 'a[0]': only a variable can be assigned", 1],
    ['f() = 1;', "cannot assign to 'f()': only a variable can be assigned", 1],
    ['a.b++;', "cannot assign to 'a.b': only a variable can be assigned", 1],
    ['--x[0];', "cannot assign to 'x[0]': only a variable can be assigned", 3],
    ['(a + b) = c;', "cannot assign to 'a + b': only a variable can be assigned", 2],
  ])('TV1007: %s', (text, message, column) => {
    const { diags, program } = parseParts(text);
    expect(diags.map(brief)).toEqual([{ code: 'TV1007', message, line: 1, column }]);
    expect(diags[0].hint).toBe(STORE_HINT);
    expect(program.body.map(showStmt)).toEqual(['<error>']);
  });

  it.each([
    [
      'for (let i = 10; i > 0; i--) {}',
      "expected the condition 'i < stop' or 'i <= stop', found 'i > 0'",
      18,
    ],
    ['for (let i = 0; j < n; i++) {}', "expected the condition 'i < stop' or 'i <= stop', found 'j < n'", 17],
    ['for (let i = 0; n > i; i++) {}', "expected the condition 'i < stop' or 'i <= stop', found 'n > i'", 17],
    ['for (let i = 0; ; i++) {}', "expected the condition 'i < stop' or 'i <= stop', found ';'", 17],
    ['for (let i = 0; i < n; i--) {}', "expected the update 'i++' or 'i += step', found 'i--'", 24],
    ['for (let i = 0; i < n; i -= 1) {}', "expected the update 'i++' or 'i += step', found 'i -= 1'", 24],
    [
      'for (let i = 0; i < n; i = i - 1) {}',
      "expected the update 'i++' or 'i += step', found 'i = i - 1'",
      24,
    ],
    ['for (let i = 0; i < n; j++) {}', "expected the update 'i++' or 'i += step', found 'j++'", 24],
    ['for (let i = 0; i < n; ) {}', "expected the update 'i++' or 'i += step', found ')'", 24],
    ['for (const i = 0; i < n; i++) {}', "expected 'let' to declare the loop variable, found 'const'", 6],
    ['for (i = 0; i < n; i++) {}', "expected 'let i = start' to begin the for loop, found 'i'", 6],
    ['for (;;) {}', "expected 'let i = start' to begin the for loop, found ';'", 6],
    ['for (let i; i < n; i++) {}', "expected 'let i = start' to begin the for loop, found 'let'", 6],
    ['for (let i = 0, j = 0; i < n; i++) {}', "expected ';' in the for-loop header, found ','", 15],
    ['for (let i = 0; i < n) {}', "expected ';' in the for-loop header, found ')'", 22],
  ])('TV1008: %s', (text, message, column) => {
    const { diags, program } = parseParts(`${text}\nok();`);
    expect(diags.map(brief)).toEqual([{ code: 'TV1008', message, line: 1, column }]);
    expect(diags[0].hint).toBe(LOOP_HINT);
    // The loop and what follows still parse.
    expect(program.body.map((s) => s.kind)).toEqual(['for', 'expr']);
  });

  it('TV1008 keeps the loop body in the tree', () => {
    const { program } = parseParts('for (let i = 0; i > n; i++) { a = 1; }');
    expect((program.body[0] as ForStmt).body.body.map(showStmt)).toEqual(['(= a 1)']);
  });

  it('TV1009: brackets left open at the end of input', () => {
    const text = 'if (a) {\n  f(x, [1';
    expect(diagnose(text)).toEqual([
      { code: 'TV1009', message: "'[' opened at line 2, column 8 is never closed", line: 2, column: 10 },
      { code: 'TV1009', message: "'(' opened at line 2, column 4 is never closed", line: 2, column: 10 },
      { code: 'TV1009', message: "'{' opened at line 1, column 8 is never closed", line: 2, column: 10 },
    ]);
    expect(parseParts(text).diags[0].hint).toBe("add the matching ']'");
    expect(diagnose('x = { a: 1')).toEqual([
      { code: 'TV1009', message: "'{' opened at line 1, column 5 is never closed", line: 1, column: 11 },
    ]);
    expect(diagnose('for (let i = 0; i < n')).toEqual([
      { code: 'TV1009', message: "'(' opened at line 1, column 5 is never closed", line: 1, column: 22 },
    ]);
  });

  it('reports a missing expression at the end of input outside brackets', () => {
    expect(diagnose('x = a +')).toEqual([
      { code: 'TV1004', message: 'expected an expression, found end of input', line: 1, column: 8 },
    ]);
  });

  it('places diagnostics inside interpolated templates by the joined text', () => {
    const { diags } = parseParts('x = ', ' +\n  #;');
    expect(diags.map(brief)).toEqual([
      { code: 'TV1001', message: "unexpected character '#'", line: 2, column: 3 },
    ]);
  });

  it('lists diagnostics in source order', () => {
    const { diags } = parseParts("x = 'a';\n/* open");
    expect(diags.map((d) => d.code)).toEqual(['TV1006', 'TV1002']);
  });
});

// ---- recovery ----

describe('error recovery', () => {
  it('reports three independent errors and keeps the good statements', () => {
    const text = [
      'const a = 1;',
      'const b = (a + ;',
      'let c = a * 2;',
      'x = f(a b);',
      'store(y, [0], c);',
      'for (let i = 0; i < 4; i++) {',
      '  let d = #;',
      '  acc += d;',
      '}',
      'return c;',
    ].join('\n');
    const { diags, program } = parseParts(text);
    expect(diags.map((d) => [d.code, d.line])).toEqual([
      ['TV1004', 2],
      ['TV1004', 4],
      ['TV1001', 7],
    ]);
    expect(program.body.map(showStmt)).toEqual([
      '(const a 1)',
      '(const b (+ a <error>))',
      '(let c (* a 2))',
      '(= x (call f a))',
      '(call store y [0] c)',
      '(for i 0 < 4 1 {(let d <error>); (+= acc d)})',
      '(return c)',
    ]);
  });

  it('skips a rejected construct whole, brackets balanced', () => {
    const { diags, program } = parseParts('while (x) {\n  a();\n  b();\n}\nc();');
    expect(diags.map((d) => d.code)).toEqual(['TV1006']);
    expect(program.body.map(showStmt)).toEqual(['<error>', '(call c)']);
  });

  it('resynchronizes after a broken if header and inside blocks', () => {
    const { diags, program } = parseParts('if (a b) { x(); }\ny();\n{ z( ; w(); }\nv();');
    expect(diags.map((d) => d.code)).toEqual(['TV1004', 'TV1004']);
    expect(program.body.map(showStmt)).toEqual(['(call y)', '{(call z <error>); (call w)}', '(call v)']);
  });

  it("reads a `{` in place of a header's `)` as the start of the body", () => {
    const { diags, program } = parseParts(
      'for (let i = 0; i < n; i++ {\n  f(i);\n}\nif (a {\n  b();\n}\ng();',
    );
    expect(diags.map(brief)).toEqual([
      {
        code: 'TV1004',
        message: "expected ')' to close the for-loop header, found '{'",
        line: 1,
        column: 28,
      },
      { code: 'TV1004', message: "expected ')' to close the 'if' condition, found '{'", line: 4, column: 7 },
    ]);
    expect(program.body.map(showStmt)).toEqual([
      '(for i 0 < n 1 {(call f i)})',
      '(if a {(call b)})',
      '(call g)',
    ]);
  });

  it('rejects a parenthesized arrow function whole', () => {
    const { diags, program } = parseParts('const f = (a, b) => a + b;\ny = () => 1;\nok();');
    expect(diags.map(brief)).toEqual([
      { code: 'TV1006', message: 'arrow functions are not supported', line: 1, column: 11 },
      { code: 'TV1006', message: 'arrow functions are not supported', line: 2, column: 5 },
    ]);
    expect(program.body.map(showStmt)).toEqual(['(const f <error>)', '(= y <error>)', '(call ok)']);
  });

  it('keeps an else attached after a broken single-statement body', () => {
    const { diags, program } = parseParts('if (a) x = ;\nelse y = 1;');
    expect(diags.map((d) => d.code)).toEqual(['TV1004']);
    expect(program.body.map(showStmt)).toEqual(['(if a {(= x <error>)} {(= y 1)})']);
  });

  it('recovers at a statement on the next line', () => {
    const { diags, program } = parseParts('const a = f(1,\nconst b = 2;');
    expect(diags.map((d) => d.message)).toEqual(["expected an expression, found 'const'"]);
    expect(program.body.map(showStmt)).toEqual(['(const a (call f 1 <error>))', '(const b 2)']);
  });

  it(`caps diagnostics at ${MAX_DIAGNOSTICS}`, () => {
    const { diags } = parseParts('#;\n'.repeat(500));
    expect(diags).toHaveLength(MAX_DIAGNOSTICS);
  });
});

// ---- robustness ----

describe('robustness', () => {
  const time = (fn: () => void): number => {
    const t0 = performance.now();
    fn();
    return performance.now() - t0;
  };

  it.each([
    ['nested parentheses', `x = ${'('.repeat(20000)}1${')'.repeat(20000)};`],
    ['unclosed parentheses', `x = ${'('.repeat(20000)}`],
    ['nested arrays', `x = ${'['.repeat(20000)}`],
    ['nested objects', `x = ${'{a:'.repeat(20000)}`],
    ['nested calls', `x = ${'f('.repeat(20000)}`],
    ['nested blocks', '{'.repeat(20000)],
    ['nested ifs', 'if (a) '.repeat(20000)],
    ['else-if chain', 'if (a) {} else '.repeat(20000)],
    ['nested loops', 'for (let i = 0; i < n; i++) '.repeat(20000)],
    ['unary chain', `x = ${'-'.repeat(50000)}a;`],
    ['binary chain', `x = ${'a + '.repeat(50000)}a;`],
    ['power chain', `x = ${'a ** '.repeat(50000)}a;`],
    ['conditional chain', `x = ${'a ? b : '.repeat(20000)}c;`],
    ['member chain', `x = a${'.b'.repeat(50000)};`],
    ['call chain', `x = f${'()'.repeat(50000)};`],
    ['wide array', `x = [${'1,'.repeat(50000)}];`],
    ['many statements', 'a();\n'.repeat(50000)],
    ['closers', ')]}'.repeat(30000)],
  ])('stays fast and bounded on %s', (_name, text) => {
    let parsed: Parsed | undefined;
    const ms = time(() => {
      parsed = parseParts(text);
    });
    // Generous: a quadratic parser would take minutes at these sizes.
    expect(ms).toBeLessThan(10000);
    expect(parsed?.diags.length).toBeLessThanOrEqual(MAX_DIAGNOSTICS);
    expect(parsed?.diags.some((d) => d.code === 'TV4001')).toBe(false);
  });

  it('reports deep nesting once', () => {
    const { diags } = parseParts(`x = ${'('.repeat(1000)}1${')'.repeat(1000)};\ny = 2;`);
    expect(diags.map((d) => d.message)).toEqual(['nesting is too deep: more than 200 levels']);
  });

  it('limits the height of expression trees for the passes after the parser', () => {
    const { diags, program } = parseParts(`x = ${'a + '.repeat(2000)}a;\ny = 2;`);
    expect(diags.map((d) => d.message)).toEqual([
      'the expression is too deeply nested: more than 1000 levels',
    ]);
    expect(program.body.map((s) => s.kind)).toEqual(['assign', 'assign']);
  });

  it('accepts nesting below the limit', () => {
    parseOk(`x = ${'('.repeat(150)}1${')'.repeat(150)};`);
    parseOk(`x = ${'a + '.repeat(900)}a;`);
  });
});

// ---- fuzz ----

const SOUP: readonly string[] = [
  ...['const', 'let', 'for', 'if', 'else', 'return', 'true', 'false', 'while', 'function', 'new', 'in'],
  ...['x', 'y', 'i', 'load', 'store', 'Infinity', '1', '2.5', '0xFF', '255u8', '1e', '0x', '.5', '1.5f16'],
  ...['(', ')', '[', ']', '{', '}', ',', ';', ':', '?', '.', '=', '+=', '++', '--', '**', '=>', '...'],
  ...['+', '-', '*', '/', '%', '<', '<=', '>', '==', '!==', '&&', '||', '!', '~', '<<', '>>>', '&', '|', '^'],
  ...['#', '@', "'s'", '"', '`', '/*', '*/', '//', '\n', ' ', '\t', '$', '_'],
];

function soup(r: () => number): string[] {
  const parts: string[] = [''];
  const n = randomInt(r, 0, 60);
  for (let k = 0; k < n; k++) {
    if (r() < 0.05) parts.push('');
    else parts[parts.length - 1] += SOUP[randomInt(r, 0, SOUP.length - 1)] + (r() < 0.5 ? ' ' : '');
  }
  return parts;
}

function mutate(r: () => number, parts: readonly string[]): string[] {
  const out = [...parts];
  const edits = randomInt(r, 1, 4);
  for (let k = 0; k < edits; k++) {
    const p = randomInt(r, 0, out.length - 1);
    const s = out[p];
    const at = randomInt(r, 0, s.length);
    const len = randomInt(r, 0, 6);
    const insert = r() < 0.5 ? SOUP[randomInt(r, 0, SOUP.length - 1)] : '';
    out[p] = s.slice(0, at) + insert + s.slice(at + len);
  }
  return out;
}

/** What is wrong with parsing `parts`, if anything. */
function fuzzProblem(parts: readonly string[]): string | undefined {
  let parsed: Parsed;
  try {
    parsed = parseParts(...parts);
  } catch (e) {
    return `threw ${String(e)}`;
  }
  const { program, source, diags } = parsed;
  if (program.kind !== 'program') return 'no program';
  try {
    checkSpans(program, source.text.length);
  } catch (e) {
    return String(e);
  }
  if (diags.length > MAX_DIAGNOSTICS) return `${diags.length} diagnostics`;
  const internal = diags.find((d) => d.code === 'TV4001');
  if (internal) return internal.message;
  const outside = diags.find((d) => !(d.span.start <= d.span.end && d.span.end <= source.text.length));
  return outside && `diagnostic span ${outside.span.start}..${outside.span.end} outside the text`;
}

describe('fuzz', () => {
  it('never throws on 3,000 token soups and 3,000 mutated kernels', () => {
    const r = rng(0x5eed);
    const cases: string[][] = [];
    for (let k = 0; k < 3000; k++) cases.push(soup(r));
    for (let k = 0; k < 3000; k++) cases.push(mutate(r, KERNEL));
    const failures: string[] = [];
    for (const parts of cases) {
      const problem = fuzzProblem(parts);
      if (problem) failures.push(`${problem} on ${JSON.stringify(parts)}`);
    }
    expect(failures).toEqual([]);
  });

  it('reports only unclosed brackets for the sample kernel cut at any line break', () => {
    const lines = KERNEL[0].split('\n');
    for (let k = 1; k < lines.length; k++) {
      const { diags } = parseParts(lines.slice(0, k).join('\n'));
      expect(diags.filter((d) => d.code !== 'TV1009')).toEqual([]);
    }
  });
});
