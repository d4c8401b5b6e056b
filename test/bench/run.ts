// tilevm WASM-SIMD against peer libraries, side by side in one run: `npm run bench` (about 3-5
// minutes), `npm run bench -- --quick` (a smoke run with short warm-ups and few repetitions).
// Options: --quick, --threads=1,2, --only=copy,gemv,gemm,u4,patnet,llm,browser,intdot (browser:
// the LLM GEMV in headless Chromium, browser-llm.ts; skipped without Chromium). Prints a markdown
// table of medians, 10th percentiles and ratios (tilevm time / peer time at the same thread count;
// tfjs-wasm is single-threaded in Node, so it is compared with tilevm on one thread), plus the tables some
// benchmarks add (the LLM table by weight format), and writes them into docs/benchmarks.md
// (report.ts: a complete default run replaces the full-results block; a --quick, --only or
// --threads run, or one where a benchmark failed, replaces the partial block instead).
// First: V8's relaxed-SIMD flag (Node 20) before anything compiles WebAssembly, for the
// 'tilevm-wasm relaxed' rows (common.ts withDevices).
import '../helpers/relaxed-simd.js';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import os from 'node:os';
import { benchBrowserLlm } from './browser-llm.js';
import type { BenchOptions, BenchResult, ExtraTable, Row } from './common.js';
import { fmtMs } from './common.js';
import { benchCopy } from './copy.js';
import { benchGemm } from './gemm.js';
import { benchGemvF32 } from './gemv-f32.js';
import { benchGemvU4 } from './gemv-u4.js';
import { benchIntDot } from './int-dot.js';
import { benchLlm } from './llm.js';
import { benchPatnet } from './patnet.js';
import { writeReport } from './report.js';

const biomeCli = createRequire(import.meta.url).resolve('@biomejs/biome/bin/biome');
const argv = process.argv.slice(2);
const flag = (name: string): string | undefined =>
  argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = argv.includes('--quick');
const threads = (flag('threads') ?? '1,2').split(',').map(Number);
const only = flag('only')?.split(',');

const opts: BenchOptions = {
  quick,
  threads,
  rotate: quick ? 2 : 3,
  timing: quick ? { warmupMs: 300, reps: 5, budgetMs: 1000 } : { warmupMs: 2000, reps: 60, budgetMs: 20000 },
};

const benches: [string, (o: BenchOptions) => Promise<Row[] | BenchResult>][] = [
  ['copy', benchCopy],
  ['gemv', benchGemvF32],
  ['gemm', benchGemm],
  ['u4', benchGemvU4],
  ['patnet', benchPatnet],
  ['llm', benchLlm],
  ['browser', benchBrowserLlm],
  ['intdot', benchIntDot],
];

function table(rows: readonly Row[]): string {
  const lines = [
    '| benchmark | implementation | threads | median ms | p10 ms | rate | tilevm / this (median) | (p10) |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const own = rows.find((o) => o.bench === r.bench && o.impl === 'tilevm-wasm' && o.threads === r.threads);
    const peer = r.impl !== 'tilevm-wasm' && own;
    const ratio = peer ? `${(own.median / r.median).toFixed(2)}x` : '';
    const ratio10 = peer ? `${(own.p10 / r.p10).toFixed(2)}x` : '';
    lines.push(
      `| ${r.bench} | ${r.impl} | ${r.threads} | ${fmtMs(r.median)} | ${fmtMs(r.p10)} | ${r.rate ?? ''} | ${ratio} | ${ratio10} |`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const machine =
    `${cpu}, nproc ${os.availableParallelism()}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ` +
    `node ${process.version}, load average ${os.loadavg()[0]!.toFixed(1)} at the start`;
  console.log(`tilevm bench${quick ? ' (quick)' : ''}: ${machine}, threads ${threads.join(',')}`);
  const started = performance.now();
  const rows: Row[] = [];
  const tables: ExtraTable[] = [];
  const failed: string[] = [];
  for (const [name, bench] of benches) {
    if (only && !only.includes(name)) continue;
    const t0 = performance.now();
    console.log(`- ${name}`);
    try {
      const result = await bench(opts);
      const r = Array.isArray(result) ? result : result.rows;
      if (!Array.isArray(result)) tables.push(...(result.tables ?? []));
      rows.push(...r);
      for (const row of r) {
        console.log(
          `  ${row.impl} x${row.threads}: ${fmtMs(row.median)} ms (p10 ${fmtMs(row.p10)}, n=${row.samples})`,
        );
      }
    } catch (e) {
      failed.push(name);
      console.log(`  [fail] ${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
    console.log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  const mainTable = table(rows);
  console.log(`\n${mainTable}\n`);
  const seconds = (performance.now() - started) / 1000;
  console.log(`total ${seconds.toFixed(1)} s`);
  const file = writeReport({
    // Only a complete default run may replace the full results.
    partial: quick || only !== undefined || flag('threads') !== undefined || failed.length > 0,
    failed,
    command: ['npm run bench', ...(argv.length > 0 ? ['--', ...argv] : [])].join(' '),
    machine,
    seconds,
    tables: [{ title: 'Kernels and networks against peers', markdown: mainTable }, ...tables],
  });
  console.log(`results written to ${file}`);
  formatReport(file);
}

/**
 * Formats the written file with the project's biome, as `npm run format` would. Done here rather
 * than in the npm script so that `npm run bench -- --only=u4` passes its options to this script.
 */
function formatReport(file: string): void {
  try {
    execFileSync(process.execPath, [biomeCli, 'format', '--write', file, '--log-level=none'], {
      stdio: 'inherit',
    });
  } catch (e) {
    console.log(`(could not format ${file} with biome: ${(e as Error).message})`);
  }
}

await main();
process.exit(0);
