// One build's kernel transformer: a single ts-morph Project reused for every file (watch mode
// updates only the files that changed), finding tilevm kernel templates, compiling the static
// ones and replacing them with precompiled artifacts (magic-string keeps the source map).
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import MagicString, { type SourceMap } from 'magic-string';
import {
  type CallExpression,
  Node,
  Project,
  type SourceFile,
  SyntaxKind,
  type TaggedTemplateExpression,
  ts,
} from 'ts-morph';
import { Kernel, type KernelSignature } from '../../dsl/index.js';
import { buildKernel, type Located } from './compile-kernel.js';
import { NotStatic, StaticEvaluator } from './evaluate.js';
import { filePosition, templateText } from './template.js';
import { isTilevmFile, templateTagKind } from './tilevm-symbols.js';

export interface TilevmPluginOptions {
  /** Kernels that cannot be evaluated at build time fail the build instead of staying JIT. */
  readonly strict?: boolean;
  /** tsconfig.json for module resolution (default: the nearest one above the first file, if any). */
  readonly tsconfig?: string;
  /** The module precompiled kernels import their loader from (default 'tilevm/runtime'). */
  readonly runtimeModule?: string;
  /** Files to transform (default: .ts, .tsx, .mts, .js, .mjs outside node_modules). */
  readonly include?: RegExp;
  /** Called with each compiled kernel (names, positions and compile times), e.g. for reports. */
  readonly onKernel?: (report: KernelReport) => void;
}

export interface KernelReport {
  readonly name: string;
  readonly file: string;
  readonly line: number;
  readonly column: number;
  readonly variants: number;
  readonly ms: number;
  readonly hash: string;
}

export interface TransformResult {
  readonly code: string;
  readonly map: SourceMap;
  readonly errors: readonly Located[];
  readonly warnings: readonly Located[];
  readonly kernels: readonly KernelReport[];
  /** Kernel templates found in the file (compiled, JIT or failed). */
  readonly found: number;
  /** The compiled kernels' data, in file order (the CLI bundles these). */
  readonly compiled: readonly { readonly report: KernelReport; readonly data: unknown }[];
}

export const DEFAULT_INCLUDE = /\.(m?[jt]sx?|cts)$/;
const PRECOMPILED = '__tilevm_precompiled';
const PRECOMPILED_FN = '__tilevm_precompiledFn';

/** A kernel that stays JIT: a warning (an error with `strict`) naming why and where. */
function notStaticDiagnostic(e: NotStatic, severity: 'error' | 'warning', kernelName: string): Located {
  const file = e.node.getSourceFile();
  const { line, column } = filePosition(file, e.node.getStart());
  const fileText = file.getFullText();
  const start = e.node.getStart();
  const lineStart = fileText.lastIndexOf('\n', start - 1) + 1;
  const lineEnd = fileText.indexOf('\n', start);
  return {
    severity,
    code: 'TVP001',
    message: `kernel ${kernelName} is not static, so it is compiled at run time (JIT): ${e.reason}`,
    hint: 'build-time kernels take literals and consts (imported ones too) in the signature and each interpolation; `strict: true` makes this an error',
    file: file.getFilePath(),
    line,
    column,
    lineText: fileText.slice(lineStart, lineEnd === -1 ? undefined : lineEnd),
    length: Math.max(1, Math.min(e.node.getWidth(), 80)),
  };
}

export class KernelTransformer {
  private project: Project | undefined;
  private readonly checkOnly: boolean;

  /**
   * `tools.project`: a Project to reuse (the CLI's, loaded from a tsconfig); `tools.checkOnly`:
   * check kernels without compiling them for the targets (nothing is replaced).
   */
  constructor(
    readonly options: TilevmPluginOptions = {},
    tools: { readonly project?: Project; readonly checkOnly?: boolean } = {},
  ) {
    this.project = tools.project;
    this.checkOnly = tools.checkOnly ?? false;
  }

