// Native f16 (docs/wgsl-backend.md, "Native f16"). SwiftShader has no 'shader-f16', so the native
// path cannot run here: these tests check that the fallback is chosen on such a device and can be
// forced on one that claims the feature (and is then correct against the interpreter, bit for bit),
// and that the native WGSL is deterministic and structurally what the docs say. On hardware with
// 'shader-f16' the native artifact is launched by Kernel.launch like any other; it is untested here.
import { describe, expect, it } from 'vitest';
import { compileWgsl } from '../../dsl/backend/wgsl/index.js';
import { f16, f32, i32 } from '../../dsl/dtype.js';
import { ProgramBuilder } from '../../dsl/ir/builder.js';
import type { Program } from '../../dsl/ir/program.js';
import { binary } from '../../dsl/ir/scalar.js';
import {
  expectCompiles,
  expectSame,
  poisoned,
  randomTensor,
  runBoth,
  suiteDevice,
} from './wgsl-features-common.js';

const device = suiteDevice();

const [R, C] = [11, 37];

/** y = (x * w + x - w) and a row sum in f16, over 4 x 16 tiles of an R x C tensor (edge tiles). */
function f16Kernel(): Program {
  const b = new ProgramBuilder('f16_ops');
  b.global('x', f16, ['R', 'C']);
  b.global('w', f16, ['R', 'C']);
  b.global('y', f16, ['R', 'C'], 'write');
  b.global('s', f16, ['R', 'NB'], 'write');
  b.threads(32);
  b.grid(binary('cdiv', b.sym('R'), 4), binary('cdiv', b.sym('C'), 16));
  const i0 = b.let('i0', binary('mul', b.blockIdx.x, 4));
  const j0 = b.let('j0', binary('mul', b.blockIdx.y, 16));
  const x = b.load('x', [i0, j0], [4, 16]);
  const w = b.load('w', [i0, j0], [4, 16]);
  const y = b.sub(b.add(b.mul(x, w), x), w);
  b.store('y', [i0, j0], y);
  b.store('s', [i0, b.blockIdx.y], b.reduce('sum', y, 1, { keepdim: true }));
  return b.build();
}

function args() {
  return {
    x: randomTensor(f16, [R, C], 1, -40, 40),
    w: randomTensor(f16, [R, C], 2, -40, 40),
    y: poisoned(f16, [R, C]),
    s: poisoned(f16, [R, 3]),
  };
}

