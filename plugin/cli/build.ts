// `tilevm build <entry or glob> --out kernels.tvk`: compiles every kernel (each const combination,
// WGSL and WASM) of the entry's modules or the glob's files into one bundle (runtime/bundle.ts).
import { writeFileSync } from 'node:fs';
import { SyntaxKind } from 'ts-morph';
import { encodeKernelBundle } from '../../runtime/bundle.js';
import type { PrecompiledKernelData } from '../../runtime/precompiled.js';
import { formatLocated } from '../core/compile-kernel.js';
import { templateTagKind } from '../core/tilevm-symbols.js';
import { KernelTransformer } from '../core/transform.js';
import { expectOptions, type ParsedArgs, UsageError } from './args.js';
import { inputFiles } from './files.js';
import { type CliIo, ProgressBar } from './io.js';
import { loadProject } from './project.js';

export async function runBuild(args: ParsedArgs, io: CliIo): Promise<number> {
  expectOptions(args, ['out', 'project', 'strict'], 'build');
  const [input, ...extra] = args.positional;
  const out = args.options.get('out');
  if (!input || extra.length > 0)
    throw new UsageError(
      'tilevm build: give one entry file or glob: tilevm build src/main.ts --out kernels.tvk',
    );
  if (!out) throw new UsageError('tilevm build: --out kernels.tvk is required');
  const project = loadProject(args.options.get('project'), false);
  const files = inputFiles(project, input);
  if (files.length === 0) throw new UsageError(`tilevm build: '${input}' matches no files`);
  const transformer = new KernelTransformer({ strict: args.flags.has('strict') }, { project });
  // Count the kernel templates first, so the progress bar knows its length.
  const total = files
    .flatMap((f) => transformer.sourceFile(f).getDescendantsOfKind(SyntaxKind.TaggedTemplateExpression))
    .filter((t) => templateTagKind(t.getTag()) === 'kernel').length;
  const bar = new ProgressBar(io, total);
  const kernels: PrecompiledKernelData[] = [];
  let errors = 0;
  for (const path of files) {
    const file = transformer.sourceFile(path);
    if (!transformer.wants(path, file.getFullText())) continue;
    const result = transformer.transform(path, file.getFullText());
    for (const c of result.compiled) {
      kernels.push(c.data as PrecompiledKernelData);
      bar.tick(c.report.name);
    }
    for (let i = result.compiled.length; i < result.found; i++) bar.tick('(not compiled)');
    for (const d of [...result.errors, ...result.warnings]) io.err(`${formatLocated(d, process.cwd())}\n`);
    errors += result.errors.length;
  }
  if (errors > 0) {
    io.err(`tilevm build: ${errors} error${errors === 1 ? '' : 's'}; no bundle written\n`);
    return 1;
  }
  const bytes = await encodeKernelBundle(kernels);
  writeFileSync(out, bytes);
  const variants = kernels.reduce((n, k) => n + k.variants.length, 0);
  io.err(
    `tilevm build: wrote ${out}: ${kernels.length} kernels, ${variants} variants, ${bytes.length} bytes\n`,
  );
  return 0;
}
