// Where a PATNet forward's time goes, per kernel and on the host side: wraps the Runner's launch,
// upload, empty and read, runs T0 at batch 1 on 1 and 2 WASM threads after a 4 s warm-up, and prints
// each kernel's launches per forward and time. Not part of `npm run bench` (a profile, not a
// comparison). Run:
//   npx esbuild test/bench/patnet-profile.ts --bundle --platform=node --format=esm --packages=external \
//     --outfile=.build/patnet-profile.mjs && node .build/patnet-profile.mjs [variant]
import { loadPatnet, type PatnetVariant } from '../../patnet/index.js';
import { Runner } from '../../patnet/runner.js';
import { createWasmDevice } from '../../runtime/index.js';

interface Tally {
  count: number;
  ms: number;
}

const tallies = new Map<string, Tally>();
let recording = false;

function record(name: string, ms: number): void {
  const t = tallies.get(name) ?? { count: 0, ms: 0 };
  t.count++;
  t.ms += ms;
  tallies.set(name, t);
}

/** Wraps Runner.prototype[method] so that, while recording, each call's time goes to label(args). */
function wrap(method: 'launch' | 'upload' | 'empty' | 'read', label: (args: unknown[]) => string): void {
  const proto = Runner.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
  const original = proto[method]!;
  proto[method] = function (this: Runner, ...args: unknown[]) {
    if (!recording) return original.apply(this, args);
    const t0 = performance.now();
    const result = original.apply(this, args);
    const done = () => record(label(args), performance.now() - t0);
    if (result instanceof Promise) return result.finally(done);
    done();
    return result;
  };
}

wrap('launch', (args) => (args[0] as { name?: string }).name ?? '(kernel)');
for (const m of ['upload', 'empty', 'read'] as const) wrap(m, () => `host: ${m}`);

const variant = (process.argv[2] ?? 't0') as PatnetVariant;
const data = new Float32Array(3 * 224 * 224).map((_, i) => Math.sin(i * 0.37) * 1.5);
const reps = 20;
for (const threads of [1, 2]) {
  const device = await createWasmDevice({ threads });
  try {
    const model = await loadPatnet({ variant, device });
    const input = { data, shape: [1, 3, 224, 224] as [number, number, number, number] };
    const warm = performance.now();
    while (performance.now() - warm < 4000) await model.run(input);
    tallies.clear();
    recording = true;
    const times: number[] = [];
    for (let i = 0; i < reps; i++) {
      const t0 = performance.now();
      await model.run(input);
      times.push(performance.now() - t0);
    }
    recording = false;
    times.sort((a, b) => a - b);
    const rows = [...tallies].sort((a, b) => b[1].ms - a[1].ms);
    const kernels = rows.filter(([name]) => !name.startsWith('host:'));
    const launches = kernels.reduce((s, [, t]) => s + t.count, 0) / reps;
    const inKernels = kernels.reduce((s, [, t]) => s + t.ms, 0) / reps;
    console.log(
      `${variant} b1, ${threads} thread(s): forward median ${times[reps >> 1]!.toFixed(2)} ms, ` +
        `${launches} launches, ${inKernels.toFixed(2)} ms in them`,
    );
    for (const [name, t] of rows) {
      const per = ((t.ms / t.count) * 1000).toFixed(0);
      console.log(
        `  ${name.padEnd(28)} ${String(t.count / reps).padStart(4)} x ${per.padStart(5)} µs = ${(t.ms / reps).toFixed(2)} ms`,
      );
    }
    model.destroy();
  } finally {
    device.destroy();
  }
}
