// The WGSL backend: a VM program to a WgslArtifact (runtime/artifact.ts), one workgroup per block.
// docs/wgsl-backend.md describes the design; emit.ts has one emitter per instruction.
import type { ArtifactParam, ArtifactUniform, WgslArtifact } from '../../artifact.js';
import { type DType, i32 } from '../../dtype.js';
import type { Program } from '../../ir/program.js';
import { printScalar, scalarVars } from '../../ir/scalar.js';
import { numel } from '../../ir/shapes.js';
import { validateProgram } from '../../ir/validate.js';
import { forEachStmt } from '../../ir/walk.js';
import { Gen, WORKGROUP_STORAGE_LIMIT } from './context.js';
import { emitBody } from './emit.js';
import { reg, rounded } from './expr.js';
import {
  featureDirectives,
  PACKED_DOT_FEATURE,
  SHADER_F16,
  setFeatureChoices,
  usedFeatures,
} from './features.js';
import { fnv1a64 } from './hash.js';
import { Namer } from './names.js';
import { type SubgroupReduce, subgroupPrologue } from './subgroups.js';

export interface WgslOptions {
  /**
   * Device features available. 'subgroups' lowers reductions along the last axis with subgroup
   * operations (subgroups.ts); without it every reduction is staged. Others are ignored.
   */
  readonly features?: ReadonlySet<string>;
  /**
   * With 'subgroups': 'auto' (the default) takes the subgroup path where it is faster than staging
   * (long rows), 'always' wherever it is valid (tests and benchmarks).
   */
  readonly subgroupReduce?: SubgroupReduce;
  /**
   * WGSL language features available (navigator.gpu.wgslLanguageFeatures; the runtime's
   * device.wgslLanguageFeatures). 'packed_4x8_integer_dot_product' lowers dots of 8-bit-or-narrower
   * integer tiles to dot4I8Packed / dot4U8Packed (dot4.ts).
   */
  readonly languageFeatures?: ReadonlySet<string>;
  /** 'off' forces the fallbacks of feature-dependent paths (features.ts); 'auto' (the default) uses what is available. */
  readonly packedDot?: 'auto' | 'off';
  readonly nativeF16?: 'auto' | 'off';
  /** Grouped 4-word loads of tensors the program never stores to (vec4.ts); 'always' wherever valid. */
  readonly vec4Loads?: 'auto' | 'always' | 'off';
}

