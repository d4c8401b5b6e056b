// The kernel language's parser: recursive descent over the lexer's tokens, producing the AST of
// ast.ts. It never throws. After a syntax error it enters panic mode (later errors are dropped)
// until it resynchronizes at a statement boundary, so one pass reports several independent errors.
import type {
  AssignOperator,
  AssignStmt,
  BinaryOperator,
  Block,
  ErrorExpr,
  Expr,
  ForStmt,
  IfStmt,
  NumberLit,
  ObjectProp,
  Program,
  ReturnStmt,
  Span,
  Stmt,
  UnaryOperator,
  VarDecl,
} from './ast.js';
import type { DiagnosticBag, DiagnosticCode } from './diagnostics.js';
import { type DiagnosticSink, describeToken, type Token, tokenize } from './lexer.js';
import type { SourceText } from './source.js';

/** Most diagnostics one parse reports. */
export const MAX_DIAGNOSTICS = 100;
/** Deepest recursion (nested brackets, blocks, conditionals) before the parser gives up. */
export const MAX_NESTING = 200;
/** Tallest expression tree, so later recursive passes stay within the stack too. */
export const MAX_EXPR_HEIGHT = 1000;

export const LOOP_HINT = 'only counted for loops are supported: for (let i = a; i < b; i += s)';
export const FN_HINT = 'define device functions with fn() and interpolate them';
export const STORE_HINT = "tiles are values: write to memory with store(...) or a shared tile's .store(...)";

// Words JavaScript reserves that kernels reject, with what to say about each.
const RESERVED: ReadonlyMap<string, readonly [message: string, hint: string]> = new Map([
  ['while', ["'while' loops are not supported", LOOP_HINT]],
  ['do', ["'do' loops are not supported", LOOP_HINT]],
  ['break', ["'break' is not supported", LOOP_HINT]],
  ['continue', ["'continue' is not supported", LOOP_HINT]],
  ['function', ['functions are not supported inside a kernel', FN_HINT]],
  ['class', ['classes are not supported', FN_HINT]],
  ['var', ["'var' is not supported", 'use let or const']],
  ['switch', ["'switch' is not supported", 'use an if / else if chain']],
  ['new', ["'new' is not supported", 'call builtins directly, without new']],
  ['this', ["'this' is not supported", 'refer to params and values by name']],
  ['typeof', ["'typeof' is not supported", 'drop the test: types are known at compile time']],
  ['instanceof', ["'instanceof' is not supported", 'drop the test: types are known at compile time']],
  ['import', ["'import' is not supported", 'import in the host file and interpolate the value']],
  ['export', ["'export' is not supported", 'export from the host file']],
  ['async', ["'async' is not supported", 'remove it: kernels are synchronous']],
  ['await', ["'await' is not supported", 'remove it: kernels are synchronous']],
  ['try', ["'try' is not supported", 'remove it: kernels cannot throw']],
  ['throw', ["'throw' is not supported", 'check the condition and return early instead']],
  ['delete', ["'delete' is not supported", 'rebind the value with let instead']],
  ['in', ["'in' is not supported", LOOP_HINT]],
  ['of', ["'of' is not supported", LOOP_HINT]],
  ['yield', ["'yield' is not supported", 'return the value instead']],
]);

// Operators the lexer knows but kernels reject.
const UNSUPPORTED_OPERATORS: ReadonlyMap<string, readonly [message: string, hint: string]> = new Map([
  ['=>', ['arrow functions are not supported', FN_HINT]],
  ['??', ["'??' is not supported", 'kernel values are never null: remove it']],
  ['?.', ["'?.' is not supported", "kernel values are never null: use '.'"]],
  ['...', ['spread syntax is not supported', 'pass the elements one by one']],
  ['>>>=', ["'>>>=' is not supported", 'spell it out: x = x >>> y']],
  ['&&=', ["'&&=' is not supported", 'spell it out: x = x && y']],
  ['||=', ["'||=' is not supported", 'spell it out: x = x || y']],
  ['??=', ["'??=' is not supported", 'kernel values are never null: use =']],
]);

// Binary operators by precedence, loosest first; '**' (right-associative) is handled apart.
const BINARY_LEVELS: readonly (readonly BinaryOperator[])[] = [
  ['||'],
  ['&&'],
  ['|'],
  ['^'],
  ['&'],
  ['==', '!=', '===', '!=='],
  ['<', '<=', '>', '>='],
  ['<<', '>>', '>>>'],
  ['+', '-'],
  ['*', '/', '%'],
];
const BINARY = new Map<string, { op: BinaryOperator; prec: number }>(
  BINARY_LEVELS.flatMap((ops, i) => ops.map((op) => [op, { op, prec: i + 1 }] as const)),
);
const ASSIGN_OPS: readonly AssignOperator[] = [
  '=',
  '+=',
  '-=',
  '*=',
  '/=',
  '%=',
  '&=',
  '|=',
  '^=',
  '<<=',
  '>>=',
  '**=',
];
const ASSIGN = new Map<string, AssignOperator>(ASSIGN_OPS.map((op) => [op, op]));
const UNARY_OPS: readonly UnaryOperator[] = ['-', '+', '!', '~'];
const UNARY = new Map<string, UnaryOperator>(UNARY_OPS.map((op) => [op, op]));
const STATEMENT_KEYWORDS: ReadonlySet<string> = new Set(['const', 'let', 'for', 'if', 'return']);

