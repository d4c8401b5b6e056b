// A kernel's source text: the template's string parts joined, each `${…}` standing as a
// placeholder. Maps offsets to line:column (inside the template) and to (part, offset in part),
// which the build plugin turns into positions in the host .ts file.
import type { Span } from './ast.js';

export class SourceText {
  readonly text: string;
  /** Offset in `text` where each template part begins. */
  readonly partStarts: readonly number[];
  /** Offset in `text` of each placeholder. */
  readonly interpStarts: readonly number[];
  private readonly lineStarts: readonly number[];

  constructor(readonly parts: readonly string[]) {
    const partStarts: number[] = [];
    const interpStarts: number[] = [];
    let text = '';
    for (const [i, part] of parts.entries()) {
      partStarts.push(text.length);
      text += part;
      if (i < parts.length - 1) {
        interpStarts.push(text.length);
        text += placeholder(i);
      }
    }
    this.text = text;
    this.partStarts = partStarts;
    this.interpStarts = interpStarts;
    const lineStarts = [0];
    for (let i = 0; i < text.length; i++) if (text[i] === '\n') lineStarts.push(i + 1);
    this.lineStarts = lineStarts;
  }

  /** 1-based line and column of an offset. */
  position(offset: number): { line: number; column: number } {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo] + 1 };
  }

  /** Which template part holds an offset, and where in it (placeholders map to their start). */
  partOffset(offset: number): { part: number; offset: number } {
    let part = 0;
    while (part + 1 < this.partStarts.length && this.partStarts[part + 1] <= offset) part++;
    return { part, offset: Math.min(offset - this.partStarts[part], this.parts[part].length) };
  }

  slice(span: Span): string {
    return this.text.slice(span.start, span.end);
  }

  /** The source line holding `offset`, for excerpts under a diagnostic. */
  lineText(offset: number): string {
    const { line } = this.position(offset);
    const start = this.lineStarts[line - 1];
    const end = line < this.lineStarts.length ? this.lineStarts[line] - 1 : this.text.length;
    return this.text.slice(start, end);
  }
}

/** How an interpolation appears in the joined text (and so in excerpts). */
export function placeholder(index: number): string {
  return `\${${index}}`;
}

/**
 * The raw text parts of a tagged template (raw, so columns match what the user wrote). A plain
 * string array is accepted too, for tools that build kernels from text.
 */
export function templateParts(strings: TemplateStringsArray | readonly string[], tag: string): string[] {
  const raw = (strings as TemplateStringsArray | undefined)?.raw;
  const parts = Array.isArray(raw) ? raw : strings;
  if (!Array.isArray(parts) || !parts.every((p) => typeof p === 'string')) {
    throw new TypeError(`${tag}(signature) returns a template tag: write ${tag}({ ... })\`...\``);
  }
  return [...parts];
}