/** Compiles a (valid) VM program to WGSL with its binding and uniform metadata. */
export function compileWgsl(program: Program, options: WgslOptions = {}): WgslArtifact {
  validateProgram(program);
  const g = new Gen(program, options.features, options.subgroupReduce);
  setFeatureChoices(g.helpers, {
    packedDot: options.packedDot !== 'off' && (options.languageFeatures?.has(PACKED_DOT_FEATURE) ?? false),
    nativeF16: options.nativeF16 !== 'off' && (options.features?.has(SHADER_F16) ?? false),
    vec4Loads: options.vec4Loads ?? 'auto',
  });
  const fields = new Namer();

  // Storage buffers, in param order; the uniform struct comes last.
  const params: ArtifactParam[] = [];
  let binding = 0;
  for (const p of program.params) {
    if (p.kind === 'scalar') {
      params.push({ kind: 'scalar', name: p.name, dtype: p.dtype.name });
      continue;
    }
    const name = g.namer.take(p.name);
    const fns = {
      index: g.namer.take(`${name}_index`),
      load: g.namer.take(`${name}_load`),
      store: g.namer.take(`${name}_store`),
    };
    g.globals.set(p.name, { p, name, binding, atomic: p.access !== 'read' && p.dtype.bits < 32, fns });
    params.push({
      kind: 'global',
      name: p.name,
      dtype: p.dtype.name,
      shape: p.shape.map(printScalar),
      access: p.access,
      binding,
    });
    binding++;
  }
  const uniformBinding = binding;

  // Uniforms: shape symbols (i32), scalar params (their register type; bool as u32), launch geometry.
  const symbols = new Set<string>();
  for (const p of program.params) if (p.kind === 'global') for (const d of p.shape) scalarVars(d, symbols);
  for (const s of symbols) g.uniforms.push({ name: s, field: fields.take(s), source: 'symbol', type: 'i32' });
  for (const p of program.params) {
    if (p.kind !== 'scalar') continue;
    const r = reg(p.dtype);
    const type = r === 'bool' ? 'u32' : r;
    g.uniforms.push({ name: p.name, field: fields.take(p.name), source: 'scalar', type });
  }
  for (const name of ['grid_x', 'grid_y', 'grid_z', 'dispatch_x', 'dispatch_y']) {
    g.uniforms.push({ name, field: fields.take(name), source: 'grid', type: 'u32' });
  }
  const field = (name: string, source: string) =>
    g.uniforms.find((u) => u.name === name && u.source === source)!.field;

  // Scalars of main: symbols and scalar params (from the uniforms), then let_scalar and loop variables.
  const assigned = new Map<string, DType>();
  forEachStmt(program.body, (s) => {
    if (s.op === 'let_scalar') assigned.set(`${s.name}:${s.value.dtype.name}`, s.value.dtype);
    if (s.op === 'for') assigned.set(`${s.var}:i32`, i32);
  });
  const isAssigned = (name: string, d: DType) => assigned.has(`${name}:${d.name}`);
  for (const s of symbols) {
    const d = i32;
    g.declareScalar(s, d, isAssigned(s, d), `params.${field(s, 'symbol')}`);
  }
  for (const p of program.params) {
    if (p.kind !== 'scalar') continue;
    const raw = `params.${field(p.name, 'scalar')}`;
    const init = p.dtype.kind === 'bool' ? `${raw} != 0u` : rounded(g.helpers, p.dtype, raw);
    g.declareScalar(p.name, p.dtype, isAssigned(p.name, p.dtype), init);
  }
  for (const [key, d] of assigned) {
    const name = key.slice(0, key.lastIndexOf(':'));
    if (!g.hasScalar(name, d)) g.declareScalar(name, d, true);
  }

  emitBody(g, program.body);

  const bytes = g.workgroupBytes();
  if (bytes > WORKGROUP_STORAGE_LIMIT) throw new Error(workgroupError(g, bytes));

  const wgsl = assemble(g, uniformBinding);
  const uniforms: ArtifactUniform[] = g.uniforms.map(({ name, source, type }) => ({ name, source, type }));
  const body = {
    format: 'tilevm-wgsl' as const,
    version: 1 as const,
    kernel: program.name,
    consts: { ...program.consts },
    wgsl,
    entryPoint: 'main',
    threads: program.threads,
    params,
    grid: program.grid.map(printScalar),
    uniforms,
    uniformBinding,
    features: [...(g.subgroupsUsed ? ['subgroups'] : []), ...usedFeatures(g.helpers)],
  };
  return { ...body, hash: fnv1a64(JSON.stringify(body)) };
}

function workgroupError(g: Gen, bytes: number): string {
  const parts = [...g.shared.values()].map(
    (s) =>
      `shared tile %${s.v.name}.${s.v.id} ${s.v.type.dtype.name}[${s.shape.join(', ')}]: ${numel(s.shape) * 4} bytes`,
  );
  if (g.scratchWords > 0) {
    const staged = g.scratchFor.map((t) => (t.v ? `%${t.v.name}.${t.v.id}` : t.name)).join(' and ');
    parts.push(`scratch for staging ${staged}: ${g.scratchWords * 4} bytes`);
  }
  return (
    `kernel '${g.program.name}': the WGSL backend needs ${bytes} bytes of workgroup memory (${parts.join('; ')}), ` +
    `more than the ${WORKGROUP_STORAGE_LIMIT} bytes WebGPU guarantees; use smaller tiles (each register ` +
    'element staged between threads, and each shared element, takes 4 bytes)'
  );
}