/** Parses a kernel or fn body. Never throws; syntax errors go to `diagnostics`, in source order. */
export function parse(source: SourceText, diagnostics: DiagnosticBag): Program {
  const sink = new SortingSink();
  const span = { start: 0, end: source.text.length };
  try {
    return new Parser(source, sink).parseProgram();
  } catch (e) {
    // A last resort: the limits above should make this unreachable.
    if (e instanceof RangeError) sink.error('TV1004', span, 'the kernel is nested too deeply to parse');
    else sink.error('TV4001', span, `internal parser error: ${e instanceof Error ? e.message : String(e)}`);
    return { kind: 'program', span, body: [] };
  } finally {
    sink.flush(diagnostics);
  }
}

/** Keeps the first MAX_DIAGNOSTICS, then hands them over sorted by position (lexer and parser
 * errors otherwise arrive out of order). */
class SortingSink implements DiagnosticSink {
  private readonly items: { code: DiagnosticCode; span: Span; message: string; hint?: string }[] = [];

  error(code: DiagnosticCode, span: Span, message: string, hint?: string): void {
    if (this.items.length < MAX_DIAGNOSTICS) this.items.push({ code, span, message, hint });
  }

  flush(target: DiagnosticSink): void {
    const sorted = [...this.items].sort((a, b) => a.span.start - b.span.start);
    for (const d of sorted) target.error(d.code, d.span, d.message, d.hint);
  }
}

interface ForHeader {
  readonly variable: string;
  readonly variableSpan: Span;
  readonly start: Expr;
  readonly stop: Expr;
  readonly inclusive: boolean;
  readonly step: Expr;
}
interface ForInit {
  readonly variable: string;
  readonly variableSpan: Span;
  readonly start: Expr;
}

class Parser {
  private readonly tokens: Token[];
  private i = 0;
  /** End offset of the last consumed token. */
  private prevEnd = 0;
  /** After a syntax error: drop further errors until the next resynchronization. */
  private panicking = false;
  /** Brackets (and object braces) the current statement opened and never closed, for sync(). */
  private parenDebt = 0;
  private braceDebt = 0;
  /** Brackets open right now; at end of input their TV1009 explains every other error. */
  private openBrackets = 0;
  private depth = 0;
  private tooDeep = false;
  private readonly heights = new WeakMap<Expr, number>();
  private readonly parenthesized = new WeakSet<Expr>();
  /** Token indices of the `(` of each `(…) =>`, so that arrow functions get a clear error. */
  private readonly arrowParens: ReadonlySet<number>;

  constructor(
    private readonly source: SourceText,
    private readonly sink: DiagnosticSink,
  ) {
    this.tokens = tokenize(source, sink);
    this.arrowParens = findArrowParens(this.tokens);
  }

  parseProgram(): Program {
    const body: Stmt[] = [];
    while (!this.atEnd) {
      for (const stmt of this.parseStatements()) body.push(stmt);
      if (this.is('}')) {
        this.fail(this.tok, 'TV1004', "expected a statement, found '}'", "remove the extra '}'");
        this.advance();
        this.resync();
      }
    }
    return { kind: 'program', span: { start: 0, end: this.source.text.length }, body };
  }

  // ---- tokens ----

  private get tok(): Token {
    return this.tokens[this.i];
  }

  private peek(k: number): Token {
    return this.tokens[Math.min(this.i + k, this.tokens.length - 1)];
  }

  private get atEnd(): boolean {
    return this.tok.kind === 'eof';
  }

  /** The current token is the punctuator or keyword `text`. */
  private is(text: string, token: Token = this.tok): boolean {
    return (token.kind === 'punct' || token.kind === 'keyword') && token.text === text;
  }

  private advance(): Token {
    const token = this.tok;
    if (token.kind !== 'eof') {
      this.i++;
      this.prevEnd = token.span.end;
    }
    return token;
  }

  /** From `start` to the end of the last token read; empty at that end if nothing was read since. */
  private spanFrom(start: number): Span {
    return start <= this.prevEnd ? { start, end: this.prevEnd } : { start: this.prevEnd, end: this.prevEnd };
  }

  // ---- diagnostics ----

  /** Reports unless panicking, or unless `token` is already explained (a bad character, or the
   * end of input inside an open bracket, which TV1009 reports). Does not enter panic mode. */
  private report(
    token: Token | undefined,
    code: DiagnosticCode,
    span: Span,
    message: string,
    hint?: string,
  ): void {
    if (this.panicking || token?.kind === 'invalid') return;
    if (token?.kind === 'eof' && this.openBrackets > 0) return;
    this.sink.error(code, span, message, hint);
  }

