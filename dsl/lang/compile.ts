// The whole pipeline from kernel source to a validated VM program, in order:
// parse → check and lower → validate. It never throws for bad input: it returns diagnostics.
import { VmError } from '../ir/errors.js';
import type { Program } from '../ir/program.js';
import { validateProgram } from '../ir/validate.js';
import type { Program as Ast } from './ast.js';
import { Checker } from './checker.js';
import { type Diagnostic, DiagnosticBag, formatDiagnostic } from './diagnostics.js';
import { parse } from './parser.js';
import type { ConstSpecs, KernelSignature } from './signature.js';
import type { SourceText } from './source.js';

export interface KernelSource {
  readonly signature: KernelSignature;
  readonly source: SourceText;
  readonly values: readonly unknown[];
}

export interface CompileResult {
  /** Present when there are no errors. */
  readonly program?: Program;
  readonly diagnostics: readonly Diagnostic[];
  /** The consts the program was compiled with. */
  readonly consts: Readonly<Record<string, number>>;
  /** Source texts by diagnostic `source` name (the kernel's and each fn's), for excerpts. */
  readonly sources: ReadonlyMap<string, SourceText>;
}

const parsedCache = new WeakMap<SourceText, { ast: Ast; diagnostics: readonly Diagnostic[] }>();

export function compileKernelSource(
  k: KernelSource,
  requested: Readonly<Record<string, number>> = {},
): CompileResult {
  const name = typeof k.signature?.name === 'string' && k.signature.name ? k.signature.name : 'kernel';
  const bag = new DiagnosticBag(k.source, name);
  const sources = new Map([[name, k.source]]);
  const consts = resolveConsts(k.signature.consts ?? {}, requested, bag);
  if (!/^[A-Za-z_$][\w$]*$/.test(name))
    bag.error('TV3002', { start: 0, end: 0 }, `the kernel name '${name}' must be an identifier`);
  let cached = parsedCache.get(k.source);
  if (!cached) {
    const parseBag = new DiagnosticBag(k.source, name);
    cached = { ast: parse(k.source, parseBag), diagnostics: parseBag.items };
    parsedCache.set(k.source, cached);
  }
  const diagnostics: Diagnostic[] = [...cached.diagnostics];
  if (diagnostics.some((d) => d.severity === 'error') || bag.hasErrors) {
    return { diagnostics: [...diagnostics, ...bag.items], consts, sources };
  }
  const checker = new Checker(k.signature, consts, bag, k.values);
  checker.checkBody(cached.ast.body);
  for (const fnBag of checker.fnBags) {
    // A fn named like the kernel or like another fn gets a numbered name (gelu#2): `sources`
    // maps each name to one text, and a shared name would put excerpts under the wrong source.
    const base = fnBag.owner ?? 'fn';
    let owner = base;
    for (let n = 2; sources.has(owner) && sources.get(owner) !== fnBag.source; n++) owner = `${base}#${n}`;
    sources.set(owner, fnBag.source);
    diagnostics.push(...fnBag.items.map((d) => (d.source === owner ? d : { ...d, source: owner })));
  }
  diagnostics.push(...bag.items);
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics, consts, sources };
  try {
    const program = checker.b.build();
    validateProgram(program);
    return { program, diagnostics, consts, sources };
  } catch (e) {
    if (!(e instanceof VmError)) throw e;
    bag.error(
      'TV4001',
      cached.ast.span,
      `the lowered program is invalid: ${e.message}`,
      'this is a tilevm bug; please report it with the kernel',
    );
    return { diagnostics: [...diagnostics, ...bag.items], consts, sources };
  }
}

/** Each const: the requested value, or the first candidate. Requested values must be candidates. */
function resolveConsts(
  specs: ConstSpecs,
  requested: Readonly<Record<string, number>>,
  bag: DiagnosticBag,
): Record<string, number> {
  const at = { start: 0, end: 0 };
  const out: Record<string, number> = {};
  for (const key of Object.keys(requested)) {
    if (!Object.hasOwn(specs, key)) {
      bag.error(
        'TV3003',
        at,
        `there is no const '${key}' to set`,
        `the consts are: ${Object.keys(specs).join(', ') || 'none'}`,
      );
    }
  }
  for (const [key, spec] of Object.entries(specs)) {
    const candidates = Array.isArray(spec) ? spec : [spec];
    if (candidates.length === 0 || candidates.some((c) => typeof c !== 'number' || !Number.isFinite(c))) {
      bag.error('TV3003', at, `const '${key}' must be a finite number or a non-empty list of them`);
      continue;
    }
    const want = requested[key];
    if (want === undefined) {
      out[key] = candidates[0];
    } else if (!candidates.includes(want)) {
      bag.error(
        'TV3003',
        at,
        `const '${key}' = ${want} is not one of its candidates [${candidates.join(', ')}]`,
      );
    } else {
      out[key] = want;
    }
  }
  return out;
}

/** Thrown by `compile` and `kernel.compile` when a kernel has errors. */
export class CompileError extends Error {
  constructor(
    readonly kernel: string,
    readonly diagnostics: readonly Diagnostic[],
    sources: ReadonlyMap<string, SourceText>,
  ) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    super(
      `kernel '${kernel}' has ${errors.length} error${errors.length === 1 ? '' : 's'}:\n` +
        errors.map((d) => formatDiagnostic(d, sources.get(d.source ?? kernel))).join('\n'),
    );
    this.name = 'CompileError';
  }
}