/** The whole WGSL module. */
function assemble(g: Gen, uniformBinding: number): string {
  const p = g.program;
  const out: string[] = [];
  const consts = Object.entries(p.consts)
    .map(([k, v]) => `${k} = ${v}`)
    .join(', ');
  if (g.subgroupsUsed) out.push('enable subgroups;', '');
  const directives = featureDirectives(g.helpers);
  if (directives.length > 0) out.push(...directives, '');
  out.push(
    `// tilevm kernel '${p.name}'${consts ? ` (consts ${consts})` : ''}: generated WGSL, do not edit.`,
    `// grid(${p.grid.map(printScalar).join(', ')}), ${p.threads} threads per block, one workgroup per block.`,
    `// layout conversions through workgroup memory: ${g.stats.conversions}; ops staged through it: ${g.stagings}.`,
    '',
    'struct Params {',
    ...g.uniforms.map(
      (u) =>
        `  ${u.field}: ${u.type}, // ${u.source === 'grid' ? 'launch geometry' : `${u.source} ${u.name}`}`,
    ),
    '}',
    '',
  );
  for (const info of g.globals.values()) {
    const q = info.p;
    const array = info.atomic ? 'array<atomic<u32>>' : 'array<u32>';
    const access = q.access === 'read' ? 'read' : 'read_write';
    out.push(
      `// ${q.name}: ${q.dtype.name}[${q.shape.map(printScalar).join(', ')}] ${q.access}, bit-packed`,
      `@group(0) @binding(${info.binding}) var<storage, ${access}> ${info.name}: ${array};`,
    );
  }
  out.push(`@group(0) @binding(${uniformBinding}) var<uniform> params: Params;`, '');
  for (const s of g.shared.values()) {
    out.push(
      `var<workgroup> ${s.name}: array<${s.reg}, ${numel(s.shape)}>; // shared ${s.v.type.dtype.name}[${s.shape.join(', ')}]`,
    );
  }
  if (g.scratchWords > 0) {
    out.push(`var<workgroup> scratch: array<u32, ${g.scratchWords}>; // staging between threads`);
  }
  if (g.shared.size > 0 || g.scratchWords > 0) out.push('');
  for (const code of g.helpers.code) out.push(code, '');

  const f = (name: string) =>
    `params.${g.uniforms.find((u) => u.name === name && u.source === 'grid')!.field}`;
  const [gx, gy, gz, dx, dy] = ['grid_x', 'grid_y', 'grid_z', 'dispatch_x', 'dispatch_y'].map(f);
  out.push(
    `@compute @workgroup_size(${p.threads})`,
    `fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) tid: u32${
      g.subgroupsUsed ? ', @builtin(subgroup_invocation_id) sg_lane: u32' : ''
    }) {`,
    '  // The dispatch may fold a long grid into y and z: linearize, drop the excess, unflatten.',
    `  let block = wg.x + ${dx} * (wg.y + ${dy} * wg.z);`,
    `  if block >= ${gx} * ${gy} * ${gz} {`,
    '    return;',
    '  }',
    `  let block_x = i32(block % ${gx});`,
    `  let block_y = i32((block / ${gx}) % ${gy});`,
    `  let block_z = i32(block / (${gx} * ${gy}));`,
  );
  // Bindings no instruction uses still belong to the pipeline's layout.
  const used = g.helpers.code.join('\n');
  for (const info of g.globals.values()) {
    if (!new RegExp(`\\b${info.name}\\[`).test(used)) out.push(`  _ = &${info.name};`);
  }
  const prologue = g.subgroupsUsed ? subgroupPrologue(p.threads) : [];
  out.push(...g.decls.map((d) => `  ${d}`), ...prologue.map((l) => `  ${l}`), ...g.w.lines, '}', '');
  return out.join('\n');
}