  /** A syntax error at `token`: report it and panic until the next statement boundary. */
  private fail(token: Token, code: DiagnosticCode, message: string, hint?: string): void {
    this.report(token, code, token.span, message, hint);
    this.panicking = true;
  }

  private resync(): void {
    this.panicking = false;
    this.parenDebt = 0;
    this.braceDebt = 0;
  }

  /**
   * Skips to the next statement boundary: past a `;`, before a `}` or before a statement that
   * starts a line. Skipped blocks are skipped whole, and brackets the broken statement left open
   * are balanced first (an identifier on the next line may still be an argument), though a
   * statement keyword on a new line always ends the statement.
   */
  private sync(): void {
    let parens = this.parenDebt;
    let objects = this.braceDebt;
    let blocks = 0;
    while (!this.atEnd) {
      const t = this.tok;
      if (blocks === 0) {
        if (this.is(';')) {
          this.advance();
          break;
        }
        if (this.is('}') && objects === 0) break;
        if (t.newlineBefore && t.kind === 'keyword' && STATEMENT_KEYWORDS.has(t.text)) break;
        if (t.newlineBefore && parens + objects === 0 && startsStatement(t)) break;
      }
      if (this.is('{')) blocks++;
      else if (this.is('}') && blocks > 0) blocks--;
      else if (this.is('}')) objects--;
      else if (this.is('(') || this.is('[')) parens++;
      else if (this.is(')') || this.is(']')) parens = Math.max(0, parens - 1);
      this.advance();
    }
    this.resync();
  }

  /** Opens a nesting level; false (reported once) past MAX_NESTING. */
  private enter(): boolean {
    if (this.depth < MAX_NESTING) {
      this.depth++;
      return true;
    }
    this.tooDeepAt(this.tok.span, `nesting is too deep: more than ${MAX_NESTING} levels`);
    return false;
  }

  private tooDeepAt(span: Span, message: string): void {
    if (!this.tooDeep && !this.panicking)
      this.sink.error('TV1004', span, message, 'split it into several statements');
    this.tooDeep = true;
    this.panicking = true;
  }

  private opened(): void {
    this.openBrackets++;
  }

  /** Consumes the closer of `open`, or reports it missing (TV1009 at end of input). */
  private close(open: Token, closer: string, what: string): boolean {
    this.openBrackets--;
    if (this.is(closer)) {
      this.advance();
      return true;
    }
    if (this.atEnd) this.unclosed(open, closer);
    else
      this.fail(
        this.tok,
        'TV1004',
        `expected '${closer}' to close ${what}, found ${describeToken(this.tok)}`,
      );
    if (closer === '}') this.braceDebt++;
    else this.parenDebt++;
    return false;
  }

  /** TV1009 goes out even while panicking: an unclosed bracket is the likely cause of it all. */
  private unclosed(open: Token, closer: string): void {
    const { line, column } = this.source.position(open.span.start);
    const end = this.source.text.length;
    if (!this.tooDeep) {
      const message = `'${open.text}' opened at line ${line}, column ${column} is never closed`;
      this.sink.error('TV1009', { start: end, end }, message, `add the matching '${closer}'`);
    }
    this.panicking = true;
  }

  private expectSemicolon(): void {
    if (this.is(';')) {
      this.advance();
      this.resync(); // a statement boundary: recovery is over
      return;
    }
    if (this.is('}') || this.atEnd || this.tok.newlineBefore) return;
    const at = { start: this.prevEnd, end: this.prevEnd };
    this.report(this.tok, 'TV1005', at, `expected ';' after the statement, found ${describeToken(this.tok)}`);
    this.panicking = true;
  }

  // ---- statements ----

  /** Statements up to a `}` (not consumed) or the end of input. */
  private parseStatements(): Stmt[] {
    const body: Stmt[] = [];
    while (!this.atEnd && !this.is('}')) {
      const before = this.i;
      const stmt = this.parseStatement();
      if (stmt) body.push(stmt);
      if (this.panicking) this.sync();
      if (this.i === before && !this.atEnd && !this.is('}')) this.advance();
    }
    return body;
  }

  private parseStatement(): Stmt | undefined {
    if (!this.enter()) return undefined;
    try {
      return this.parseStatementInner();
    } finally {
      this.depth--;
    }
  }

  private parseStatementInner(): Stmt | undefined {
    const t = this.tok;
    if (t.kind === 'keyword') {
      if (t.text === 'const' || t.text === 'let') return this.parseVarDecl();
      if (t.text === 'for') return this.parseFor();
      if (t.text === 'if') return this.parseIf();
      if (t.text === 'return') return this.parseReturn();
      if (t.text === 'else') {
        this.fail(t, 'TV1004', "expected a statement, found 'else' without a matching 'if'");
        this.advance();
        return undefined;
      }
    }
    if (this.is('{')) return this.parseBlock();
    if (this.is(';')) {
      this.advance(); // an empty statement
      return undefined;
    }
    if (this.is('++') || this.is('--')) return this.parsePrefixUpdate();
    if (!startsExpression(t)) {
      this.fail(t, 'TV1004', `expected a statement, found ${describeToken(t)}`);
      if (!this.atEnd && !this.is('}')) this.advance();
      return undefined;
    }
    return this.parseExprOrAssign();
  }

