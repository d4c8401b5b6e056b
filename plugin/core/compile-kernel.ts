// Compiles one statically evaluated kernel for every const combination and both targets, and
// maps its diagnostics back to the .ts file (file:line:col of the offending token).
import { createHash } from 'node:crypto';
import type { WgslArtifact } from '../../dsl/artifact.js';
import { compileWasm } from '../../dsl/backend/wasm/index.js';
import { compileWgsl } from '../../dsl/backend/wgsl/index.js';
import { type Diagnostic, Kernel, type KernelSignature } from '../../dsl/index.js';
import type { SourceText } from '../../dsl/lang/source.js';
import type { PrecompiledKernelData, PrecompiledVariant } from '../../runtime/precompiled.js';
import { filePosition, type TemplateText } from './template.js';

/** A problem at a place in a .ts file. */
export interface Located {
  readonly severity: 'error' | 'warning';
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
  readonly file: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  /** The source line, for excerpts. */
  readonly lineText: string;
  readonly length: number;
}

/**
 * WGSL is compiled once per feature set a device may offer, the most capable first (the runtime
 * takes the first whose `features` the device has); identical results are kept once.
 */
const WGSL_FEATURE_SETS: readonly ReadonlySet<string>[] = [
  new Set(['shader-f16', 'subgroups', 'packed_4x8_integer_dot_product']),
  new Set(['shader-f16', 'subgroups']),
  new Set(['subgroups']),
  new Set(['shader-f16']),
  new Set(),
];

export interface KernelBuild {
  readonly data?: PrecompiledKernelData;
  readonly diagnostics: readonly Located[];
  /** Milliseconds spent compiling (all variants, both targets). */
  readonly ms: number;
}

/**
 * Compiles the kernel. `templates` maps each source text (the kernel's and every fn's) to its
 * template in the file, for positions.
 */
export function buildKernel(
  signature: KernelSignature,
  text: TemplateText,
  values: readonly unknown[],
  fnTemplates: ReadonlyMap<unknown, TemplateText>,
  origin: string,
  /** false: only check (parse, type-check, lower) every variant, as `tilevm check` does. */
  targets = true,
): KernelBuild {
  const started = performance.now();
  const k = new Kernel(signature, text.parts, values);
  const templates = new Map<unknown, TemplateText>(fnTemplates);
  templates.set(k.source, text);
  const diagnostics: Located[] = [];
  const seen = new Set<string>();
  const variants: PrecompiledVariant[] = [];
  let failed = false;
  for (const consts of k.variants()) {
    const result = k.check(consts);
    for (const d of result.diagnostics) {
      const located = locate(d, result.sources.get(d.source ?? k.name), templates, text);
      const key = `${located.file}:${located.line}:${located.column} ${located.code} ${located.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      diagnostics.push(located);
    }
    if (!result.program) {
      failed = true;
      continue;
    }
    if (!targets) continue;
    // The baseline module, with a relaxed-SIMD variant where it has relaxed ops (docs/wasm-backend.md).
    const wasm = compileWasm(result.program, { relaxedSimd: 'variant' });
    const wgsl: WgslArtifact[] = [];
    for (const features of WGSL_FEATURE_SETS) {
      // One set names both kinds: compileWgsl reads device features and language features apart.
      const artifact = compileWgsl(result.program, { features, languageFeatures: features });
      if (!wgsl.some((a) => a.hash === artifact.hash)) wgsl.push(artifact);
    }
    variants.push({ consts: result.consts, wasm, wgsl });
  }
  const ms = performance.now() - started;
  if (failed || variants.length === 0 || !targets) return { diagnostics, ms };
  const hash = createHash('sha256')
    .update(variants.map((v) => [v.wasm.hash, ...v.wgsl.map((a) => a.hash)].join(',')).join(';'))
    .digest('hex')
    .slice(0, 16);
  const data: PrecompiledKernelData = {
    format: 'tilevm-precompiled',
    version: 1,
    name: k.name,
    hash,
    origin,
    variants,
  };
  return { data, diagnostics, ms };
}

/** A diagnostic's place in the .ts file: its template part and offset, moved to file coordinates. */
function locate(
  d: Diagnostic,
  source: SourceText | undefined,
  templates: ReadonlyMap<unknown, TemplateText>,
  kernelText: TemplateText,
): Located {
  const template = (source && templates.get(source)) ?? kernelText;
  let offset = template.starts[0];
  if (source) {
    const { part, offset: inPart } = source.partOffset(d.span.start);
    offset = (template.starts[part] ?? template.starts[0]) + inPart;
  }
  const { line, column } = filePosition(template.file, offset);
  const fileText = template.file.getFullText();
  const lineStart = fileText.lastIndexOf('\n', offset - 1) + 1;
  const lineEnd = fileText.indexOf('\n', offset);
  return {
    severity: d.severity,
    code: d.code,
    message: d.message,
    ...(d.hint ? { hint: d.hint } : {}),
    file: template.file.getFilePath(),
    line,
    column,
    lineText: fileText.slice(lineStart, lineEnd === -1 ? undefined : lineEnd).replace(/\r$/, ''),
    length: Math.max(1, d.span.end - d.span.start),
  };
}

/** `file:line:col code severity: message`, an excerpt with a caret, and the hint. */
export function formatLocated(p: Located, relativeTo?: string): string {
  const file =
    relativeTo && p.file.startsWith(`${relativeTo}/`) ? p.file.slice(relativeTo.length + 1) : p.file;
  const width = Math.max(1, Math.min(p.length, p.lineText.length - p.column + 1));
  const lines = [
    `${file}:${p.line}:${p.column} ${p.code} ${p.severity}: ${p.message}`,
    `  | ${p.lineText}`,
    `  | ${' '.repeat(p.column - 1)}${'^'.repeat(width)}`,
  ];
  if (p.hint) lines.push(`  hint: ${p.hint}`);
  return lines.join('\n');
}
