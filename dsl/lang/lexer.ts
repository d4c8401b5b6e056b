// The kernel language's lexer: turns a SourceText into tokens. It never throws: bad characters,
// malformed numbers and unterminated comments are reported and lexing goes on.
import { dtypeByName } from '../dtype.js';
import type { Span } from './ast.js';
import type { DiagnosticCode } from './diagnostics.js';
import { placeholder, type SourceText } from './source.js';

/** Where the lexer and parser report errors (a DiagnosticBag fits). */
export interface DiagnosticSink {
  error(code: DiagnosticCode, span: Span, message: string, hint?: string): void;
}

interface TokenBase {
  readonly span: Span;
  /** The token's source text (for an interpolation, its placeholder). */
  readonly text: string;
  /** A line break (possibly inside a comment) lies between the previous token and this one. */
  readonly newlineBefore: boolean;
}
export interface NumberToken extends TokenBase {
  readonly kind: 'number';
  readonly value: number;
  readonly isFloat: boolean;
  readonly suffix?: string;
}
export interface InterpToken extends TokenBase {
  readonly kind: 'interp';
  readonly index: number;
}
/**
 * ident: any identifier, including reserved words the language rejects (`while`, `new`);
 * keyword: one of KEYWORDS; punct: an operator or bracket; string: a string literal (unsupported,
 * the parser reports it); invalid: a run of unexpected characters (already reported); eof: the end.
 */
export interface PlainToken extends TokenBase {
  readonly kind: 'ident' | 'keyword' | 'punct' | 'string' | 'invalid' | 'eof';
}
export type Token = NumberToken | InterpToken | PlainToken;

export const KEYWORDS: ReadonlySet<string> = new Set([
  'const',
  'let',
  'for',
  'if',
  'else',
  'return',
  'true',
  'false',
]);

// Longest first, so the scan can take the first match.
const PUNCTUATORS: readonly string[] = [
  ...['>>>='],
  ...['...', '===', '!==', '**=', '<<=', '>>=', '>>>', '&&=', '||=', '??='],
  ...['=>', '==', '!=', '<=', '>=', '&&', '||', '??', '?.', '++', '--', '+=', '-=', '*=', '/=', '%='],
  ...['&=', '|=', '^=', '<<', '>>', '**'],
  ...['(', ')', '[', ']', '{', '}', ',', ';', ':', '?', '.', '+', '-', '*', '/', '%', '<', '>', '='],
  ...['&', '|', '^', '!', '~'],
];
const PUNCT_CHARS = new Set(PUNCTUATORS.map((p) => p[0]));

