// `tilevm check [--project tsconfig.json]`: checks every kernel of a project (each const
// combination) and prints diagnostics as file:line:col; exit status 1 on errors.
import { relative } from 'node:path';
import { formatLocated } from '../core/compile-kernel.js';
import { isTilevmFile } from '../core/tilevm-symbols.js';
import { KernelTransformer } from '../core/transform.js';
import { expectOptions, type ParsedArgs } from './args.js';
import type { CliIo } from './io.js';
import { loadProject } from './project.js';

export function runCheck(args: ParsedArgs, io: CliIo): number {
  expectOptions(args, ['project', 'strict'], 'check');
  const project = loadProject(args.options.get('project'), true);
  const transformer = new KernelTransformer(
    { strict: args.flags.has('strict') },
    { project, checkOnly: true },
  );
  let kernels = 0;
  let files = 0;
  let errors = 0;
  let warnings = 0;
  for (const file of project.getSourceFiles()) {
    const path = file.getFilePath();
    if (file.isDeclarationFile() || !transformer.wants(path, file.getFullText())) continue;
    const result = transformer.transform(path, file.getFullText());
    if (result.found === 0) continue;
    files++;
    kernels += result.found;
    for (const d of [...result.errors, ...result.warnings]) io.err(`${formatLocated(d, process.cwd())}\n`);
    errors += result.errors.length;
    warnings += result.warnings.length;
  }
  io.err(
    `tilevm check: ${kernels} kernel${kernels === 1 ? '' : 's'} in ${files} file${files === 1 ? '' : 's'}: ` +
      `${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}\n`,
  );
  return errors > 0 ? 1 : 0;
}

/** Paths shown relative to the working folder. */
export function shown(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel.startsWith('..') || isTilevmFile(path) ? path : rel;
}
