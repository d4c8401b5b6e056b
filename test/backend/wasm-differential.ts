// The WASM half of the differential fixtures (differential.ts has the backend-independent half): the
// suite's 1- and 2-thread devices, launching a program's artifacts on them next to the reference
// interpreter from the same (poisoned) inputs, and bit-for-bit comparison of what they wrote.
import binaryen from 'binaryen';
import { afterAll, beforeAll, expect } from 'vitest';
import { compileWasm, fromBase64 } from '../../dsl/backend/wasm/index.js';
import type { DType } from '../../dsl/dtype.js';
import { interpret } from '../../dsl/interp/interpret.js';
import type { Program } from '../../dsl/ir/program.js';
import { Tensor } from '../../dsl/tensor.js';
import { createWasmDevice, type WasmArtifact, type WasmDevice } from '../../runtime/index.js';
import { randomInt, randomU32, rng } from '../helpers/random.js';
import { cloneArgs, type HostArgs, launchAndRead } from './differential.js';

/**
 * A 1-thread and a 2-thread WASM device, created before the suite's tests and destroyed after them
 * (call at the top level of a test file; the array fills in beforeAll).
 */
export function suiteWasmDevices(): readonly WasmDevice[] {
  const devices: WasmDevice[] = [];
  beforeAll(async () => {
    devices.push(await createWasmDevice({ threads: 1 }), await createWasmDevice({ threads: 2 }));
  });
  afterAll(() => {
    for (const d of devices) d.destroy();
  });
  return devices;
}

/** One launch to check: its label in failure messages, the device, and the module it runs. */
export type WasmRun = readonly [label: string, device: WasmDevice, artifact: WasmArtifact];

/** `artifact` on the 1-thread and the 2-thread device of suiteWasmDevices. */
export function onBothThreadCounts(devices: readonly WasmDevice[], artifact: WasmArtifact): WasmRun[] {
  return [
    ['1 thread', devices[0], artifact],
    ['2 threads', devices[1], artifact],
  ];
}

/** A tensor the program writes: the interpreter's result and every run's. */
export interface WrittenTensor {
  readonly name: string;
  readonly want: Tensor;
  readonly got: [label: string, result: Tensor][];
}

/**
 * Runs `program` on the interpreter and every run on a copy of `args` (write params hold their
 * poison); every tensor the program may write, from each side.
 */
export async function runWithInterpreter(
  program: Program,
  args: HostArgs,
  runs: readonly WasmRun[],
): Promise<WrittenTensor[]> {
  const want = cloneArgs(args);
  interpret(program, want);
  const outs = program.params.filter((p) => p.kind === 'global' && p.access !== 'read').map((p) => p.name);
  const results = outs.map((name) => ({ name, want: want[name] as Tensor, got: [] as [string, Tensor][] }));
  for (const [label, device, artifact] of runs) {
    const got = await launchAndRead(device, artifact, args, outs);
    for (const r of results) r.got.push([label, got[r.name]]);
  }
  return results;
}

/**
 * The first 5 elements whose bit patterns differ, as messages; `input(i)` may name what produced
 * element i (e.g. the code that was decoded).
 */
export function patternMismatches(got: Tensor, want: Tensor, input?: (i: number) => string): string[] {
  const g = got.patterns();
  const w = want.patterns();
  const bad: string[] = [];
  for (let i = 0; i < w.length && bad.length < 5; i++)
    if (g[i] !== w[i])
      bad.push(
        `[${i}]${input ? ` ${input(i)}:` : ''} got 0x${g[i].toString(16)} want 0x${w[i].toString(16)}`,
      );
  return bad;
}

/**
 * Every tensor the program writes equals the interpreter's bit for bit, in every run; `input` as in
 * patternMismatches.
 */
export async function expectExactRuns(
  program: Program,
  args: HostArgs,
  runs: readonly WasmRun[],
  input?: (i: number) => string,
): Promise<void> {
  for (const r of await runWithInterpreter(program, args, runs))
    for (const [label, got] of r.got)
      expect(patternMismatches(got, r.want, input), `${r.name}, ${label}`).toEqual([]);
}

/** compileWasm(program) on 1 and 2 threads, every written tensor bit-exact against the interpreter. */
export async function expectExactOnDevices(
  devices: readonly WasmDevice[],
  program: Program,
  args: HostArgs,
  input?: (i: number) => string,
): Promise<void> {
  await expectExactRuns(program, args, onBothThreadCounts(devices, compileWasm(program)), input);
}

/** Each artifact's module passes WebAssembly.validate. */
export function expectValidModules(...artifacts: readonly WasmArtifact[]): void {
  for (const a of artifacts)
    expect(WebAssembly.validate(fromBase64(a.wasm) as Uint8Array<ArrayBuffer>)).toBe(true);
}

/** Whether `bytes` (a module) contain the opcode sequence `op` anywhere. */
export function hasOpcode(bytes: Uint8Array, op: readonly number[]): boolean {
  for (let i = 0; i + op.length <= bytes.length; i++) if (op.every((b, j) => bytes[i + j] === b)) return true;
  return false;
}

/** The text format of an artifact's module: what a lowering looks like in it. */
export function moduleText(artifact: Pick<WasmArtifact, 'wasm'>): string {
  const m = binaryen.readBinary(fromBase64(artifact.wasm));
  const text = m.emitText();
  m.dispose();
  return text;
}

/** Uniform random bit patterns of d (for floats: NaN, Inf and subnormals included). */
export function randomPatterns(d: DType, shape: readonly number[], seed: number): Tensor {
  const r = rng(seed);
  const t = Tensor.zeros(d, shape);
  for (let i = 0; i < t.size; i++)
    t.setPattern(i, d.bits === 32 ? randomU32(r) : randomInt(r, 0, 2 ** d.bits - 1));
  return t;
}

/** n f32 values uniform in [lo, hi). */
export function randomF32(n: number, seed: number, lo = -2, hi = 2): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * r()));
}
