// Register layouts in the WGSL backend (docs/wgsl-backend.md, "Register tiles and layouts"): tiles
// placed by user layouts (several shapes, column orders, replication, edge tiles) compute what the
// interpreter computes; layout inference keeps the corpus's row reductions and broadcasts in
// registers (no conversion, no staging); layouts forced to disagree get a conversion through
// workgroup memory and stay correct. Every emitted module must compile with no message. All
// programs here are exact (integer arithmetic, or f32 adds/muls/max of small integers in the
// interpreter's order), so results must match bit for bit.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileWgsl } from '../../dsl/backend/wgsl/index.js';
import { inferLayouts, rowLayout } from '../../dsl/backend/wgsl/layout-inference.js';
import { holder, layoutCode, localSlots, slotMapExpr } from '../../dsl/backend/wgsl/layouts.js';
import { type DType, f32, i32, u4 } from '../../dsl/dtype.js';
import { interpret } from '../../dsl/interp/interpret.js';
import { ProgramBuilder } from '../../dsl/ir/builder.js';
import type { Program } from '../../dsl/ir/program.js';
import { binary } from '../../dsl/ir/scalar.js';
import { columnSpatial, type Layout, local, replicated, spatial } from '../../dsl/layout.js';
import { Tensor } from '../../dsl/tensor.js';
import { createDevice, type WebGpuDevice } from '../../runtime/webgpu/device.js';
import type { GpuTensor } from '../../runtime/webgpu/tensor.js';
import { randomInt, rng } from '../helpers/random.js';
import { gemv } from '../lang/kernels/gemv.js';
import { layerNorm } from '../lang/kernels/layernorm.js';
import { softmax } from '../lang/kernels/softmax.js';

process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
process.env.XDG_RUNTIME_DIR ??= '/tmp';

let device: WebGpuDevice;

beforeAll(async () => {
  device = await createDevice(); // a missing adapter fails the suite: it never skips
}, 120_000);

afterAll(() => {
  device?.destroy();
});

/** The counts the module's header comment reports. */
function movement(wgsl: string): { conversions: number; staged: number } {
  const m = /layout conversions through workgroup memory: (\d+); ops staged through it: (\d+)\./.exec(wgsl);
  if (!m) throw new Error('the WGSL header has no layout statistics');
  return { conversions: Number(m[1]), staged: Number(m[2]) };
}

/** Small random values: exact under the programs' adds, muls and sums in f32 and i32. */
function randomTensor(dtype: DType, shape: readonly number[], seed: number): Tensor {
  const r = rng(seed);
  const t = Tensor.zeros(dtype, shape);
  for (let i = 0; i < t.size; i++) {
    if (dtype.kind === 'float') t.set(i, randomInt(r, -50, 50));
    else t.setPattern(i, randomInt(r, 0, 2 ** Math.min(dtype.bits, 16) - 1));
  }
  return t;
}

/** Output poison: NaN for floats, a random pattern for integers (never a plausible result). */
function poisoned(dtype: DType, shape: readonly number[]): Tensor {
  const t = Tensor.zeros(dtype, shape);
  if (dtype.kind === 'float') return t.fill(Number.NaN);
  const r = rng(7);
  for (let i = 0; i < t.size; i++) t.setPattern(i, randomInt(r, 0, 2 ** dtype.bits - 1));
  return t;
}

