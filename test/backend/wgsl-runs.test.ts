// Run loads (docs/wgsl-backend.md, "Run loads"): tiles whose layout gives each thread runs of
// consecutive elements of a row are read a run at a time (the run's words once, constant shifts per
// element). Copies of every width 1..8, signed and unsigned, and f16, at column offsets that start
// runs at many bit offsets within a word, with tiles hanging over both edges of the tensor (the
// per-element fallback) and rows whose bits start mid-word, bit-exact against the interpreter.
import { describe, expect, it } from 'vitest';
import { compileWgsl } from '../../dsl/backend/wgsl/index.js';
import { type DType, f16, u4 } from '../../dsl/dtype.js';
import { ProgramBuilder } from '../../dsl/ir/builder.js';
import type { Program } from '../../dsl/ir/program.js';
import { binary } from '../../dsl/ir/scalar.js';
import { type Layout, local, spatial } from '../../dsl/layout.js';
import { dtypeNamed } from '../helpers/dtypes.js';
import {
  expectSame,
  type HostArgs,
  poisoned,
  randomTensor,
  runBoth,
  suiteDevice,
} from './wgsl-features-common.js';

const device = suiteDevice();

// C = 333 columns: row r starts at bit 333 r k, so rows start at every offset within a word.
const [R, C] = [7, 333];
// [4, 128] tiles over 32 threads, 8 threads per row: two runs of 8 per thread (1 bit: under 16
// bits, so per-element loads) or one run of 16.
const [BR, BC] = [4, 128];
const LAYOUTS = [local(1, 2).spatial(4, 8).local(1, 8), spatial(4, 8).local(1, 16)];

/**
 * For each dtype i and layout j: y<i>_<j> = x<i> over BR x BC tiles shifted left by `shift` columns
 * (edge tiles on both sides), loaded in layout j and stored back.
 */
function copy(dtypes: readonly DType[], layouts: readonly Layout[]): Program {
  const b = new ProgramBuilder(`runs_${dtypes.map((d) => d.name).join('_')}`);
  dtypes.forEach((d, i) => {
    b.global(`x${i}`, d, ['R', 'C']);
    for (const j of layouts.keys()) b.global(`y${i}_${j}`, d, ['R', 'C'], 'write');
  });
  const shift = b.scalar('shift');
  b.threads(32);
  b.grid(binary('cdiv', b.sym('R'), BR), binary('add', binary('cdiv', b.sym('C'), BC), 1));
  const i0 = b.let('i0', binary('mul', b.blockIdx.x, BR));
  const j0 = b.let('j0', binary('sub', binary('mul', b.blockIdx.y, BC), shift));
  dtypes.forEach((_, i) => {
    layouts.forEach((layout, j) => {
      b.store(`y${i}_${j}`, [i0, j0], b.load(`x${i}`, [i0, j0], [BR, BC], { layout }));
    });
  });
  return b.build();
}

// Each width's unsigned and signed dtype, then f16.
const GROUPS: readonly (readonly DType[])[] = [
  ...[1, 2, 3, 4, 5, 6, 7, 8].map((w) => [dtypeNamed(`u${w}`), dtypeNamed(`i${w}`)]),
  [f16],
];

/** Run loads the program takes: one per load whose runs hold a word or more. */
function runLoads(wgsl: string): number {
  return wgsl.match(/\/\/ run loads/g)?.length ?? 0;
}

describe('WGSL run loads', () => {
  for (const [g, dtypes] of GROUPS.entries()) {
    const names = dtypes.map((d) => d.name).join(', ');
    it(`${names}: copies through runs of 8 and 16 agree with the interpreter`, async () => {
      const program = copy(dtypes, LAYOUTS);
      const k = dtypes[0].bits;
      // Runs are read as runs from 16 bits on: runs of 8 from 2 bits, runs of 16 from 1 bit.
      const expected = dtypes.length * ((8 * k >= 16 ? 1 : 0) + (16 * k >= 16 ? 1 : 0));
      expect(runLoads(compileWgsl(program, {}).wgsl)).toBe(expected);
      // Shifts 3 + g and 0: the first tile hangs over the left edge, the last over the right one,
      // and runs start at bit offsets that change with the shift.
      for (const shift of [3 + g, 0]) {
        const args: HostArgs = { shift };
        dtypes.forEach((d, i) => {
          args[`x${i}`] = randomTensor(d, [R, C], 70 + d.bits + shift + i, -1000, 1000);
          args[`y${i}_0`] = poisoned(d, [R, C]);
          args[`y${i}_1`] = poisoned(d, [R, C]);
        });
        const r = await runBoth(device(), program, args, {});
        for (const [name, v] of Object.entries(r.out)) expectSame(v.gpu, v.ref, `${name}, shift ${shift}`);
      }
    });
  }

  it('layouts without runs, masked loads and tensors the program stores to keep other paths', () => {
    const b = new ProgramBuilder('no_runs');
    b.global('x', u4, [64, 64], 'readwrite');
    b.global('w', u4, [8, 64]);
    b.global('y', u4, [8, 64], 'write');
    b.threads(32);
    const runs = spatial(4, 8).local(2, 8);
    const t = b.load('x', [0, 0], [8, 64], { layout: runs }); // stored to: its words are atomics
    b.store('x', [0, 0], t);
    // Two rows per thread at a stride: runs of 8 still (slots 0..7 and 8..15 each one row).
    b.store('y', [0, 0], b.load('w', [0, 0], [8, 64], { layout: runs }));
    // Neighbouring threads on neighbouring elements: runs of 2 (8 bits), too short.
    b.store('y', [0, 0], b.load('w', [0, 0], [8, 64], { layout: spatial(1, 32).local(8, 2) }));
    const wgsl = compileWgsl(b.build(), {}).wgsl;
    expect(runLoads(wgsl)).toBe(1);
  });
});
