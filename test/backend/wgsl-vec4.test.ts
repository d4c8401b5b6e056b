// Grouped 4-word loads (docs/wgsl-backend.md, "Grouped loads"): tiles of read-only tensors loaded as
// aligned 16-byte groups through the scratch array. Copies of every width 1..8 (3, 5, 6, 7 straddle
// words), i16, f16 and f32 at column offsets that are not multiples of anything (negative ones,
// and tiles hang over both edges), with a mask and `other`, on the grouped path ('always', and 'auto'
// where it applies) and the per-element path ('off'), bit-exact against the interpreter.
import { describe, expect, it } from 'vitest';
import { compileWgsl } from '../../dsl/backend/wgsl/index.js';
import { type DType, f16, f32, i3, i8, i16, i32, u1, u2, u3, u4, u5, u6, u7, u8 } from '../../dsl/dtype.js';
import { ProgramBuilder } from '../../dsl/ir/builder.js';
import type { Program } from '../../dsl/ir/program.js';
import { binary } from '../../dsl/ir/scalar.js';
import {
  expectSame,
  type HostArgs,
  poisoned,
  randomTensor,
  runBoth,
  suiteDevice,
} from './wgsl-features-common.js';

const device = suiteDevice();

const [R, C] = [7, 333];
const [BR, BC] = [3, 150];

/**
 * For each dtype i: y<i> = x<i> over BR x BC tiles shifted left by `shift` columns (edge tiles on both
 * sides), every third column masked off (y gets `other` there); z<i> = one row of x<i> as a rank-1
 * tile. Two dtypes per program keep the storage bindings under WebGPU's default limit of 8.
 */
function copy(dtypes: readonly DType[]): Program {
  const b = new ProgramBuilder(`copy_${dtypes.map((d) => d.name).join('_')}`);
  dtypes.forEach((d, i) => {
    b.global(`x${i}`, d, ['R', 'C']);
    b.global(`y${i}`, d, ['R', 'C'], 'write');
    b.global(`z${i}`, d, ['C'], 'write');
  });
  const shift = b.scalar('shift');
  b.threads(32);
  b.grid(binary('cdiv', b.sym('R'), BR), binary('add', binary('cdiv', b.sym('C'), BC), 1));
  const i0 = b.let('i0', binary('mul', b.blockIdx.x, BR));
  const j0 = b.let('j0', binary('sub', binary('mul', b.blockIdx.y, BC), shift));
  const col = b.arange(i32, BC);
  const keep = b.broadcast(b.unsqueeze(b.binary('ne', b.binary('mod', col, 3), 1), 0), [BR, BC]);
  dtypes.forEach((d, i) => {
    const other = d.kind === 'float' ? 0.5 : 1;
    b.store(`y${i}`, [i0, j0], b.load(`x${i}`, [i0, j0], [BR, BC], { mask: keep, other }));
    b.if(binary('eq', b.blockIdx.x, 1), () => {
      b.store(`z${i}`, [j0], b.load(`x${i}`, [2, j0], [BC]));
    });
  });
  return b.build();
}

const GROUPS: readonly (readonly DType[])[] = [
  [u1, u2],
  [u3, i3],
  [u4, u5],
  [u6, u7],
  [i8, u8],
  [i16, f16],
  [f32],
];

describe('WGSL grouped 4-word loads', () => {
  for (const [g, dtypes] of GROUPS.entries()) {
    const names = dtypes.map((d) => d.name).join(', ');
    // A positive shift makes the first tile hang over the left edge and the last over the right one.
    const shift = 5 + 2 * g;
    it(`${names}: grouped ('always') and per-element ('off') copies agree with the interpreter`, async () => {
      const program = copy(dtypes);
      {
        const args: HostArgs = { shift };
        dtypes.forEach((d, i) => {
          args[`x${i}`] = randomTensor(d, [R, C], 40 + d.bits + shift, -1000, 1000);
          args[`y${i}`] = poisoned(d, [R, C]);
          args[`z${i}`] = poisoned(d, [C]);
        });
        for (const vec4Loads of ['always', 'off'] as const) {
          const r = await runBoth(device(), program, args, { vec4Loads });
          const groups = r.artifact.wgsl.match(/\/\/ grouped load/g)?.length ?? 0;
          expect(groups).toBe(vec4Loads === 'always' ? 2 * dtypes.length : 0);
          for (const [k, v] of Object.entries(r.out))
            expectSame(v.gpu, v.ref, `${k}, shift ${shift}, ${vec4Loads}`);
        }
      }
      // 'auto' groups sub-byte rows of 128 bits or more only.
      const auto = compileWgsl(program, {}).wgsl;
      const grouped = auto.match(/\/\/ grouped load/g)?.length ?? 0;
      expect(grouped).toBe(2 * dtypes.filter((d) => d.bits < 8).length);
      if (grouped > 0)
        expect(auto).toContain('vec4<u32>(x0[tv_w], x0[tv_w + 1u], x0[tv_w + 2u], x0[tv_w + 3u])');
    });
  }

  it('tensors the program stores to, and tiles whose scratch would not fit, keep per-element loads', () => {
    const b = new ProgramBuilder('no_group');
    b.global('x', u4, [64, 64], 'readwrite');
    b.global('w', u8, [64, 4096]);
    b.global('y', u8, [64, 64], 'write');
    b.threads(64);
    b.global('r', u8, [1, 4096], 'write');
    b.global('q', u8, [64, 256], 'write');
    const t = b.load('x', [0, 0], [64, 64]); // stored to below: per element
    b.store('x', [0, 0], t);
    b.store('y', [0, 0], b.cast(t, u8));
    b.store('r', [0, 0], b.load('w', [0, 0], [1, 4096])); // one row, 257 groups: grouped
    b.store('q', [0, 0], b.load('w', [0, 0], [64, 256])); // 64 rows x 17 groups x 16 bytes > 16 KiB
    const wgsl = compileWgsl(b.build(), { vec4Loads: 'always' }).wgsl;
    expect(wgsl.match(/\/\/ grouped load/g)?.length).toBe(1);
  });
});