/** Runs `program` on the interpreter and the device; every written tensor must match bit for bit. */
async function expectLikeInterpreter(program: Program, args: Record<string, Tensor>): Promise<string> {
  const artifact = compileWgsl(program, { features: device.features });
  const module = device.gpu.createShaderModule({ code: artifact.wgsl });
  const info = await module.getCompilationInfo();
  expect(
    info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`),
    `WGSL of ${program.name}`,
  ).toEqual([]);
  const ref: Record<string, Tensor> = {};
  const dev: Record<string, GpuTensor> = {};
  for (const [k, v] of Object.entries(args)) {
    ref[k] = v.clone();
    dev[k] = device.upload(v);
  }
  interpret(program, ref);
  await device.launch(artifact, dev);
  for (const p of program.params) {
    if (p.kind !== 'global' || p.access === 'read') continue;
    const got = await device.read(dev[p.name]);
    const want = ref[p.name];
    const g = got.patterns();
    const w = want.patterns();
    const bad: string[] = [];
    for (let i = 0; i < w.length && bad.length < 6; i++)
      if (g[i] !== w[i]) bad.push(`${p.name}[${i}]: got ${got.get(i)}, want ${want.get(i)}`);
    expect(bad, `${program.name}: ${p.name}`).toEqual([]);
  }
  for (const t of Object.values(dev)) t.destroy();
  return artifact.wgsl;
}

/**
 * Rows of an R x C tensor in BR x BC tiles loaded with `layout` (R, C leave edge tiles): u = 3 t + 1,
 * y = u - rowmax(u) (a broadcast of a reduced tile), z = rowsum(u).
 */
function rowsProgram(name: string, dtype: DType, layout: Layout, threads: number): Program {
  const [BR, BC] = layout.shape;
  const b = new ProgramBuilder(name);
  b.global('x', dtype, ['R', 'C']);
  b.global('y', dtype, ['R', 'C'], 'write');
  b.global('z', dtype, ['R'], 'write');
  b.threads(threads);
  b.grid(binary('cdiv', b.sym('R'), BR));
  const row = b.let('row', binary('mul', b.blockIdx.x, BR));
  const t = b.load('x', [row, 0], [BR, BC], { other: 0, layout });
  const u = b.binary('add', b.binary('mul', t, 3), 1);
  b.store('y', [row, 0], b.binary('sub', u, b.reduce('max', u, 1, { keepdim: true })));
  b.store('z', [row], b.reduce('sum', u, 1));
  return b.build();
}

const USER_LAYOUTS: readonly { readonly name: string; readonly layout: Layout; readonly threads: number }[] =
  [
    { name: 'spatial(4, 8).local(2, 2)', layout: spatial(4, 8).local(2, 2), threads: 32 },
    { name: 'local(2, 2).spatial(4, 8)', layout: local(2, 2).spatial(4, 8), threads: 32 },
    { name: 'columnSpatial(4, 8).local(2, 2)', layout: columnSpatial(4, 8).local(2, 2), threads: 32 },
    {
      name: 'spatial(4, 8).replicate(2).local(2, 2)',
      layout: spatial(4, 8).replicate(2).local(2, 2),
      threads: 64,
    },
    {
      name: 'replicated(4, 2).spatial(2, 8).local(4, 2)',
      layout: replicated(4, 2).spatial(2, 8).local(4, 2),
      threads: 64,
    },
    {
      name: 'rows in one thread: spatial(8, 1).local(1, 16)',
      layout: spatial(8, 1).local(1, 16),
      threads: 8,
    },
    { name: 'one row: spatial(1, 32).local(1, 2)', layout: spatial(1, 32).local(1, 2), threads: 32 },
    {
      name: 'odd shape 3 x 5: replicated(2, 2).local(3, 5)',
      layout: replicated(2, 2).local(3, 5),
      threads: 2,
    },
    { name: 'odd shape 6 x 5: spatial(3, 1).local(2, 5)', layout: spatial(3, 1).local(2, 5), threads: 3 },
  ];

describe('user layouts on load', () => {
  it.each(USER_LAYOUTS.flatMap((c) => [i32, f32].map((dtype) => ({ ...c, dtype, dn: dtype.name }))))(
    '$name, $dn: equal to the interpreter, edge tiles included',
    async ({ layout, threads, dtype }) => {
      const [BR, BC] = layout.shape;
      const R = 2 * BR + Math.max(1, BR - 1);
      const C = Math.max(1, BC - 3);
      const p = rowsProgram('rows', dtype, layout, threads);
      const wgsl = await expectLikeInterpreter(p, {
        x: randomTensor(dtype, [R, C], R * 31 + C),
        y: poisoned(dtype, [R, C]),
        z: poisoned(dtype, [R]),
      });
      // The layout is honoured: the loaded tile is declared with it.
      expect(wgsl).toContain(`// ${layout.toString()}`);
      expect(movement(wgsl).conversions).toBe(0);
    },
  );

  it('a replicated layout stores each element once (sub-word u4 through atomics)', async () => {
    const layout = spatial(2, 4).replicate(4).local(4, 4); // 8 x 16, 32 threads, every element in 4
    const b = new ProgramBuilder('u4_replicated');
    b.global('x', u4, ['R', 'C']);
    b.global('y', u4, ['R', 'C'], 'write');
    b.threads(32);
    b.grid(binary('cdiv', b.sym('R'), 8));
    const row = b.let('row', binary('mul', b.blockIdx.x, 8));
    const t = b.load('x', [row, 0], [8, 16], { layout });
    b.store('y', [row, 0], b.binary('add', t, 5)); // wraps in u4
    const R = 19;
    const C = 13;
    await expectLikeInterpreter(b.build(), { x: randomTensor(u4, [R, C], 3), y: poisoned(u4, [R, C]) });
  });
});

