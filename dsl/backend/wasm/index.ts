// The WASM backend: a VM program to a WasmArtifact (runtime/artifact.ts). A block runs on one thread:
// threads and layouts vanish, register and shared tiles are buffers in the thread's scratch area,
// and tile ops are loop nests with v128 inner loops. docs/wasm-backend.md describes the design.
import binaryen from 'binaryen';
import type { ArtifactParam, WasmArtifact } from '../../artifact.js';
import { i32 as i32Type } from '../../dtype.js';
import type { Program } from '../../ir/program.js';
import { printScalar } from '../../ir/scalar.js';
import { shapeSymbols, validateProgram } from '../../ir/validate.js';
import { forEachStmt } from '../../ir/walk.js';
import { hash64, toBase64 } from './bytes.js';
import { Gen } from './context.js';
import { isIntDot } from './dot.js';
import { relaxedSubbyte, relaxedSubbyteDot } from './dot-subbyte.js';
import { emitBody } from './emit.js';
import type { Ref } from './fn.js';
import { normalizeReg, reg } from './formats.js';
import {
  contractAccumulations,
  enableRelaxed,
  RELAXED_SIMD_FEATURE,
  relaxedIntDotPlan,
  relaxedUsed,
} from './relaxed.js';
import { scalarExpr } from './scalar.js';

export interface WasmOptions {
  /**
   * Relaxed SIMD (relaxed.ts): `true` builds the module with relaxed ops where they pay (its
   * `features` then list 'relaxed-simd' when it has any); 'variant' builds the baseline module and
   * attaches the relaxed one as `relaxed` (when it differs), for artifacts that must run anywhere;
   * false/absent: baseline only.
   */
  readonly relaxedSimd?: boolean | 'variant';
  /** Fuse runs of elementwise statements into one loop nest (default true; false for comparisons). */
  readonly fuse?: boolean;
  /** Keep loop-carried tiles of fused loops in registers (default true; false for comparisons). */
  readonly carry?: boolean;
  /** Let float dots read a global b tile in place (dot-inplace.ts; default true; false for comparisons). */
  readonly inPlaceDot?: boolean;
  /** Inline hot helpers past binaryen's default limit (fn.ts `helper`; default true; false for comparisons). */
  readonly inlineHot?: boolean;
  /**
   * Relaxed compilations read 4-bit weights with the relaxed nibble dot (dot-subbyte.ts; default
   * `relaxedSubbyte.enabled`, true); false keeps the baseline nibble dot in the relaxed module.
   */
  readonly relaxedNibbleDot?: boolean;
}

/** The maximum every module declares for its memory, in 64 KiB pages (2 GiB; the WASM device's WASM_MAX_PAGES). */
export const WASM_MAX_PAGES = 32768;

type Descriptor = WasmArtifact['descriptor'][number];

const FEATURES =
  binaryen.Features.SIMD128 |
  binaryen.Features.Atomics |
  binaryen.Features.BulkMemory |
  binaryen.Features.BulkMemoryOpt |
  binaryen.Features.NontrappingFPToInt |
  binaryen.Features.SignExt |
  binaryen.Features.MutableGlobals;

/** Compiles a (valid) VM program to a WebAssembly module with its launch metadata. */
export function compileWasm(program: Program, options: WasmOptions = {}): WasmArtifact {
  const mode = options.relaxedSimd ?? false;
  // Relaxed integer dots change the emitted code (and scratch); multiply-adds are rewritten on the
  // optimized module. So a 'variant' whose only relaxed ops are multiply-adds needs one compile.
  const nibbleDot = options.relaxedNibbleDot ?? relaxedSubbyte.enabled;
  const relaxedDots = mode === true || (mode === 'variant' && hasRelaxedIntDot(program, nibbleDot));
  if (mode === 'variant' && relaxedDots) {
    return withVariant(compileWasm(program, { ...options, relaxedSimd: false }), () =>
      compileWasm(program, { ...options, relaxedSimd: true }),
    );
  }
  validateProgram(program);
  const g = new Gen(program);
  g.fuse = options.fuse !== false;
  g.carry = options.carry !== false;
  g.inPlaceDot = options.inPlaceDot !== false;
  g.relaxedNibbleDot = nibbleDot;
  if (relaxedDots) enableRelaxed(g);
  try {
    const { params, descriptor } = emitModule(g);
    if (relaxedDots) g.m.setFeatures(FEATURES | RELAXED_SIMD_FEATURE);
    const bytes = finishModule(g, program.name, options.inlineHot !== false);
    const fields = (wasm: Uint8Array, features: string[]) => ({
      format: 'tilevm-wasm' as const,
      version: 1 as const,
      kernel: program.name,
      consts: { ...program.consts },
      wasm: toBase64(wasm),
      params,
      grid: program.grid.map(printScalar),
      descriptor,
      scratchBytes: g.scratchBytes,
      maxPages: WASM_MAX_PAGES,
      features,
    });
    const hashed = <T extends object>(a: T) => ({ ...a, hash: hash64(JSON.stringify(a)) });
    if (mode === false) return hashed(fields(bytes, ['simd128']));
    // The relaxed module: this one with its accumulations contracted (it may have relaxed dots).
    g.m.setFeatures(FEATURES | RELAXED_SIMD_FEATURE);
    const contracted = contractAccumulations(g.m) > 0;
    if (contracted && !g.m.validate()) {
      throw new Error(`internal: the relaxed wasm module of '${program.name}' does not validate`);
    }
    const relaxed = contracted || relaxedUsed(g);
    const relaxedBytes = contracted ? g.m.emitBinary() : bytes;
    if (mode === true)
      return hashed(fields(relaxedBytes, relaxed ? ['simd128', 'relaxed-simd'] : ['simd128']));
    const base = hashed(fields(bytes, ['simd128']));
    return withVariant(base, () => hashed(fields(relaxedBytes, ['simd128', 'relaxed-simd'])), relaxed);
  } finally {
    g.m.dispose();
  }
}