  private parseBlock(): Block {
    const open = this.advance();
    this.opened();
    const body = this.parseStatements();
    if (this.is('}')) {
      this.openBrackets--;
      this.advance();
    } else {
      this.openBrackets--;
      this.unclosed(open, '}');
    }
    return { kind: 'block', span: this.spanFrom(open.span.start), body };
  }

  /** A loop or branch body: a block, or one statement wrapped in a block. */
  private parseBody(): Block {
    if (this.is('{')) return this.parseBlock();
    const start = this.tok.span.start;
    const stmt = this.parseStatement();
    // Resync here, so that an `else` after a broken statement still attaches.
    if (this.panicking) this.sync();
    return { kind: 'block', span: stmt ? stmt.span : this.spanFrom(start), body: stmt ? [stmt] : [] };
  }

  private parseVarDecl(): VarDecl | undefined {
    const keyword = this.advance();
    const declKind = keyword.text === 'const' ? 'const' : 'let';
    const name = this.tok;
    if (this.is('[') || this.is('{')) {
      this.fail(
        name,
        'TV1006',
        'destructuring is not supported',
        `declare each variable with its own ${declKind}`,
      );
      return undefined;
    }
    if (!isPlainIdent(name)) {
      this.fail(name, 'TV1004', `expected a variable name after '${declKind}', found ${describeToken(name)}`);
      return undefined;
    }
    this.advance();
    if (this.is(':')) {
      this.fail(
        this.tok,
        'TV1006',
        'type annotations are not supported',
        'remove the annotation: types are inferred',
      );
      return undefined;
    }
    if (!this.is('=')) {
      const found = this.tok.newlineBefore ? 'the end of the line' : describeToken(this.tok);
      const message = `expected '=' and an initial value after '${declKind} ${name.text}', found ${found}`;
      this.report(
        this.tok,
        'TV1004',
        name.span,
        message,
        `give the variable a value: ${declKind} ${name.text} = ...`,
      );
      this.panicking = true;
      return undefined;
    }
    this.advance();
    const init = this.parseExpression();
    if (this.is(',') && !this.panicking) {
      this.fail(
        this.tok,
        'TV1006',
        'declaring several variables at once is not supported',
        `write one ${declKind} per variable`,
      );
    }
    this.expectSemicolon();
    const span = this.spanFrom(keyword.span.start);
    return { kind: 'var', span, declKind, name: name.text, nameSpan: name.span, init };
  }

  private parseReturn(): ReturnStmt {
    const keyword = this.advance();
    // As in JavaScript, a line break right after `return` ends the statement.
    const bare = this.is(';') || this.is('}') || this.atEnd || this.tok.newlineBefore;
    const value = bare ? undefined : this.parseExpression();
    this.expectSemicolon();
    const span = this.spanFrom(keyword.span.start);
    return value ? { kind: 'return', span, value } : { kind: 'return', span };
  }

  private parseIf(): IfStmt | undefined {
    const keyword = this.advance();
    const open = this.expectOpen("after 'if'");
    if (!open) return undefined;
    const cond = this.parseExpression();
    if (!this.closeHeader(open, "the 'if' condition")) return undefined;
    const consequent = this.parseBody();
    let alternate: Block | undefined;
    if (this.is('else')) {
      const elseToken = this.advance();
      if (this.is('if')) {
        const nested = this.parseStatement();
        const body = nested ? [nested] : [];
        alternate = { kind: 'block', span: nested ? nested.span : this.spanFrom(elseToken.span.end), body };
      } else {
        alternate = this.parseBody();
      }
    }
    const span = this.spanFrom(keyword.span.start);
    return alternate
      ? { kind: 'if', span, cond, consequent, alternate }
      : { kind: 'if', span, cond, consequent };
  }

  /**
   * Closes an if or for header. Once it is closed, whatever went wrong inside it is over; a `{`
   * in place of the `)` (a common slip) is reported and the body parsed as if it were there.
   */
  private closeHeader(open: Token, what: string): boolean {
    const closed = this.close(open, ')', what);
    if (!closed && !this.is('{')) return false;
    this.resync();
    return true;
  }

  private expectOpen(where: string): Token | undefined {
    if (!this.is('(')) {
      this.fail(this.tok, 'TV1004', `expected '(' ${where}, found ${describeToken(this.tok)}`);
      return undefined;
    }
    this.opened();
    return this.advance();
  }

