// Hand-written WGSL artifacts shared by the WebGPU device suites (test/runtime/webgpu-device.test.ts
// in Node, test/browser/webgpu-browser.test.ts in Chromium): they need nothing from the compiler, so
// the runtime is tested on its own. Plain data built in Node (the browser suite ships them as JSON).
import type { WgslArtifact } from '../../runtime/index.js';

/** A uniform struct's WGSL: fields named as the artifact's uniforms. */
export function uniformStruct(fields: WgslArtifact['uniforms']): string {
  return `struct Uniforms { ${fields.map((f) => `${f.name}: ${f.type}`).join(', ')} }`;
}

/** The grid uniforms the runtime fills for a folded dispatch. */
export const GRID_FIELDS: WgslArtifact['uniforms'] = [
  'grid_x',
  'grid_y',
  'grid_z',
  'dispatch_x',
  'dispatch_y',
].map((name) => ({ name, source: 'grid', type: 'u32' }));

/** WGSL that recovers (bx, by, bz) from a folded dispatch, returning from blocks past the grid. */
export const UNFOLD = `
  let linear = wg.x + u.dispatch_x * (wg.y + u.dispatch_y * wg.z);
  if (linear >= u.grid_x * u.grid_y * u.grid_z) { return; }
  let bx = linear % u.grid_x;
  let by = (linear / u.grid_x) % u.grid_y;
  let bz = linear / (u.grid_x * u.grid_y);`;

let hashes = 0;

/** An artifact with the fixed fields filled in and a fresh hash (variants made by spreading compile anew). */
export function handWrittenArtifact(
  a: Omit<WgslArtifact, 'format' | 'version' | 'consts' | 'hash' | 'entryPoint' | 'features'> &
    Partial<WgslArtifact>,
): WgslArtifact {
  return {
    format: 'tilevm-wgsl',
    version: 1,
    consts: {},
    entryPoint: 'main',
    features: [],
    ...a,
    hash: `${a.kernel}-${++hashes}`,
  };
}

export const AXPB_UNIFORMS: WgslArtifact['uniforms'] = [
  { name: 'N', source: 'symbol', type: 'u32' },
  { name: 'alpha', source: 'scalar', type: 'f32' },
  { name: 'bias', source: 'scalar', type: 'f32' },
  ...GRID_FIELDS,
];

/** y[i] = x[i] * alpha + bias, 64 threads a block. */
export function axpb(): WgslArtifact {
  return handWrittenArtifact({
    kernel: 'axpb',
    threads: 64,
    params: [
      { kind: 'global', name: 'x', dtype: 'f32', shape: ['N'], access: 'read', binding: 0 },
      { kind: 'global', name: 'y', dtype: 'f32', shape: ['N'], access: 'write', binding: 1 },
      { kind: 'scalar', name: 'alpha', dtype: 'f32' },
      { kind: 'scalar', name: 'bias', dtype: 'f32' },
    ],
    grid: ['cdiv(N, 64)'],
    uniforms: AXPB_UNIFORMS,
    uniformBinding: 2,
    wgsl: `${uniformStruct(AXPB_UNIFORMS)}
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@group(0) @binding(2) var<uniform> u: Uniforms;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {${UNFOLD}
  let i = bx * 64u + lid;
  if (i < u.N) { y[i] = x[i] * u.alpha + u.bias; }
}`,
  });
}

/** out[z, y, x] = x + 100 y + 10000 z, one single-thread block per element: a 3-D grid to fold. */
export const COORDS = handWrittenArtifact({
  kernel: 'coords',
  threads: 1,
  params: [
    { kind: 'global', name: 'out', dtype: 'u32', shape: ['C', 'B', 'A'], access: 'write', binding: 0 },
  ],
  grid: ['A', 'B', 'C'],
  uniforms: GRID_FIELDS,
  uniformBinding: 1,
  wgsl: `${uniformStruct(GRID_FIELDS)}
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<uniform> u: Uniforms;
@compute @workgroup_size(1)
fn main(@builtin(workgroup_id) wg: vec3<u32>) {${UNFOLD}
  out[(bz * u.grid_y + by) * u.grid_x + bx] = bx + 100u * by + 10000u * bz;
}`,
});

/** y = x + 1 (wrapping) on u4 data, one thread per packed word; no uniforms at all. */
export const U4_INC = handWrittenArtifact({
  kernel: 'u4_inc',
  threads: 64,
  params: [
    { kind: 'global', name: 'x', dtype: 'u4', shape: ['N'], access: 'read', binding: 0 },
    { kind: 'global', name: 'y', dtype: 'u4', shape: ['N'], access: 'write', binding: 1 },
  ],
  grid: ['cdiv(cdiv(N, 8), 64)'],
  uniforms: [],
  uniformBinding: 2,
  wgsl: `@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let w = gid.x;
  if (w >= arrayLength(&y)) { return; }
  var r = 0u;
  for (var j = 0u; j < 8u; j++) { r |= (((x[w] >> (4u * j)) + 1u) & 15u) << (4u * j); }
  y[w] = r;
}`,
});
