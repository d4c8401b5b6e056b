// Plugin overhead and compile time per kernel, for docs/benchmarks.md. Run:
//   npx esbuild test/plugin/bench.ts --bundle --platform=node --format=esm --packages=external \
//     --outfile=.build/plugin-bench.mjs --log-level=warning && node .build/plugin-bench.mjs
// Builds the example app (test/plugin/fixtures/app) with esbuild, without and with the plugin
// (a fresh plugin, so a fresh ts-morph Project, each run), and reports medians.
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import tilevm from '../../plugin/esbuild.js';

// Run from the repository root (the script is bundled into .build/).
const ROOT = process.cwd();
const entry = join(ROOT, 'test/plugin/fixtures/app/main.ts');
const runtimeModule = join(ROOT, 'runtime/index.ts');
const RUNS = Number(process.env.RUNS ?? 3);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeBuild(
  withPlugin: boolean,
  perKernel: Map<string, number[]>,
): Promise<{ ms: number; bytes: number }> {
  const started = performance.now();
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    minify: true,
    write: false,
    logLevel: 'silent',
    plugins: withPlugin
      ? [
          tilevm({
            runtimeModule,
            onKernel: (k) =>
              perKernel.set(`${k.name} (${k.variants} variant${k.variants > 1 ? 's' : ''})`, [
                ...(perKernel.get(`${k.name} (${k.variants} variant${k.variants > 1 ? 's' : ''})`) ?? []),
                k.ms,
              ]),
          }),
        ]
      : [],
  });
  return {
    ms: performance.now() - started,
    bytes: result.outputFiles.reduce((n, f) => n + f.contents.length, 0),
  };
}

const perKernel = new Map<string, number[]>();
const without: number[] = [];
const withPlugin: number[] = [];
let sizes = { without: 0, with: 0 };
for (let i = 0; i < RUNS; i++) {
  const a = await timeBuild(false, perKernel);
  const b = await timeBuild(true, perKernel);
  without.push(a.ms);
  withPlugin.push(b.ms);
  sizes = { without: a.bytes, with: b.bytes };
}
console.log(`load average (1 min): ${loadavg()[0].toFixed(1)}; ${RUNS} runs, medians`);
console.log(
  `esbuild, no plugin (JIT kernels, compiler bundled): ${median(without).toFixed(0)} ms, ${sizes.without} bytes`,
);
console.log(
  `esbuild + tilevm plugin (precompiled):              ${median(withPlugin).toFixed(0)} ms, ${sizes.with} bytes`,
);
console.log(`plugin overhead: ${(median(withPlugin) - median(without)).toFixed(0)} ms`);
for (const [name, ms] of perKernel) console.log(`  compile ${name}: ${median(ms).toFixed(0)} ms`);