  /** `x = e;`, `x += e;`, `x++;`, or an expression statement. */
  private parseExprOrAssign(): Stmt {
    const start = this.tok.span.start;
    const target = this.parseExpression();
    if (this.panicking) return { kind: 'expr', span: this.spanFrom(start), expr: target };
    const t = this.tok;
    const op = t.kind === 'punct' ? ASSIGN.get(t.text) : undefined;
    if (op) {
      this.advance();
      const value = this.parseExpression();
      return this.finishAssign(start, target, op, value);
    }
    if ((this.is('++') || this.is('--')) && !t.newlineBefore) {
      this.advance();
      return this.finishAssign(start, target, t.text === '++' ? '+=' : '-=', one(t.span));
    }
    this.expectSemicolon();
    return { kind: 'expr', span: this.spanFrom(start), expr: target };
  }

  /** `++x;` / `--x;` */
  private parsePrefixUpdate(): Stmt {
    const op = this.advance();
    const target = this.parsePostfix();
    return this.finishAssign(op.span.start, target, op.text === '++' ? '+=' : '-=', one(op.span));
  }

  private finishAssign(start: number, target: Expr, op: AssignOperator, value: Expr): Stmt {
    if (target.kind !== 'ident') {
      const text = clip(this.source.slice(target.span));
      const message = `cannot assign to '${text}': only a variable can be assigned`;
      if (target.kind !== 'error') this.report(undefined, 'TV1007', target.span, message, STORE_HINT);
      this.expectSemicolon();
      const span = this.spanFrom(start);
      return { kind: 'expr', span, expr: { kind: 'error', span } };
    }
    this.expectSemicolon();
    const stmt: AssignStmt = { kind: 'assign', span: this.spanFrom(start), target, op, value };
    return stmt;
  }

  // ---- for loops ----

  private parseFor(): ForStmt | undefined {
    const keyword = this.advance();
    const open = this.expectOpen("after 'for'");
    if (!open) return undefined;
    const header = this.parseForHeader();
    if (!header || this.panicking) this.skipForHeader();
    if (!this.closeHeader(open, 'the for-loop header')) return undefined;
    const body = this.parseBody();
    const missing = this.errorExpr();
    return {
      kind: 'for',
      span: this.spanFrom(keyword.span.start),
      variable: header?.variable ?? '',
      variableSpan: header?.variableSpan ?? open.span,
      start: header?.start ?? missing,
      stop: header?.stop ?? missing,
      inclusive: header?.inclusive ?? false,
      step: header?.step ?? missing,
      body,
    };
  }

  /** The three clauses; undefined after reporting an unsupported form. */
  private parseForHeader(): ForHeader | undefined {
    const init = this.parseForInit();
    if (!init || !this.forSemicolon()) return undefined;
    const cond = this.parseForCondition(init.variable);
    if (!cond || !this.forSemicolon()) return undefined;
    const step = this.parseForUpdate(init.variable);
    return step && { ...init, ...cond, step };
  }

  private unsupportedFor(token: Token | undefined, span: Span, message: string): void {
    this.report(token, 'TV1008', span, message, LOOP_HINT);
  }

  private parseForInit(): ForInit | undefined {
    const t = this.tok;
    const name = this.peek(1);
    const after = this.peek(2);
    if ((this.is('let') || this.is('const')) && isPlainIdent(name)) {
      if (after.kind === 'ident' && (after.text === 'of' || after.text === 'in')) {
        this.report(after, 'TV1006', after.span, `'for...${after.text}' loops are not supported`, LOOP_HINT);
        return undefined;
      }
      if (this.is('=', after)) {
        if (t.text === 'const') {
          this.unsupportedFor(t, t.span, "expected 'let' to declare the loop variable, found 'const'");
          return undefined;
        }
        this.advance();
        this.advance();
        this.advance();
        return { variable: name.text, variableSpan: name.span, start: this.parseExpression() };
      }
    }
    this.unsupportedFor(
      t,
      t.span,
      `expected 'let i = start' to begin the for loop, found ${describeToken(t)}`,
    );
    return undefined;
  }

  private forSemicolon(): boolean {
    if (this.is(';')) {
      this.advance();
      return true;
    }
    const t = this.tok;
    this.unsupportedFor(t, t.span, `expected ';' in the for-loop header, found ${describeToken(t)}`);
    return false;
  }

  private parseForCondition(v: string): Pick<ForHeader, 'stop' | 'inclusive'> | undefined {
    const expected = `expected the condition '${v} < stop' or '${v} <= stop'`;
    if (this.is(';')) {
      this.unsupportedFor(this.tok, this.tok.span, `${expected}, found ';'`);
      return undefined;
    }
    const cond = this.parseExpression();
    if (cond.kind === 'binary' && (cond.op === '<' || cond.op === '<=') && isNamed(cond.left, v)) {
      return { stop: cond.right, inclusive: cond.op === '<=' };
    }
    this.unsupportedFor(undefined, cond.span, `${expected}, found '${clip(this.source.slice(cond.span))}'`);
    return undefined;
  }

