// Device functions: `fn({ name, params, returns })`body``, interpolated into kernels and inlined
// at each call, so one fn works on scalars and on tiles of any shape.

import type { Program } from './ast.js';
import { DiagnosticBag } from './diagnostics.js';
import { parse } from './parser.js';
import type { FnSignature } from './signature.js';
import { SourceText, templateParts } from './source.js';

export class DeviceFn {
  readonly source: SourceText;
  private parsed?: { readonly ast: Program; readonly bag: DiagnosticBag };

  constructor(
    readonly signature: FnSignature,
    parts: readonly string[],
    readonly values: readonly unknown[],
  ) {
    this.source = new SourceText(parts);
  }

  /** The parsed body and its syntax diagnostics (parsed once). */
  parse(): { readonly ast: Program; readonly bag: DiagnosticBag } {
    if (!this.parsed) {
      const bag = new DiagnosticBag(this.source, this.signature.name);
      this.parsed = { ast: parse(this.source, bag), bag };
    }
    return this.parsed;
  }
}

export function fn(
  signature: FnSignature,
): (strings: TemplateStringsArray, ...values: unknown[]) => DeviceFn {
  return (strings, ...values) => new DeviceFn(signature, templateParts(strings, 'fn'), values);
}