const isDigit = (c: string): boolean => c >= '0' && c <= '9';
const isIdentStart = (c: string): boolean =>
  (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_' || c === '$';
const isIdentChar = (c: string): boolean => isIdentStart(c) || isDigit(c);
const isHexDigit = (c: string): boolean => isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
const isBinDigit = (c: string): boolean => c === '0' || c === '1';
const isLineBreak = (c: string): boolean => c === '\n' || c === '\r' || c === '\u2028' || c === '\u2029';
const isSpace = (c: string): boolean =>
  c === ' ' || c === '\t' || isLineBreak(c) || (c > '~' && /\s/.test(c)) || c === '\v' || c === '\f';

/** Splits a source text into tokens, ending with one eof token; reports lexical errors to `sink`. */
export function tokenize(source: SourceText, sink: DiagnosticSink): Token[] {
  return new Lexer(source, sink).run();
}

/** How a token is named in messages: `';'`, `'foo'`, `end of input`. */
export function describeToken(token: Token): string {
  if (token.kind === 'eof') return 'end of input';
  if (token.kind === 'string') return 'a string literal';
  const text = token.text.length > 24 ? `${token.text.slice(0, 24)}…` : token.text;
  return `'${text}'`;
}

/** A character for a message: itself when printable, else its code point. */
export function describeChar(c: string): string {
  const code = c.codePointAt(0) ?? 0;
  if (/^[\p{L}\p{N}\p{P}\p{S}]$/u.test(c)) return `'${c}'`;
  return `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

interface Digits {
  readonly end: number;
  readonly ok: boolean;
}

class Lexer {
  private readonly text: string;
  private readonly tokens: Token[] = [];
  private pos = 0;
  private nextInterp = 0;
  private newline = false;

  constructor(
    private readonly source: SourceText,
    private readonly sink: DiagnosticSink,
  ) {
    this.text = source.text;
  }

  run(): Token[] {
    for (;;) {
      this.skipTrivia();
      // Placeholders swallowed by a comment or string are simply skipped.
      while (
        this.nextInterp < this.source.interpStarts.length &&
        this.source.interpStarts[this.nextInterp] < this.pos
      ) {
        this.nextInterp++;
      }
      if (this.pos >= this.text.length) break;
      this.scanToken();
    }
    this.pos = this.text.length;
    this.plain('eof', this.text.length);
    return this.tokens;
  }

  /** Where the current token must stop: the next placeholder, or the end of the text. */
  private get limit(): number {
    return this.source.interpStarts[this.nextInterp] ?? this.text.length;
  }

  // Tokens are built as plain literals, one shape per kind: spreading field objects was much slower.
  private plain(kind: PlainToken['kind'], start: number): void {
    const token: PlainToken = {
      kind,
      span: this.spanFrom(start),
      text: this.slice(start),
      newlineBefore: this.newline,
    };
    this.emit(token);
  }

  private number(start: number, value: number, isFloat: boolean, suffix?: string): void {
    const span = this.spanFrom(start);
    const text = this.slice(start);
    const newlineBefore = this.newline;
    const token: NumberToken =
      suffix === undefined
        ? { kind: 'number', span, text, newlineBefore, value, isFloat }
        : { kind: 'number', span, text, newlineBefore, value, isFloat, suffix };
    this.emit(token);
  }

  private spanFrom(start: number): Span {
    return { start, end: this.pos };
  }

  private slice(start: number): string {
    return this.text.slice(start, this.pos);
  }

  private emit(token: Token): void {
    this.tokens.push(token);
    this.newline = false;
  }

  private skipTrivia(): void {
    const text = this.text;
    while (this.pos < text.length) {
      const c = text[this.pos];
      if (isSpace(c)) {
        if (isLineBreak(c)) this.newline = true;
        this.pos++;
      } else if (c === '/' && text[this.pos + 1] === '/') {
        while (this.pos < text.length && !isLineBreak(text[this.pos])) this.pos++;
      } else if (c === '/' && text[this.pos + 1] === '*') {
        this.skipBlockComment();
      } else {
        return;
      }
    }
  }

  private skipBlockComment(): void {
    const start = this.pos;
    const close = this.text.indexOf('*/', start + 2);
    const end = close < 0 ? this.text.length : close + 2;
    for (let i = start; i < end; i++) if (isLineBreak(this.text[i])) this.newline = true;
    this.pos = end;
    if (close < 0) {
      this.sink.error(
        'TV1002',
        { start, end: start + 2 },
        "unterminated comment: expected '*/' before the end of input",
        "close the comment with '*/'",
      );
    }
  }

  private scanToken(): void {
    const start = this.pos;
    if (start === this.limit) {
      this.pos += placeholder(this.nextInterp).length;
      const token: InterpToken = {
        kind: 'interp',
        span: this.spanFrom(start),
        text: this.slice(start),
        newlineBefore: this.newline,
        index: this.nextInterp,
      };
      this.emit(token);
      this.nextInterp++;
      return;
    }
    const c = this.text[start];
    if (isDigit(c) || (c === '.' && start + 1 < this.limit && isDigit(this.text[start + 1])))
      this.scanNumber();
    else if (isIdentStart(c)) this.scanWord();
    else if (c === "'" || c === '"' || c === '`') this.scanString(c);
    else if (PUNCT_CHARS.has(c)) this.scanPunct();
    else this.scanInvalid();
  }

  private scanWord(): void {
    const start = this.pos;
    while (this.pos < this.limit && isIdentChar(this.text[this.pos])) this.pos++;
    const word = this.text.slice(start, this.pos);
    if (word === 'Infinity' || word === 'NaN') {
      this.number(start, word === 'NaN' ? Number.NaN : Number.POSITIVE_INFINITY, true);
    } else {
      this.plain(KEYWORDS.has(word) ? 'keyword' : 'ident', start);
    }
  }

  private scanPunct(): void {
    const start = this.pos;
    const rest = this.text.slice(start, Math.min(start + 4, this.limit));
    let p = PUNCTUATORS.find((q) => rest.startsWith(q)) ?? rest[0];
    // `a?.5:b` is a conditional, as in JavaScript.
    if (p === '?.' && isDigit(this.text[start + 2] ?? '')) p = '?';
    this.pos += p.length;
    this.plain('punct', start);
  }

  /** A string literal (unsupported): skipped whole so that its contents cause no more errors. */
  private scanString(quote: string): void {
    const start = this.pos;
    const text = this.text;
    this.pos++;
    while (this.pos < text.length && text[this.pos] !== quote) {
      if (quote !== '`' && isLineBreak(text[this.pos])) break;
      this.pos += text[this.pos] === '\\' ? 2 : 1;
    }
    if (text[this.pos] === quote) this.pos++;
    this.pos = Math.min(this.pos, text.length);
    this.plain('string', start);
  }

  /** A run of characters that start no token, reported once. */
  private scanInvalid(): void {
    const start = this.pos;
    const text = this.text;
    do {
      this.pos += (text.codePointAt(this.pos) ?? 0) > 0xffff ? 2 : 1;
    } while (this.pos < this.limit && !this.startsToken(text[this.pos]));
    const chars = [...text.slice(start, this.pos)];
    const printable = chars.every((c) => describeChar(c).startsWith("'"));
    const message =
      chars.length > 1 && printable
        ? `unexpected characters '${chars.join('')}'`
        : `unexpected character ${describeChar(chars[0])}`;
    this.sink.error('TV1001', { start, end: this.pos }, message);
    this.plain('invalid', start);
  }

  private startsToken(c: string): boolean {
    return isSpace(c) || isIdentChar(c) || PUNCT_CHARS.has(c) || c === "'" || c === '"' || c === '`';
  }

  // ---- numbers ----

  private scanNumber(): void {
    const text = this.text;
    const radix = text[this.pos] === '0' ? (text[this.pos + 1] ?? '').toLowerCase() : '';
    if (radix === 'x' || radix === 'b') this.scanRadixNumber(radix === 'x' ? isHexDigit : isBinDigit);
    else this.scanDecimal();
  }

  /** Reads digits with `_` separators; a separator must sit between two digits. */
  private digits(from: number, isDigitChar: (c: string) => boolean): Digits {
    let end = from;
    let ok = true;
    while (end < this.limit && (isDigitChar(this.text[end]) || this.text[end] === '_')) {
      if (this.text[end] === '_' && (end === from || this.text[end - 1] === '_')) ok = false;
      end++;
    }
    if (end === from || this.text[end - 1] === '_') ok = false;
    return { end, ok };
  }

  private scanRadixNumber(isDigitChar: (c: string) => boolean): void {
    const start = this.pos;
    const body = this.digits(start + 2, isDigitChar);
    this.pos = body.end;
    const prefix = this.text.slice(start, start + 2);
    if (!body.ok) {
      const why =
        body.end === start + 2 ? `expected digits after '${prefix}'` : "'_' must sit between digits";
      this.malformed(start, why);
      return;
    }
    const digits = this.text.slice(start + 2, body.end).replaceAll('_', '');
    // Hex digits include a-f, so only integer suffixes (u8, i32) can follow a hex literal.
    const intSuffix = (suffix: string) => suffix[0] === 'u' || suffix[0] === 'i';
    this.finishNumber(start, Number(`${prefix.toLowerCase()}${digits}`), false, intSuffix);
  }

  private scanDecimal(): void {
    const start = this.pos;
    const text = this.text;
    let ok = true;
    let isFloat = false;
    let end = start;
    if (text[end] !== '.') ({ end, ok } = this.digits(end, isDigit));
    if (text[end] === '.' && end < this.limit) {
      isFloat = true;
      end++;
      if (isDigit(text[end] ?? '') && end < this.limit) {
        const frac = this.digits(end, isDigit);
        ok &&= frac.ok;
        end = frac.end;
      }
    }
    const exponent = this.exponentLength(end);
    if (exponent > 0) {
      const exp = this.digits(end + exponent, isDigit);
      isFloat = true;
      ok &&= exp.ok;
      end = exp.end;
    }
    this.pos = end;
    if (!ok) {
      this.malformed(start, "'_' must sit between digits");
      return;
    }
    this.finishNumber(start, Number(text.slice(start, end).replaceAll('_', '')), isFloat, () => true);
  }

  /** Length of `e`, `e+`, `e-` when an exponent's digits follow; 0 otherwise. */
  private exponentLength(at: number): number {
    const text = this.text;
    if (at >= this.limit || (text[at] !== 'e' && text[at] !== 'E')) return 0;
    const sign = text[at + 1] === '+' || text[at + 1] === '-' ? 1 : 0;
    return at + 1 + sign < this.limit && isDigit(text[at + 1 + sign] ?? '') ? 1 + sign : 0;
  }

  /** Reads what is glued to the digits: nothing, a dtype suffix, or junk (malformed). */
  private finishNumber(
    start: number,
    value: number,
    isFloat: boolean,
    suffixAllowed: (s: string) => boolean,
  ): void {
    const tailStart = this.pos;
    while (this.pos < this.limit && isIdentChar(this.text[this.pos])) this.pos++;
    // `1e+` / `1e-` with no digits: take the sign so the literal is reported whole.
    if (/^[eE]$/.test(this.text.slice(tailStart, this.pos)) && /[+-]/.test(this.text[this.pos] ?? ''))
      this.pos++;
    const tail = this.text.slice(tailStart, this.pos);
    if (tail === '') this.number(start, value, isFloat);
    else if (dtypeByName(tail) && suffixAllowed(tail)) this.number(start, value, isFloat, tail);
    else if (/^[eE][+-]?$/.test(tail)) this.malformed(start, `expected digits after '${tail}'`);
    else this.malformed(start, `'${tail}' is not a dtype suffix`);
  }

  private malformed(start: number, why: string): void {
    // Swallow the rest of the glued word so it is reported once.
    while (this.pos < this.limit && isIdentChar(this.text[this.pos])) this.pos++;
    const literal = this.text.slice(start, this.pos);
    this.sink.error(
      'TV1003',
      { start, end: this.pos },
      `malformed number literal '${literal}': ${why}`,
      'write digits, then optionally a dtype name right after them, e.g. 255u8 or 1.5f16',
    );
    this.number(start, 0, false);
  }
}