  private parseForUpdate(v: string): Expr | undefined {
    const first = this.tok;
    const step = this.parseForStep(v);
    if (step) return step;
    this.skipForHeader();
    const span = first.span.start < this.prevEnd ? this.spanFrom(first.span.start) : first.span;
    const found = this.is(')', first) ? "')'" : `'${clip(this.source.slice(span))}'`;
    this.unsupportedFor(first, span, `expected the update '${v}++' or '${v} += step', found ${found}`);
    return undefined;
  }

  /** `v++`, `++v`, `v += step`, `v = v + step`: the step, or undefined for anything else. */
  private parseForStep(v: string): Expr | undefined {
    const first = this.tok;
    if (this.is('++')) {
      this.advance();
      if (!isPlainIdent(this.tok) || this.tok.text !== v) return undefined;
      this.advance();
      return one(first.span);
    }
    if (!isPlainIdent(first) || first.text !== v) return undefined;
    this.advance();
    const op = this.tok;
    if (this.is('++')) {
      this.advance();
      return one(op.span);
    }
    if (!this.is('+=') && !this.is('=')) return undefined;
    this.advance();
    const value = this.parseExpression();
    if (op.text === '+=') return value;
    return value.kind === 'binary' && value.op === '+' && isNamed(value.left, v) ? value.right : undefined;
  }

  /** Skips to the header's `)` (or a `{` / `}` that shows it is missing), balancing brackets. */
  private skipForHeader(): void {
    let depth = 0;
    while (!this.atEnd) {
      if (depth === 0 && (this.is(')') || this.is('{') || this.is('}'))) return;
      if (this.is('(') || this.is('[')) depth++;
      else if (this.is(')') || this.is(']')) depth--;
      this.advance();
    }
  }

  // ---- expressions ----

  private parseExpression(): Expr {
    return this.parseConditional();
  }

  /** A missing expression: empty, right after the last token read, so it lies inside its parent. */
  private errorExpr(): ErrorExpr {
    return { kind: 'error', span: { start: this.prevEnd, end: this.prevEnd } };
  }

  /** Records a node's height; past MAX_EXPR_HEIGHT the node becomes an error. */
  private node<T extends Expr>(node: T, children: readonly Expr[]): T | ErrorExpr {
    let height = 1;
    for (const child of children) height = Math.max(height, (this.heights.get(child) ?? 1) + 1);
    if (height <= MAX_EXPR_HEIGHT) {
      this.heights.set(node, height);
      return node;
    }
    this.tooDeepAt(node.span, `the expression is too deeply nested: more than ${MAX_EXPR_HEIGHT} levels`);
    return { kind: 'error', span: node.span };
  }

  private parseConditional(): Expr {
    if (!this.enter()) return this.errorExpr();
    try {
      const start = this.tok.span.start;
      const cond = this.parseBinary(1);
      if (this.panicking || !this.is('?')) return cond;
      this.advance();
      const whenTrue = this.parseConditional();
      let whenFalse: Expr;
      if (this.panicking) {
        whenFalse = this.errorExpr();
      } else if (!this.is(':')) {
        this.fail(
          this.tok,
          'TV1004',
          `expected ':' in the conditional expression, found ${describeToken(this.tok)}`,
        );
        whenFalse = this.errorExpr();
      } else {
        this.advance();
        whenFalse = this.parseConditional();
      }
      const span = this.spanFrom(start);
      return this.node({ kind: 'conditional', span, cond, whenTrue, whenFalse }, [cond, whenTrue, whenFalse]);
    } finally {
      this.depth--;
    }
  }

  /** Precedence climbing over the left-associative levels of BINARY_LEVELS. */
  private parseBinary(minPrec: number): Expr {
    const start = this.tok.span.start;
    let left = this.parseExponent();
    while (!this.panicking) {
      const t = this.tok;
      const entry = t.kind === 'punct' ? BINARY.get(t.text) : undefined;
      if (!entry) {
        this.rejectOperator(t);
        break;
      }
      if (entry.prec < minPrec) break;
      this.advance();
      const right = this.parseBinary(entry.prec + 1);
      const span = this.spanFrom(start);
      left = this.node({ kind: 'binary', span, op: entry.op, opSpan: t.span, left, right }, [left, right]);
    }
    return left;
  }

  /** Reports an operator kernels reject (`=>`, `??`, `in`…), if `t` is one. */
  private rejectOperator(t: Token): void {
    const entry =
      t.kind === 'punct'
        ? UNSUPPORTED_OPERATORS.get(t.text)
        : t.kind === 'ident' && (t.text === 'in' || t.text === 'instanceof')
          ? RESERVED.get(t.text)
          : undefined;
    if (entry) this.fail(t, 'TV1006', entry[0], entry[1]);
  }