  /** Whether a file may hold kernels (cheap: by name and text). */
  wants(id: string, code?: string): boolean {
    const path = id.split('?')[0];
    // Virtual modules (\0-prefixed, or not a file path) hold no user kernels.
    if (
      path.includes('\0') ||
      !isAbsolute(path) ||
      path.includes('/node_modules/') ||
      !(this.options.include ?? DEFAULT_INCLUDE).test(path)
    )
      return false;
    if (isTilevmFile(path)) return false;
    // Kernel and fn templates are tagged by a call: `kernel({...})\`…\``, under any import name.
    return code === undefined || /\)\s*`/.test(code);
  }

  /** The build's Project, created on first use. */
  getProject(firstFile?: string): Project {
    if (this.project) return this.project;
    const tsconfig = this.options.tsconfig ?? (firstFile ? findTsconfig(dirname(firstFile)) : undefined);
    // Only symbols and literal types are needed, not type errors: no default libs or global
    // types (@types/node, DOM) to parse makes the project several times faster to create.
    const lean = { noLib: true, types: [] as string[], skipLibCheck: true };
    this.project = tsconfig
      ? new Project({ tsConfigFilePath: tsconfig, skipAddingFilesFromTsConfig: true, compilerOptions: lean })
      : new Project({
          compilerOptions: {
            ...lean,
            target: ts.ScriptTarget.ES2022,
            module: ts.ModuleKind.ESNext,
            moduleResolution: ts.ModuleResolutionKind.Bundler,
            allowJs: true,
            strict: true,
          },
        });
    return this.project;
  }

  /** Makes the project see a file as `code` (the bundler's text, or the file on disk). */
  sourceFile(id: string, code?: string): SourceFile {
    const project = this.getProject(id);
    const existing = project.getSourceFile(id);
    if (existing) {
      if (code !== undefined && existing.getFullText() !== code) existing.replaceWithText(code);
      return existing;
    }
    return code === undefined
      ? project.addSourceFileAtPath(id)
      : project.createSourceFile(id, code, { overwrite: true });
  }

  /** A file changed on disk (watch mode): the project re-reads it, leaving the rest as it was. */
  fileChanged(id: string): void {
    const file = this.project?.getSourceFile(id);
    if (!file) return;
    if (existsSync(id)) file.refreshFromFileSystemSync();
    else this.project?.removeSourceFile(file);
  }

  transform(id: string, code: string): TransformResult {
    const file = this.sourceFile(id, code);
    const s = new MagicString(code);
    const errors: Located[] = [];
    const warnings: Located[] = [];
    const kernels: KernelReport[] = [];
    const compiled: { report: KernelReport; data: unknown }[] = [];
    const evaluator = new StaticEvaluator();
    const replaced: [number, number][] = [];
    const templates = file
      .getDescendantsOfKind(SyntaxKind.TaggedTemplateExpression)
      .map((node) => ({ node, kind: templateTagKind(node.getTag()) }))
      .filter((t): t is { node: TaggedTemplateExpression; kind: 'kernel' | 'fn' } => t.kind !== undefined);
    let jit = 0;
    for (const { node, kind } of templates) {
      if (kind !== 'kernel') continue;
      const call = node.getTag() as CallExpression;
      const nameHint = call
        .getArguments()[0]
        ?.getText()
        .match(/name:\s*(['"`])([^'"`]*)\1/)?.[2];
      const label = nameHint ? `'${nameHint}'` : 'here';
      let signature: KernelSignature;
      let values: unknown[];
      try {
        const sigNode = call.getArguments()[0];
        if (!sigNode) throw new NotStatic('kernel() has no signature argument', call);
        signature = evaluator.evaluate(sigNode) as KernelSignature;
        values = templateText(node).expressions.map((e) => evaluator.evaluate(e));
      } catch (e) {
        if (!(e instanceof NotStatic)) throw e;
        jit++;
        (this.options.strict ? errors : warnings).push(
          notStaticDiagnostic(e, this.options.strict ? 'error' : 'warning', label),
        );
        continue;
      }
      const start = node.getStart();
      const { line, column } = filePosition(file, start);
      const origin = `${relative(process.cwd(), id)}:${line}:${column}`;
      const build = buildKernel(
        signature,
        templateText(node),
        values,
        evaluator.fnTemplates,
        origin,
        !this.checkOnly,
      );
      for (const d of build.diagnostics) (d.severity === 'error' ? errors : warnings).push(d);
      if (!build.data) continue;
      const report: KernelReport = {
        name: build.data.name,
        file: id,
        line,
        column,
        variants: build.data.variants.length,
        ms: build.ms,
        hash: build.data.hash,
      };
      kernels.push(report);
      compiled.push({ report, data: build.data });
      this.options.onKernel?.(report);
      s.overwrite(start, node.getEnd(), `${PRECOMPILED}(${JSON.stringify(build.data)})`);
      replaced.push([start, node.getEnd()]);
    }
    // Device functions compiled into every kernel of the file: their parser-backed objects are
    // dropped, unless a JIT kernel here still needs them or other modules may (exported ones).
    if (jit === 0 && errors.length === 0 && replaced.length > 0) {
      for (const { node, kind } of templates) {
        if (kind !== 'fn' || replaced.some(([a, b]) => node.getStart() >= a && node.getEnd() <= b)) continue;
        if (node.getFirstAncestorByKind(SyntaxKind.VariableStatement)?.isExported()) continue;
        try {
          const name = (evaluator.evaluate(node) as { signature: { name: string } }).signature.name;
          s.overwrite(node.getStart(), node.getEnd(), `${PRECOMPILED_FN}(${JSON.stringify(name)})`);
          replaced.push([node.getStart(), node.getEnd()]);
        } catch (e) {
          if (!(e instanceof NotStatic)) throw e;
        }
      }
    }
    if (replaced.length > 0) {
      this.pruneImports(file, s, replaced);
      const runtime = this.options.runtimeModule ?? 'tilevm/runtime';
      s.prepend(
        `import { precompiled as ${PRECOMPILED}, precompiledFn as ${PRECOMPILED_FN} } from ${JSON.stringify(runtime)};\n`,
      );
    }
    return {
      code: s.toString(),
      map: s.generateMap({ hires: true, source: id, includeContent: true }),
      errors,
      warnings,
      kernels,
      found: templates.filter((t) => t.kind === 'kernel').length,
      compiled,
    };
  }

  /**
   * The kernels of a file evaluated statically, without compiling them (for `tilevm compile`):
   * each as a Kernel, or the reason it is not static.
   */
  staticKernels(
    id: string,
    code?: string,
  ): { name: string; line: number; kernel?: Kernel; notStatic?: NotStatic }[] {
    const file = this.sourceFile(id, code);
    const evaluator = new StaticEvaluator();
    const out: { name: string; line: number; kernel?: Kernel; notStatic?: NotStatic }[] = [];
    for (const node of file.getDescendantsOfKind(SyntaxKind.TaggedTemplateExpression)) {
      if (templateTagKind(node.getTag()) !== 'kernel') continue;
      const call = node.getTag() as CallExpression;
      const line = filePosition(file, node.getStart()).line;
      const nameHint =
        call
          .getArguments()[0]
          ?.getText()
          .match(/name:\s*(['"`])([^'"`]*)\1/)?.[2] ?? '?';
      try {
        const sigNode = call.getArguments()[0];
        if (!sigNode) throw new NotStatic('kernel() has no signature argument', call);
        const signature = evaluator.evaluate(sigNode) as KernelSignature;
        const text = templateText(node);
        const values = text.expressions.map((e) => evaluator.evaluate(e));
        out.push({ name: String(signature.name), line, kernel: new Kernel(signature, text.parts, values) });
      } catch (e) {
        if (!(e instanceof NotStatic)) throw e;
        out.push({ name: nameHint, line, notStatic: e });
      }
    }
    return out;
  }

  /**
   * Drops the imports only the replaced templates used (kernel, fn, global, dtypes, consts): a
   * binding used there and nowhere else goes, and so does a declaration left with none, so the
   * bundle does not reach the compiler through them. Other imports are left as written.
   */
  private pruneImports(file: SourceFile, s: MagicString, replaced: readonly [number, number][]): void {
    const inside = (pos: number) => replaced.some(([a, b]) => pos >= a && pos < b);
    const usesOutside = new Map<string, number>();
    const usesInside = new Map<string, number>();
    for (const id of file.getDescendantsOfKind(SyntaxKind.Identifier)) {
      if (id.getFirstAncestorByKind(SyntaxKind.ImportDeclaration)) continue;
      const uses = inside(id.getStart()) ? usesInside : usesOutside;
      uses.set(id.getText(), (uses.get(id.getText()) ?? 0) + 1);
    }
    const kernelOnly = (local: string) =>
      (usesOutside.get(local) ?? 0) === 0 && (usesInside.get(local) ?? 0) > 0;
    for (const decl of file.getImportDeclarations()) {
      if (decl.isTypeOnly() || decl.getDefaultImport()) continue;
      const namespace = decl.getNamespaceImport();
      if (namespace) {
        if (kernelOnly(namespace.getText())) s.remove(decl.getStart(), decl.getEnd());
        continue;
      }
      const named = decl.getNamedImports();
      const kept = named.filter((n) => !kernelOnly(n.getAliasNode()?.getText() ?? n.getName()));
      if (kept.length === named.length) continue;
      const spec = decl.getModuleSpecifier().getText();
      const values = kept.filter((n) => !n.isTypeOnly());
      s.overwrite(
        decl.getStart(),
        decl.getEnd(),
        values.length === 0 ? '' : `import { ${kept.map((n) => n.getText()).join(', ')} } from ${spec};`,
      );
    }
  }
}

function findTsconfig(dir: string): string | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const candidate = join(d, 'tsconfig.json');
    if (existsSync(candidate)) return candidate;
    if (dirname(d) === d) return undefined;
  }
}

/** Whether a node is a tilevm kernel template (for tools that list kernels). */
export function isKernelTemplate(node: Node): node is TaggedTemplateExpression {
  return Node.isTaggedTemplateExpression(node) && templateTagKind(node.getTag()) === 'kernel';
}