/** The baseline artifact with `relaxed()` attached when it has relaxed ops. */
function withVariant(base: WasmArtifact, relaxed: () => WasmArtifact, has = true): WasmArtifact {
  const variant = has ? relaxed() : undefined;
  if (!variant?.features.includes('relaxed-simd')) return base;
  const { hash: _, ...fields } = base;
  const artifact = { ...fields, relaxed: variant };
  return { ...artifact, hash: hash64(JSON.stringify(artifact)) };
}

/** Whether some integer dot of the program may take the relaxed i8 x i7 path. */
function hasRelaxedIntDot(program: Program, nibbleDot: boolean): boolean {
  let found = false;
  forEachStmt(program.body, (s) => {
    if (s.op !== 'dot' || !isIntDot(s)) return;
    if (relaxedIntDotPlan(program, s) || relaxedSubbyteDot(program, s, nibbleDot)) found = true;
  });
  return found;
}

/** The module's memory import and `main`; the params and descriptor fields of the artifact. */
function emitModule(g: Gen): { params: ArtifactParam[]; descriptor: Descriptor[] } {
  const { f, m, program } = g;
  const I = m.i32;
  m.setFeatures(FEATURES);
  m.setMemory(1, WASM_MAX_PAGES, null, [], true, false, 'memory');
  m.addMemoryImport('memory', 'env', 'memory', true);

  // The launch descriptor: tensor addresses, shape symbols, scalar params, grid size.
  const descriptor: Descriptor[] = [];
  const params: ArtifactParam[] = [];
  const prologue: Ref[] = [];
  const field = (type: 'i32' | 'f32') => {
    const at = descriptor.length * 4;
    return type === 'f32' ? m.f32.load(at, 4, f.get(0)) : I.load(at, 4, f.get(0));
  };
  let binding = 0;
  for (const p of program.params) {
    if (p.kind === 'scalar') {
      params.push({ kind: 'scalar', name: p.name, dtype: p.dtype.name });
      continue;
    }
    params.push({
      kind: 'global',
      name: p.name,
      dtype: p.dtype.name,
      shape: p.shape.map(printScalar),
      access: p.access,
      binding: binding++,
    });
    const base = f.local(binaryen.i32);
    prologue.push(f.set(base, field('i32')));
    descriptor.push({ name: p.name, source: 'tensor', type: 'u32' });
    g.globals.set(p.name, { p, base, dims: [], strides: [] });
  }
  // Symbols and scalar params are read once per launch and reset at the start of every block (a
  // block may overwrite them with let_scalar; the next one starts from the launch values).
  const launch: { local: number; value: number }[] = [];
  for (const s of shapeSymbols(program)) {
    const value = f.local(binaryen.i32);
    prologue.push(f.set(value, field('i32')));
    descriptor.push({ name: s, source: 'symbol', type: 'i32' });
    launch.push({ local: g.scalar(s, i32Type), value });
  }
  for (const p of program.params) {
    if (p.kind !== 'scalar') continue;
    const r = reg(p.dtype);
    const type = r === 'f32' ? 'f32' : p.dtype.kind === 'int' && p.dtype.signed ? 'i32' : 'u32';
    const value = f.local(binaryen[r]);
    prologue.push(f.set(value, normalizeReg(g.mod, p.dtype, field(r))));
    descriptor.push({ name: p.name, source: 'scalar', type });
    launch.push({ local: g.scalar(p.name, p.dtype), value });
  }
  const grid = ['grid_x', 'grid_y', 'grid_z'].map((name) => {
    const local = f.local(binaryen.i32);
    // max(1, n): with blocks to run every dim is at least 1; this only keeps the division safe.
    prologue.push(f.set(local, field('i32')), f.set(local, I.add(f.get(local), I.eqz(f.get(local)))));
    descriptor.push({ name, source: 'grid', type: 'u32' });
    return local;
  });
  const reset = () => launch.map(({ local, value }) => f.set(local, f.get(value)));
  prologue.push(...reset());
  // Tensor dims and row-major strides, from the symbols.
  for (const info of g.globals.values()) {
    const rank = info.p.shape.length;
    info.p.shape.forEach((dim) => {
      const local = f.local(binaryen.i32);
      prologue.push(f.set(local, scalarExpr(g, dim)));
      info.dims.push(local);
    });
    const strides: number[] = new Array(rank);
    for (let d = rank - 1; d >= 0; d--) {
      strides[d] = f.local(binaryen.i32);
      prologue.push(
        f.set(
          strides[d],
          d === rank - 1 ? I.const(1) : I.mul(f.get(strides[d + 1]), f.get(info.dims[d + 1])),
        ),
      );
    }
    info.strides.push(...strides);
  }

  // for (b = begin; b < end; b++) { unflatten b x-fastest; body }
  const b = 1;
  const q = f.local(binaryen.i32);
  const done = f.label('blocks_end');
  const loop = f.label('blocks');
  const body = emitBody(g, program.body);
  const main = [
    ...prologue,
    m.block(done, [
      m.loop(
        loop,
        m.block(null, [
          m.br(done, I.ge_u(f.get(b), f.get(2))),
          f.set(g.block[0], I.rem_u(f.get(b), f.get(grid[0]))),
          f.set(q, I.div_u(f.get(b), f.get(grid[0]))),
          f.set(g.block[1], I.rem_u(f.get(q), f.get(grid[1]))),
          f.set(g.block[2], I.div_u(f.get(q), f.get(grid[1]))),
          ...reset(),
          ...body,
          f.set(b, I.add(f.get(b), I.const(1))),
          m.br(loop),
        ]),
      ),
    ]),
  ];
  f.finish('main', binaryen.none, main);
  m.addFunctionExport('main', 'main');
  return { params, descriptor };
}

