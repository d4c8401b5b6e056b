// A tagged template's raw text parts and where each begins in its .ts file, so an offset inside
// the kernel source (SourceText.partOffset) maps back to file:line:column.
import { Node, type SourceFile, type TaggedTemplateExpression } from 'ts-morph';

export interface TemplateText {
  readonly file: SourceFile;
  /** Raw text of each part, as the template tag receives it in `strings.raw`. */
  readonly parts: readonly string[];
  /** File offset where each part's text begins. */
  readonly starts: readonly number[];
  /** The interpolated expressions, in order. */
  readonly expressions: readonly Node[];
}

export function templateText(node: TaggedTemplateExpression): TemplateText {
  const template = node.getTemplate();
  const file = node.getSourceFile();
  if (Node.isNoSubstitutionTemplateLiteral(template)) {
    return {
      file,
      parts: [rawOf(template.getText(), 1, 1)],
      starts: [template.getStart() + 1],
      expressions: [],
    };
  }
  const head = template.getHead();
  const parts = [rawOf(head.getText(), 1, 2)];
  const starts = [head.getStart() + 1];
  const expressions: Node[] = [];
  for (const span of template.getTemplateSpans()) {
    expressions.push(span.getExpression());
    const literal = span.getLiteral();
    const closing = Node.isTemplateTail(literal) ? 1 : 2;
    parts.push(rawOf(literal.getText(), 1, closing));
    starts.push(literal.getStart() + 1);
  }
  return { file, parts, starts, expressions };
}

/** The raw text between the delimiters; CRLF reads as LF, as in `strings.raw`. */
function rawOf(text: string, open: number, close: number): string {
  return text.slice(open, text.length - close).replaceAll('\r\n', '\n');
}

/** 1-based line and column of a file offset. */
export function filePosition(file: SourceFile, offset: number): { line: number; column: number } {
  const { line, column } = file.getLineAndColumnAtPos(offset);
  return { line, column };
}
