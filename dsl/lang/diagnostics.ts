// Diagnostics as data: every code the compiler can report, with a title (the docs list is checked
// against this table), and the Diagnostic record the parser and checker produce.
import type { Span } from './ast.js';
import type { SourceText } from './source.js';

export const DIAGNOSTIC_CODES = {
  // TV1xxx: syntax
  TV1001: 'unexpected character',
  TV1002: 'unterminated comment',
  TV1003: 'malformed number literal',
  TV1004: 'unexpected token',
  TV1005: 'missing semicolon',
  TV1006: 'unsupported syntax',
  TV1007: 'invalid assignment target',
  TV1008: 'unsupported for-loop form',
  TV1009: 'unclosed bracket',
  // TV2xxx: names, types and shapes
  TV2001: 'unknown name',
  TV2002: 'not callable',
  TV2003: 'wrong number of arguments',
  TV2004: 'wrong kind of argument',
  TV2005: 'dtype mismatch',
  TV2006: 'shapes do not broadcast',
  TV2007: 'tile shape is not a compile-time constant',
  TV2008: 'invalid tile shape',
  TV2009: 'axis out of range',
  TV2010: 'param access violation',
  TV2011: 'invalid assignment',
  TV2012: 'assignment changes the type',
  TV2013: 'condition must be a scalar',
  TV2014: 'operation not defined for this dtype',
  TV2015: 'unknown method or property',
  TV2016: 'invalid option',
  TV2017: 'wrong number of offsets',
  TV2018: 'shape rule violated',
  TV2019: 'name declared twice',
  TV2020: 'invalid return',
  TV2021: 'invalid grid or threads',
  TV2022: 'shared tile used as a value',
  TV2023: 'invalid loop bounds',
  TV2024: 'not a dtype',
  TV2025: 'value out of range',
  // TV3xxx: signature, interpolations and consts
  TV3001: 'invalid interpolation',
  TV3002: 'invalid signature',
  TV3003: 'invalid const',
  TV3004: 'name conflict',
  // TV4xxx: internal
  TV4001: 'internal compiler error',
} as const;

export type DiagnosticCode = keyof typeof DIAGNOSTIC_CODES;

export interface Diagnostic {
  readonly code: DiagnosticCode;
  readonly severity: 'error' | 'warning';
  readonly message: string;
  readonly span: Span;
  /** 1-based, inside the template. */
  readonly line: number;
  readonly column: number;
  readonly hint?: string;
  /** The kernel or fn the diagnostic belongs to. */
  readonly source?: string;
}

/** Collects diagnostics for one source text. */
export class DiagnosticBag {
  readonly items: Diagnostic[] = [];
  private readonly seen = new Set<string>();

  constructor(
    readonly source: SourceText,
    readonly owner?: string,
  ) {}

  error(code: DiagnosticCode, span: Span, message: string, hint?: string): void {
    this.add('error', code, span, message, hint);
  }

  warning(code: DiagnosticCode, span: Span, message: string, hint?: string): void {
    this.add('warning', code, span, message, hint);
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === 'error');
  }

  private add(
    severity: 'error' | 'warning',
    code: DiagnosticCode,
    span: Span,
    message: string,
    hint?: string,
  ): void {
    // A fn inlined at several call sites reports the same problem in its body once.
    const key = `${severity} ${code} ${span.start} ${span.end} ${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const { line, column } = this.source.position(span.start);
    this.items.push({
      code,
      severity,
      message,
      span,
      line,
      column,
      ...(hint ? { hint } : {}),
      ...(this.owner ? { source: this.owner } : {}),
    });
  }
}

/** `name:line:col code severity: message` plus an excerpt with a caret and the hint. */
export function formatDiagnostic(d: Diagnostic, source?: SourceText): string {
  const where = `${d.source ?? 'kernel'}:${d.line}:${d.column}`;
  const lines = [`${where} ${d.code} ${d.severity}: ${d.message}`];
  if (source) {
    const text = source.lineText(d.span.start);
    const width = Math.max(1, Math.min(d.span.end - d.span.start, text.length - d.column + 1));
    lines.push(`  | ${text}`, `  | ${' '.repeat(d.column - 1)}${'^'.repeat(width)}`);
  }
  if (d.hint) lines.push(`  hint: ${d.hint}`);
  return lines.join('\n');
}