describe('layout inference', () => {
  it('softmax, layer norm and GEMV need no conversion: reduced rows are broadcast from registers', () => {
    for (const p of [
      softmax.compile().program,
      layerNorm.compile().program,
      gemv(u4, 32, 8).compile().program,
    ]) {
      const wgsl = compileWgsl(p).wgsl;
      expect(movement(wgsl).conversions, p.name).toBe(0);
      // Only the reductions (and GEMV's repeat) move data; every broadcast reads registers.
      expect(movement(wgsl).staged, p.name).toBe(2);
    }
  });

  it('keeps rows in threads with a few replicas when rows alone cannot use every thread', async () => {
    // 16 rows over 64 threads: 4 copies of each row, the max and the subtraction in registers.
    const b = new ProgramBuilder('rows_replicated');
    b.global('x', f32, ['R', 'C']);
    b.global('y', f32, ['R', 'C'], 'write');
    b.threads(64);
    b.grid(binary('cdiv', b.sym('R'), 16));
    const row = b.let('row', binary('mul', b.blockIdx.x, 16));
    const t = b.load('x', [row, 0], [16, 32], { other: 0 });
    b.store('y', [row, 0], b.binary('sub', t, b.reduce('max', t, 1, { keepdim: true })));
    const wgsl = await expectLikeInterpreter(b.build(), {
      x: randomTensor(f32, [37, 30], 8),
      y: poisoned(f32, [37, 30]),
    });
    expect(wgsl).toContain('// local(1, 32).replicate(4).spatial(16, 1)');
    expect(movement(wgsl)).toEqual({ conversions: 0, staged: 0 });
  });

  it('keeps rows in one thread when the other dims take every thread (GEMV-like, exact)', async () => {
    // y[n] = sum_k W[n, k] x[k]: 64 rows over 64 threads, x broadcast from registers.
    const b = new ProgramBuilder('rows_gemv');
    b.global('w', i32, ['N', 'K']);
    b.global('x', i32, ['K']);
    b.global('y', i32, ['N'], 'write');
    b.threads(64);
    b.grid(binary('cdiv', b.sym('N'), 64));
    const n0 = b.let('n0', binary('mul', b.blockIdx.x, 64));
    const w = b.load('w', [n0, 0], [64, 32]);
    const x = b.unsqueeze(b.load('x', [0], [32]), 0);
    b.store('y', [n0], b.reduce('sum', b.binary('mul', w, x), 1));
    const p = b.build();
    const placed = inferLayouts(p);
    expect([...placed.values()].map((q) => (q.kind === 'layout' ? q.layout.toString() : q.kind))).toContain(
      'spatial(64, 1).local(1, 32)',
    );
    const wgsl = await expectLikeInterpreter(p, {
      w: randomTensor(i32, [100, 29], 1),
      x: randomTensor(i32, [29], 2),
      y: poisoned(i32, [100]),
    });
    expect(movement(wgsl)).toEqual({ conversions: 0, staged: 0 });
    expect(wgsl).not.toContain('scratch');
  });

  it('runs inferred softmax rows on the device like the interpreter', async () => {
    const p = softmax.compile().program;
    const M = 9;
    const N = 50;
    const x = randomTensor(f32, [M, N], 4);
    const ref = { x: x.clone(), y: poisoned(f32, [M, N]) };
    interpret(p, ref);
    const artifact = compileWgsl(p);
    const dx = device.upload(x);
    const dy = device.upload(poisoned(f32, [M, N]));
    await device.launch(artifact, { x: dx, y: dy });
    const got = (await device.read(dy)).toArray();
    const want = ref.y.toArray();
    // exp and div: WGSL's accuracy (docs/wgsl-backend.md, Accuracy): relative 2^-18 is far above it.
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(2 ** -18);
    dx.destroy();
    dy.destroy();
  });
});