describe('WGSL native f16 and its fallback', () => {
  it('SwiftShader has no shader-f16: the fallback is chosen and matches the interpreter bit for bit', async () => {
    expect(device().features.has('shader-f16')).toBe(false);
    const r = await runBoth(device(), f16Kernel(), args(), { features: device().features });
    expect(r.artifact.wgsl).not.toContain('enable f16;');
    expect(r.artifact.wgsl).not.toMatch(/\bf16\(/);
    expect(r.artifact.features).toEqual([]);
    expectSame(r.out.y.gpu, r.out.y.ref, 'y');
    expectSame(r.out.s.gpu, r.out.s.ref, 's');
  });

  it("nativeF16: 'off' forces the fallback even when the features claim shader-f16", async () => {
    const features = new Set([...device().features, 'shader-f16']);
    const r = await runBoth(device(), f16Kernel(), args(), { features, nativeF16: 'off' });
    expect(r.artifact.wgsl).not.toContain('enable f16;');
    expect(r.artifact.features).toEqual([]);
    expectSame(r.out.y.gpu, r.out.y.ref, 'y');
    expectSame(r.out.s.gpu, r.out.s.ref, 's');
  });

  it('the native WGSL is deterministic and has the documented structure', () => {
    const features = new Set(['shader-f16']);
    const one = compileWgsl(f16Kernel(), { features });
    const two = compileWgsl(f16Kernel(), { features });
    expect(two.wgsl).toBe(one.wgsl);
    expect(two.hash).toBe(one.hash);
    expect(one.features).toEqual(['shader-f16']);
    // The directive comes before any declaration (only comments and directives above it).
    const lines = one.wgsl.split('\n');
    const first = lines.findIndex((l) => l.trim() !== '' && !l.trim().startsWith('//'));
    expect(lines[first]).toBe('enable f16;');
    // Storage through the native conversions; the integer-only codec functions are not called.
    expect(one.wgsl).toContain('fn tv_decode_f16_native(p: u32) -> f32 {');
    expect(one.wgsl).toContain('bitcast<vec2<f16>>(p & 0xffffu).x');
    expect(one.wgsl).toContain('fn tv_encode_f16_native(v: f32) -> u32 {');
    expect(one.wgsl).toContain('vec2<f16>(f16(v), 0.0h)');
    expect(one.wgsl).not.toMatch(/\bdecode_f16\(/);
    expect(one.wgsl).not.toMatch(/\bencode_f16\(/);
    expect(one.wgsl).not.toContain('unpack2x16float');
    expect(one.wgsl).not.toContain('pack2x16float');
    // + - * in f16, converted back to the f32 register; no rounding helper after them.
    for (const op of ['*', '+', '-'])
      expect(one.wgsl).toMatch(new RegExp(`f32\\(f16\\([^)]*\\) \\${op} f16\\(`));
    expect(one.wgsl).not.toMatch(/\bround_f16\(/);
    // Balanced braces and parentheses, as a cheap syntax check of the native-only text.
    const count = (c: string) => one.wgsl.split(c).length - 1;
    expect(count('{')).toBe(count('}'));
    expect(count('(')).toBe(count(')'));
  });

  it('the native WGSL validates in Tint once its f16 types are spelled as f32 (a shadow check)', async () => {
    // SwiftShader rejects `enable f16;`. Spelling the few f16 constructs as f32 ones of the same shape
    // keeps every name, scope and type the native text relies on, so Tint checks the rest of it.
    const native = compileWgsl(f16Kernel(), { features: new Set(['shader-f16']) });
    const shadow = native.wgsl
      .replace('enable f16;', '')
      .replace(/bitcast<vec2<f16>>\(([^)]*)\)\.x/g, 'bitcast<f32>($1)')
      .replace(/bitcast<u32>\(vec2<f16>\(f16\(v\), 0\.0h\)\)/g, 'bitcast<u32>(f32(v))')
      .replace(/\bf16\(/g, 'f32(');
    const code = shadow.replace(/\/\/.*$/gm, '');
    expect(code).not.toMatch(/<f16>|\bf16\(|: f16\b|\d\.\d+h\b/);
    await expectCompiles(device(), { ...native, wgsl: shadow });
  });

  it('the native and fallback modules differ only where f16 values are converted or computed', () => {
    const native = compileWgsl(f16Kernel(), { features: new Set(['shader-f16']) }).wgsl;
    const fallback = compileWgsl(f16Kernel(), { features: new Set(['shader-f16']), nativeF16: 'off' }).wgsl;
    const normalize = (w: string) =>
      w
        .replace(/^enable f16;\n\n/m, '')
        .replace(/tv_(de|en)code_f16_native/g, '$1code_f16')
        .replace(/f32\(f16\(([^)]*)\) (.) f16\(([^)]*)\)\)/g, 'round_f16(($1 $2 $3))');
    // Helper bodies differ; main's body must be the same program.
    const body = (w: string) => w.slice(w.indexOf('@compute'));
    expect(body(normalize(native))).toBe(body(fallback));
  });

  it('modules without f16 values never enable f16, even with the feature', () => {
    const b = new ProgramBuilder('no_f16');
    b.global('x', f32, [8]);
    b.global('y', i32, [8], 'write');
    b.threads(8);
    b.store('y', [0], b.cast(b.load('x', [0], [8]), i32));
    const a = compileWgsl(b.build(), { features: new Set(['shader-f16']) });
    expect(a.wgsl).not.toContain('enable f16;');
    expect(a.features).toEqual([]);
  });

  it('a native artifact launched on a device without shader-f16 fails with a clear error', async () => {
    const artifact = compileWgsl(f16Kernel(), { features: new Set(['shader-f16']) });
    const a = args();
    const t = {
      x: device().upload(a.x),
      w: device().upload(a.w),
      y: device().upload(a.y),
      s: device().upload(a.s),
    };
    await expect((async () => device().launch(artifact, t))()).rejects.toThrow(
      /needs device feature\(s\) 'shader-f16'/,
    );
    for (const x of Object.values(t)) x.destroy();
  });
});