  /** `a ** b ** c` is `a ** (b ** c)`; read iteratively so long chains cannot exhaust the stack. */
  private parseExponent(): Expr {
    const starts = [this.tok.span.start];
    const operands = [this.parseUnary()];
    const ops: Token[] = [];
    while (!this.panicking && this.is('**')) {
      ops.push(this.advance());
      starts.push(this.tok.span.start);
      operands.push(this.parseUnary());
    }
    for (let k = 0; k < ops.length; k++) {
      const left = operands[k];
      // JavaScript rejects `-a ** b`: it reads as (-a) ** b to some and -(a ** b) to others.
      if (left.kind === 'unary' && !this.parenthesized.has(left)) {
        const message = `a unary '${left.op}' is not allowed on the left of '**'`;
        this.report(undefined, 'TV1006', left.span, message, 'add parentheses: (-a) ** b or -(a ** b)');
      }
    }
    let result = operands[operands.length - 1];
    for (let k = ops.length - 1; k >= 0; k--) {
      const span = { start: starts[k], end: Math.max(starts[k], this.prevEnd) };
      const left = operands[k];
      result = this.node({ kind: 'binary', span, op: '**', opSpan: ops[k].span, left, right: result }, [
        left,
        result,
      ]);
    }
    return result;
  }

  /** Prefix operators, read iteratively (`- - - x`). */
  private parseUnary(): Expr {
    const ops: Token[] = [];
    for (let t = this.tok; t.kind === 'punct' && UNARY.has(t.text); t = this.tok) ops.push(this.advance());
    let expr = this.parsePostfix();
    for (let k = ops.length - 1; k >= 0 && expr.kind !== 'error'; k--) {
      const op = UNARY.get(ops[k].text) ?? '-';
      expr = this.node({ kind: 'unary', span: this.spanFrom(ops[k].span.start), op, operand: expr }, [expr]);
    }
    return expr;
  }

  /** Calls, member accesses and indexing after a primary expression. */
  private parsePostfix(): Expr {
    const start = this.tok.span.start;
    let expr = this.parsePrimary();
    while (!this.panicking) {
      if (this.is('.')) {
        this.advance();
        const name = this.tok;
        if (!isName(name)) {
          this.fail(name, 'TV1004', `expected a property name after '.', found ${describeToken(name)}`);
          break;
        }
        this.advance();
        const span = this.spanFrom(start);
        expr = this.node({ kind: 'member', span, object: expr, name: name.text, nameSpan: name.span }, [
          expr,
        ]);
      } else if (this.is('(')) {
        const args = this.parseList(')', 'the call');
        expr = this.node({ kind: 'call', span: this.spanFrom(start), callee: expr, args }, [expr, ...args]);
      } else if (this.is('[')) {
        const open = this.advance();
        this.opened();
        const index = this.parseExpression();
        this.close(open, ']', 'the index');
        expr = this.node({ kind: 'index', span: this.spanFrom(start), object: expr, index }, [expr, index]);
      } else {
        break;
      }
    }
    return expr;
  }

  /** Comma-separated expressions from the current opener to `closer`; a trailing comma is fine. */
  private parseList(closer: string, what: string): Expr[] {
    const open = this.advance();
    this.opened();
    const items: Expr[] = [];
    while (!this.panicking && !this.is(closer) && !this.atEnd) {
      items.push(this.parseExpression());
      if (this.panicking || !this.is(',')) break;
      this.advance();
    }
    this.close(open, closer, what);
    return items;
  }

  private parsePrimary(): Expr {
    const t = this.tok;
    switch (t.kind) {
      case 'number': {
        this.advance();
        const lit: NumberLit = { kind: 'number', span: t.span, value: t.value, isFloat: t.isFloat };
        return t.suffix === undefined ? lit : { ...lit, suffix: t.suffix };
      }
      case 'interp':
        this.advance();
        return { kind: 'interp', span: t.span, index: t.index };
      case 'ident':
        return this.parseIdent(t);
      case 'string':
        return this.unsupported(t, 'string literals are not supported', 'kernels have no strings');
      case 'invalid':
        this.advance(); // already reported by the lexer
        this.panicking = true;
        return { kind: 'error', span: t.span };
      case 'keyword':
        if (t.text === 'true' || t.text === 'false') {
          this.advance();
          return { kind: 'bool', span: t.span, value: t.text === 'true' };
        }
        break;
      case 'punct':
        return this.parsePunctPrimary(t);
      case 'eof':
        break;
    }
    return this.missingExpression(t);
  }

  private missingExpression(t: Token): ErrorExpr {
    this.fail(t, 'TV1004', `expected an expression, found ${describeToken(t)}`);
    return this.errorExpr();
  }

  private parseIdent(t: Token): Expr {
    const reserved = RESERVED.get(t.text);
    if (reserved) return this.unsupported(t, reserved[0], reserved[1]);
    this.advance();
    return { kind: 'ident', span: t.span, name: t.text };
  }

  private unsupported(t: Token, message: string, hint: string): ErrorExpr {
    this.fail(t, 'TV1006', message, hint);
    this.advance();
    return { kind: 'error', span: t.span };
  }

