// tilevm WASM-SIMD against peer libraries, side by side in one run: `npm run bench` (about 3-5
// minutes), `npm run bench -- --quick` (a smoke run with short warm-ups and few repetitions).
// Options: --quick, --threads=1,2, --only=copy,gemv,gemm,u4,patnet,llm. Prints a markdown table of medians,
// 10th percentiles and ratios (tilevm time / peer time at the same thread count; tfjs-wasm is
// single-threaded in Node, so it is compared with tilevm on one thread).
import os from 'node:os';
import type { BenchOptions, Row } from './common.js';
import { fmtMs } from './common.js';
import { benchCopy } from './copy.js';
import { benchGemm } from './gemm.js';
import { benchGemvF32 } from './gemv-f32.js';
import { benchGemvU4 } from './gemv-u4.js';
import { benchLlm } from './llm.js';
import { benchPatnet } from './patnet.js';

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

const benches: [string, (o: BenchOptions) => Promise<Row[]>][] = [
  ['copy', benchCopy],
  ['gemv', benchGemvF32],
  ['gemm', benchGemm],
  ['u4', benchGemvU4],
  ['patnet', benchPatnet],
  ['llm', benchLlm],
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
  console.log(
    `tilevm bench${quick ? ' (quick)' : ''}: ${cpu}, nproc ${os.availableParallelism()}, node ${process.version}, ` +
      `threads ${threads.join(',')}`,
  );
  const started = performance.now();
  const rows: Row[] = [];
  for (const [name, bench] of benches) {
    if (only && !only.includes(name)) continue;
    const t0 = performance.now();
    console.log(`- ${name}`);
    try {
      const r = await bench(opts);
      rows.push(...r);
      for (const row of r) {
        console.log(
          `  ${row.impl} x${row.threads}: ${fmtMs(row.median)} ms (p10 ${fmtMs(row.p10)}, n=${row.samples})`,
        );
      }
    } catch (e) {
      console.log(`  [fail] ${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
    console.log(`  (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  console.log(`\n${table(rows)}\n`);
  console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

await main();
process.exit(0);
