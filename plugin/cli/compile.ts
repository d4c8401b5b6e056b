// `tilevm compile <file.ts> --target wgsl|wasm|vm --kernel NAME`: prints one kernel's WGSL, WASM
// text or VM program, for users debugging their kernels. `--consts BM=4,BN=64` picks a variant;
// `--features subgroups,shader-f16` the WGSL device features.
import { resolve } from 'node:path';
import { compileWasm, fromBase64 } from '../../dsl/backend/wasm/index.js';
import { compileWgsl } from '../../dsl/backend/wgsl/index.js';
import { formatDiagnostic, printProgram } from '../../dsl/index.js';
import { KernelTransformer } from '../core/transform.js';
import { expectOptions, type ParsedArgs, UsageError } from './args.js';
import type { CliIo } from './io.js';
import { loadProject } from './project.js';

const TARGETS = ['wgsl', 'wasm', 'vm'] as const;

function parseConsts(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pair of text ? text.split(',') : []) {
    const [key, value] = pair.split('=');
    const n = Number(value);
    if (!key || value === undefined || !Number.isFinite(n))
      throw new UsageError(`--consts: '${pair}' is not NAME=number`);
    out[key.trim()] = n;
  }
  return out;
}

export async function runCompile(args: ParsedArgs, io: CliIo): Promise<number> {
  expectOptions(args, ['target', 'kernel', 'consts', 'features', 'project'], 'compile');
  const [file] = args.positional;
  const target = args.options.get('target') ?? 'wgsl';
  const name = args.options.get('kernel');
  if (!file)
    throw new UsageError(
      'tilevm compile: give a file: tilevm compile src/kernels.ts --target wgsl --kernel NAME',
    );
  if (!(TARGETS as readonly string[]).includes(target))
    throw new UsageError(`tilevm compile: --target must be one of ${TARGETS.join(', ')}`);
  const transformer = new KernelTransformer({}, { project: loadProject(args.options.get('project'), false) });
  const found = transformer.staticKernels(resolve(file));
  const listed = found.map((k) => `${k.name} (line ${k.line})`).join(', ') || 'none';
  const wanted = name ? found.filter((k) => k.name === name) : found.length === 1 ? found : [];
  if (wanted.length !== 1) {
    io.err(
      name
        ? `tilevm compile: no kernel '${name}' in ${file}; it has: ${listed}\n`
        : `tilevm compile: pass --kernel NAME; ${file} has: ${listed}\n`,
    );
    return 1;
  }
  const [entry] = wanted;
  if (!entry.kernel) {
    io.err(
      `tilevm compile: kernel '${entry.name}' (line ${entry.line}) cannot be evaluated at build time: ${entry.notStatic?.reason}\n`,
    );
    return 1;
  }
  const result = entry.kernel.check(parseConsts(args.options.get('consts')));
  for (const d of result.diagnostics)
    io.err(`${formatDiagnostic(d, result.sources.get(d.source ?? entry.name))}\n`);
  if (!result.program) return 1;
  if (target === 'vm') io.out(`${printProgram(result.program)}\n`);
  else if (target === 'wgsl') {
    const features = new Set((args.options.get('features') ?? '').split(',').filter(Boolean));
    io.out(compileWgsl(result.program, { features }).wgsl);
  } else {
    const binaryen = (await import('binaryen')).default;
    const module = binaryen.readBinary(fromBase64(compileWasm(result.program).wasm));
    try {
      io.out(module.emitText());
    } finally {
      module.dispose();
    }
  }
  return 0;
}