/** Validates, optimizes (-O3) and validates again; the module's bytes. */
function finishModule(g: Gen, name: string, inlineHot: boolean): Uint8Array {
  const m = g.m;
  if (!m.validate()) {
    throw new Error(`internal: the wasm module of '${name}' does not validate:\n${m.emitText()}`);
  }
  binaryen.setOptimizeLevel(3);
  binaryen.setShrinkLevel(0);
  binaryen.setFastMath(false);
  binaryen.setFlexibleInlineMaxSize(DEFAULT_INLINE_SIZE);
  m.optimize();
  if (inlineHot) inlineHotHelpers(g);
  if (!m.validate()) throw new Error(`internal: the optimized wasm module of '${name}' does not validate`);
  return m.emitBinary();
}

/** Binaryen's default size limit for inlining a function with several callers. */
const DEFAULT_INLINE_SIZE = 20;
/** The limit for hot helpers: covers the f16 decode (about 45). */
const HOT_INLINE_SIZE = 100;

/**
 * Inlines the hot helpers the default -O3 left as calls (fn.ts `helper`): a call per element in a
 * scalar loop (the f16 scale of each row in a grouped GEMV step) costs ~10% of the u4 GEMV. The other
 * helpers are marked no-inline first, so only the hot ones grow the code; `inlining-optimizing`
 * re-optimizes just the functions that received a body.
 */
function inlineHotHelpers(g: Gen): void {
  const m = g.m;
  const { hot, cold } = g.mod.helperNames();
  if (!hot.some((n) => m.getFunction(n) !== 0)) return;
  for (const n of cold) {
    if (m.getFunction(n) === 0) continue;
    binaryen.setPassArgument('no-inline', n);
    m.runPasses(['no-inline']);
  }
  binaryen.setPassArgument('no-inline', null);
  binaryen.setFlexibleInlineMaxSize(HOT_INLINE_SIZE);
  try {
    m.runPasses(['inlining-optimizing', 'remove-unused-module-elements']);
  } finally {
    binaryen.setFlexibleInlineMaxSize(DEFAULT_INLINE_SIZE);
  }
}

export { fromBase64 } from './bytes.js';