describe('conflicting layouts', () => {
  it('two loads forced to different layouts: one conversion, results exact', async () => {
    const b = new ProgramBuilder('conflict');
    b.global('x', i32, ['R', 'C']);
    b.global('y', i32, ['R', 'C'], 'write');
    b.threads(32);
    b.grid(binary('cdiv', b.sym('R'), 8));
    const row = b.let('row', binary('mul', b.blockIdx.x, 8));
    const a = b.load('x', [row, 0], [8, 16], { layout: spatial(4, 8).local(2, 2) });
    const c = b.load('x', [row, 0], [8, 16], { layout: columnSpatial(8, 4).local(1, 4) });
    b.store('y', [row, 0], b.binary('sub', b.binary('mul', a, 7), c));
    const wgsl = await expectLikeInterpreter(b.build(), {
      x: randomTensor(i32, [21, 13], 5),
      y: poisoned(i32, [21, 13]),
    });
    expect(movement(wgsl).conversions).toBe(1);
  });

  it('convert_layout moves data only when the layouts differ; a mask in another layout is converted', async () => {
    const b = new ProgramBuilder('convert');
    b.global('x', i32, ['R', 'C']);
    b.global('y', i32, ['R', 'C'], 'write');
    b.global('z', i32, ['R', 'C'], 'write');
    b.threads(32);
    b.grid(binary('cdiv', b.sym('R'), 8));
    const row = b.let('row', binary('mul', b.blockIdx.x, 8));
    const A = spatial(4, 8).local(2, 2);
    const B = local(2, 2).spatial(4, 8);
    const t = b.load('x', [row, 0], [8, 16], { layout: A });
    const same = b.convertLayout(t, A); // free
    const other = b.convertLayout(t, B); // a conversion
    // The same elements per thread in another slot order: free, through a slot table.
    const reordered = b.convertLayout(t, spatial(4, 8).columnLocal(2, 2));
    b.store('y', [row, 0], b.binary('add', same, b.binary('mul', reordered, 3)));
    const keep = b.convertLayout(b.binary('gt', other, 100), A); // a second conversion
    const masked = b.load('x', [row, 0], [8, 16], { layout: B, mask: keep, other: -1 }); // a third
    b.store('z', [row, 0], masked);
    const wgsl = await expectLikeInterpreter(b.build(), {
      x: randomTensor(i32, [20, 16], 6),
      y: poisoned(i32, [20, 16]),
      z: poisoned(i32, [20, 16]),
    });
    expect(movement(wgsl).conversions).toBe(3);
    expect(wgsl).toMatch(/var<private> slot_map\d+: array<u32, 4> = array<u32, 4>\(0u, 2u, 1u, 3u\);/);
  });
});

describe('layout arithmetic (compile time)', () => {
  it('rowLayout keeps rows in threads, replicating or splitting as the shape allows', () => {
    expect(rowLayout([64, 32], 1, 64)?.toString()).toBe('spatial(64, 1).local(1, 32)');
    expect(rowLayout([16, 32], 1, 64)?.replication).toBe(4); // rows in threads, 4 copies
    expect(rowLayout([4, 64], 1, 128)?.localSize).toBe(2); // 32 copies would be too many: split
    const split = rowLayout([8, 1024], 1, 64); // 1024 per thread would be too many: the row is split
    expect(split?.localSize).toBe(128);
    expect(split?.replication).toBe(1);
  });

  it('index code and slot maps agree with the layout', () => {
    const l = spatial(4, 8).replicate(2).local(2, 2);
    const c = layoutCode(l);
    expect(c.primary).toBeDefined();
    // Evaluate the emitted expressions in JS for every (tid, slot) and compare with Layout.map.
    // u32 arithmetic of the emitted form: a / b truncates (every '(x / n)' group), literals drop 'u'.
    const evalU32 = (expr: string, tid: number, slot: number): number => {
      const js = expr.replace(/(\d+)u/g, '$1').replace(/\(([^()]*) \/ ([^()]*)\)/g, 'Math.floor($1 / $2)');
      return Function('tid', 'slot', `return ${js};`)(tid, slot) as number;
    };
    const h = holder(l.shape, { kind: 'layout', layout: l }, l.numThreads);
    for (let t = 0; t < l.numThreads; t++)
      for (let s = 0; s < l.localSize; s++) {
        const el = evalU32(c.threadPart, t, s) + evalU32(c.localPart('slot'), t, s);
        expect(el).toBe(h.flat(t, s));
      }
    expect(slotMapExpr([0, 1, 2, 3], 'slot')).toBe('slot');
    expect(slotMapExpr([0, 0, 1, 1], 'slot')).toBe('(slot / 2u)');
    expect(slotMapExpr([3, 1, 2], 'slot')).toBeUndefined();
    // A row-sum result [8, 1] under the reduced layout: each thread holds its rows' results.
    const src = holder([8, 16], { kind: 'layout', layout: spatial(8, 1).local(1, 16) }, 8);
    const dst = holder([8, 1], { kind: 'layout', layout: spatial(8, 1) }, 8);
    expect(localSlots(dst, src, 8, (e) => [e * 16, e * 16 + 15])).toEqual([[0, 15]]);
    expect(localSlots(src, dst, 8, (e) => [((e + 16) % 128) >> 4])).toBeUndefined();
  });
});