  private parsePunctPrimary(t: Token): Expr {
    switch (t.text) {
      case '(':
        return this.parseParenthesized();
      case '[': {
        const start = t.span.start;
        const elements = this.parseList(']', 'the array');
        return this.node({ kind: 'array', span: this.spanFrom(start), elements }, elements);
      }
      case '{':
        return this.parseObject();
      case '++':
      case '--':
        return this.unsupported(
          t,
          `'${t.text}' inside an expression is not supported`,
          'write i++ or i += 1 as a statement of its own',
        );
    }
    const rejected = UNSUPPORTED_OPERATORS.get(t.text);
    if (rejected) return this.unsupported(t, rejected[0], rejected[1]);
    return this.missingExpression(t);
  }

  private parseParenthesized(): Expr {
    const open = this.advance();
    if (!this.panicking && this.arrowParens.has(this.i - 1)) {
      this.fail(open, 'TV1006', 'arrow functions are not supported', FN_HINT);
      this.skipParens();
      return { kind: 'error', span: this.spanFrom(open.span.start) };
    }
    this.opened();
    const inner = this.parseExpression();
    if (this.close(open, ')', 'the parenthesized expression')) this.parenthesized.add(inner);
    return inner;
  }

  /** Consumes tokens through the `)` matching the `(` just read. */
  private skipParens(): void {
    let depth = 0;
    while (!this.atEnd) {
      const t = this.advance();
      if (this.is('(', t)) depth++;
      else if (this.is(')', t) && depth-- === 0) return;
    }
  }

  /** `{ key: value, short }`; only reached in expression position. */
  private parseObject(): Expr {
    const open = this.advance();
    this.opened();
    const props: ObjectProp[] = [];
    while (!this.panicking && !this.is('}') && !this.atEnd) {
      const prop = this.parseProp();
      if (!prop) break;
      props.push(prop);
      if (this.panicking || !this.is(',')) break;
      this.advance();
    }
    this.close(open, '}', 'the object');
    const values = props.map((p) => p.value);
    return this.node({ kind: 'object', span: this.spanFrom(open.span.start), props }, values);
  }

  private parseProp(): ObjectProp | undefined {
    const key = this.tok;
    if (!isName(key)) {
      this.fail(key, 'TV1004', `expected a property name in the object, found ${describeToken(key)}`);
      return undefined;
    }
    this.advance();
    if (this.is(':')) {
      this.advance();
      return { key: key.text, keySpan: key.span, value: this.parseExpression() };
    }
    // Shorthand `{ mask }` means `{ mask: mask }`.
    if (isPlainIdent(key) && (this.is(',') || this.is('}'))) {
      return { key: key.text, keySpan: key.span, value: { kind: 'ident', span: key.span, name: key.text } };
    }
    this.fail(
      this.tok,
      'TV1004',
      `expected ':' after the property '${key.text}', found ${describeToken(this.tok)}`,
    );
    return undefined;
  }
}

// ---- token classes ----

function findArrowParens(tokens: readonly Token[]): Set<number> {
  const open: number[] = [];
  const found = new Set<number>();
  for (let k = 0; k < tokens.length; k++) {
    const t = tokens[k];
    if (t.kind !== 'punct') continue;
    if (t.text === '(') open.push(k);
    else if (t.text === ')') {
      const start = open.pop();
      const next = tokens[k + 1];
      if (start !== undefined && next?.kind === 'punct' && next.text === '=>') found.add(start);
    }
  }
  return found;
}

/** The literal 1 that `i++` adds, spanning the operator. */
function one(span: Span): NumberLit {
  return { kind: 'number', span, value: 1, isFloat: false };
}

/** An identifier usable as a variable name. */
function isPlainIdent(t: Token): boolean {
  return t.kind === 'ident' && !RESERVED.has(t.text);
}

/** Any word, reserved or not, as JavaScript allows after '.' and as an object key. */
function isName(t: Token): boolean {
  return t.kind === 'ident' || t.kind === 'keyword' || (t.kind === 'number' && /^[A-Za-z]/.test(t.text));
}

function isNamed(e: Expr, name: string): boolean {
  return e.kind === 'ident' && e.name === name;
}

function startsExpression(t: Token): boolean {
  switch (t.kind) {
    case 'punct':
      return ['(', '[', '{', '-', '+', '!', '~', '++', '--', '...'].includes(t.text);
    case 'keyword':
      return t.text === 'true' || t.text === 'false';
    case 'eof':
      return false;
    default:
      return true;
  }
}

/** Where sync() may stop when the token begins a line. */
function startsStatement(t: Token): boolean {
  if (t.kind === 'keyword') return STATEMENT_KEYWORDS.has(t.text);
  if (t.kind === 'punct') return t.text === '++' || t.text === '--';
  return t.kind === 'ident' || t.kind === 'interp';
}

function clip(text: string): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length > 32 ? `${flat.slice(0, 32)}…` : flat;
}
