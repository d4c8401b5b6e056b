// Differential test of the WASM backend: random VM programs (test/helpers/random-programs.ts)
// compiled with compileWasm and run on the WASM device (4 worker threads) must compute what the
// reference interpreter computes from the same inputs. Outputs start as the same random garbage on
// both sides, so elements a program must not write are checked too.
//
// Tolerance (docs/wasm-backend.md): integer and bool outputs bit-exact; float outputs equal (either
// sign of zero) or within the generator's per-output bound `tol`, which is nonzero only for outputs
// that depend on exp, tanh, sqrt or float div. The backend computes sqrt and div correctly rounded
// (so those match exactly) and exp and tanh to within 1 ulp of the format, well inside the
// generator's allowance of several ulp. Everything else (sums and dots in the interpreter's order,
// casts, rounding to narrow formats) must match bit for bit: no slack at all.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWasm, fromBase64 } from '../../dsl/backend/wasm/index.js';
import { type DType, decode } from '../../dsl/dtype.js';
import { interpret } from '../../dsl/interp/interpret.js';
import { printProgram } from '../../dsl/ir/print.js';
import { Tensor } from '../../dsl/tensor.js';
import { createWasmDevice, type WasmDevice, type WasmTensor } from '../../runtime/index.js';
import { type RandomProgram, randomProgram } from '../helpers/random-programs.js';

const SEEDS = 120;

let device: WasmDevice;

beforeAll(async () => {
  device = await createWasmDevice({ threads: 4 });
});

afterAll(() => {
  device?.destroy();
});

function cloneArgs(args: Record<string, Tensor | number>): Record<string, Tensor | number> {
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [k, v instanceof Tensor ? v.clone() : v]));
}

function indexOf(flat: number, shape: readonly number[]): number[] {
  const idx: number[] = [];
  for (let i = shape.length - 1; i >= 0; i--) {
    idx.unshift(flat % shape[i]);
    flat = Math.floor(flat / shape[i]);
  }
  return idx;
}

/** Mismatching elements of one output, described; empty when the output matches. */
function compare(d: DType, expected: Tensor, got: Tensor, tol: number): string[] {
  const out: string[] = [];
  const pe = expected.patterns();
  const pg = got.patterns();
  for (let i = 0; i < pe.length; i++) {
    if (pe[i] === pg[i]) continue;
    const ve = decode(d, pe[i]);
    const vg = decode(d, pg[i]);
    if (d.kind === 'float' && (ve === vg || Math.abs(ve - vg) <= tol)) continue;
    out.push(
      `[${indexOf(i, expected.shape).join(', ')}]: expected ${ve} (0x${pe[i].toString(16)}), got ${vg} (0x${pg[i].toString(16)})`,
    );
  }
  return out;
}

function describeArgs(args: Record<string, Tensor | number>): string {
  return Object.entries(args)
    .map(([k, v]) => {
      if (typeof v === 'number') return `${k} = ${v}`;
      const values = v.size <= 64 ? ` = [${v.toArray().join(', ')}]` : '';
      return `${k}: ${v}${values}`;
    })
    .join('\n');
}

async function check(seed: number): Promise<void> {
  const gen: RandomProgram = randomProgram(seed, { maxElements: 512 });
  const text = printProgram(gen.program);
  const args = gen.makeArgs(seed);
  const where = () => `seed ${seed}:\n${text}\n${describeArgs(args)}`;

  const expected = cloneArgs(args);
  interpret(gen.program, expected);

  let artifact: ReturnType<typeof compileWasm>;
  try {
    artifact = compileWasm(gen.program);
  } catch (e) {
    throw new Error(`${where()}\ncompileWasm failed: ${(e as Error).stack}`);
  }
  expect(WebAssembly.validate(fromBase64(artifact.wasm) as Uint8Array<ArrayBuffer>)).toBe(true);
  const onDevice: Record<string, WasmTensor | number> = {};
  for (const [k, v] of Object.entries(args)) onDevice[k] = typeof v === 'number' ? v : device.upload(v);
  try {
    await device.launch(artifact, onDevice);
  } catch (e) {
    throw new Error(`${where()}\nlaunch failed: ${(e as Error).message}`);
  }
  const problems: string[] = [];
  for (const o of gen.outputs) {
    const got = await device.read(onDevice[o] as WasmTensor);
    const want = expected[o] as Tensor;
    const bad = compare(want.dtype, want, got, gen.tolerance[o] ?? 0);
    if (bad.length > 0) {
      problems.push(
        `output ${o} (${want}, tolerance ${gen.tolerance[o] ?? 0}): ${bad.length} of ${want.size} elements differ\n  ${bad.slice(0, 12).join('\n  ')}`,
      );
    }
  }
  for (const v of Object.values(onDevice)) if (typeof v !== 'number') v.destroy();
  if (problems.length > 0) throw new Error(`${where()}\n${problems.join('\n')}`);
}

describe('WASM backend vs interpreter on random programs', () => {
  for (let seed = 0; seed < SEEDS; seed++) {
    it(`seed ${seed}`, async () => {
      await check(seed);
    });
  }
});
