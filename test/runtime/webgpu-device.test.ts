// The WebGPU device on a real adapter (SwiftShader on CPU-only Linux: apt-get install chromium
// libvulkan1). Nothing is skipped: a machine without an adapter fails here, with the install hint.
// Kernels are hand-written WGSL artifacts, so these tests need nothing from the compiler.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it, vi } from 'vitest';
import type { GlobalSpec, KernelArgs } from '../../dsl/lang/signature.js';
import {
  ALL_DTYPES,
  bf16,
  bool,
  createDevice,
  DeviceLostError,
  type DType,
  f6e3m2,
  f16,
  f32,
  foldDispatch,
  type GpuTensor,
  i5,
  i32,
  LaunchError,
  ShaderError,
  Tensor,
  u3,
  u4,
  u32,
  type WebGpuDevice,
  WebGpuError,
  type WgslArtifact,
} from '../../runtime/index.js';
import { randomInt, rng } from '../helpers/random.js';
import {
  axpb,
  COORDS,
  GRID_FIELDS,
  handWrittenArtifact,
  U4_INC,
  UNFOLD,
  uniformStruct,
} from '../helpers/wgsl-artifacts.js';

let device: WebGpuDevice;
let other: WebGpuDevice;

beforeAll(async () => {
  device = await createDevice();
  other = await createDevice({ disableFeatures: ['subgroups'] });
});

afterAll(() => {
  device?.destroy();
  other?.destroy();
});

const ADD_ROWS_UNIFORMS: WgslArtifact['uniforms'] = [
  { name: 'M', source: 'symbol', type: 'u32' },
  { name: 'N', source: 'symbol', type: 'u32' },
  { name: 'offset', source: 'scalar', type: 'i32' },
  ...GRID_FIELDS,
];

/** c[m, n] = a[m, n] + b[n] + offset over a 2-D grid of 8x8 tiles (x along N, y along M). */
const ADD_ROWS = handWrittenArtifact({
  kernel: 'add_rows',
  threads: 64,
  params: [
    { kind: 'global', name: 'a', dtype: 'i32', shape: ['M', 'N'], access: 'read', binding: 0 },
    { kind: 'global', name: 'b', dtype: 'i32', shape: ['N'], access: 'read', binding: 1 },
    { kind: 'global', name: 'c', dtype: 'i32', shape: ['M', 'N'], access: 'write', binding: 2 },
    { kind: 'scalar', name: 'offset', dtype: 'i32' },
  ],
  grid: ['cdiv(N, 8)', 'cdiv(M, 8)'],
  uniforms: ADD_ROWS_UNIFORMS,
  uniformBinding: 3,
  wgsl: `${uniformStruct(ADD_ROWS_UNIFORMS)}
@group(0) @binding(0) var<storage, read> a: array<i32>;
@group(0) @binding(1) var<storage, read> b: array<i32>;
@group(0) @binding(2) var<storage, read_write> c: array<i32>;
@group(0) @binding(3) var<uniform> u: Uniforms;
@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {${UNFOLD}
  let n = bx * 8u + lid % 8u;
  let m = by * 8u + lid / 8u;
  if (m < u.M && n < u.N) { c[m * u.N + n] = a[m * u.N + n] + b[n] + u.offset; }
}`,
});

function randomTensor<D extends DType>(dtype: D, shape: readonly number[], seed: number): Tensor<D> {
  const r = rng(seed);
  const t = Tensor.zeros(dtype, shape);
  for (let i = 0; i < t.size; i++) t.setPattern(i, randomInt(r, 0, 2 ** dtype.bits - 1));
  return t;
}

describe('createDevice', () => {
  it('finds an adapter and reports features and limits', () => {
    expect(device.backend).toBe('webgpu');
    expect(device.limits.maxComputeWorkgroupsPerDimension).toBeGreaterThanOrEqual(65535);
    // The adapter's limits, not WebGPU's 128 MiB default.
    expect(device.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    for (const f of device.features) expect(typeof f).toBe('string');
    expect(device.gpu.features.has('subgroups')).toBe(device.features.has('subgroups'));
  });

  it('leaves out disabled features', () => {
    expect(other.features.has('subgroups')).toBe(false);
  });

  it('rejects a required feature the adapter lacks', async () => {
    await expect(createDevice({ requiredFeatures: ['no-such-feature'] })).rejects.toThrow(
      "createDevice: the adapter lacks required feature(s) 'no-such-feature'",
    );
  });
});

describe('tensors', () => {
  const named = [u3, i5, f6e3m2, bf16, f16, f32, i32, u32, bool, u4];
  const shapes = [[1], [7], [33], [3, 5], [2, 3, 7], [1001]];
  it.each(named.map((d) => [d.name, d]))('%s round trips bit-exactly with odd lengths', async (_, dtype) => {
    for (const [k, shape] of shapes.entries()) {
      const host = randomTensor(dtype as DType, shape, 100 + k);
      const gpu = device.upload(host);
      expect(gpu.dtype).toBe(dtype);
      expect(gpu.shape).toEqual(shape);
      expect(gpu.size).toBe(host.size);
      expect(gpu.byteLength).toBe(Math.max(4, host.data.length));
      expect(gpu.byteLength % 4).toBe(0);
      const back = await device.read(gpu);
      expect(back.shape).toEqual(shape);
      expect(back.dtype).toBe(dtype);
      expect(back.data).toEqual(host.data);
      gpu.destroy();
    }
  });

  it('round trips every dtype', async () => {
    const hosts = ALL_DTYPES.map((d, k) => randomTensor(d, [37], k));
    const gpus = hosts.map((h) => device.upload(h));
    const backs = await Promise.all(gpus.map((g) => device.read(g)));
    for (const [k, back] of backs.entries()) expect(back.data, ALL_DTYPES[k].name).toEqual(hosts[k].data);
    for (const g of gpus) g.destroy();
  });

  it('makes zeroed tensors, including empty ones', async () => {
    const t = device.tensor(f16, [3, 3]);
    expect(t.byteLength).toBe(20);
    expect((await device.read(t)).toArray()).toEqual(new Array(9).fill(0));
    const empty = device.tensor(u3, [0, 4]);
    expect(empty.size).toBe(0);
    expect(empty.byteLength).toBe(4);
    expect((await device.read(empty)).size).toBe(0);
    expect(String(t)).toBe('GpuTensor<f16>[3, 3]');
  });

  it('rejects bad shapes and destroyed tensors', async () => {
    expect(() => device.tensor(f32, [2, -1])).toThrow(
      'device.tensor: shape [2, -1] has dimension 1 = -1; each dimension must be a non-negative integer',
    );
    const t = device.tensor(f32, [4]);
    t.destroy();
    t.destroy();
    expect(t.destroyed).toBe(true);
    await expect(device.read(t)).rejects.toThrow('device.read: GpuTensor<f32>[4] was destroyed');
    expect(() => t.buffer).toThrow('GpuTensor<f32>[4] was destroyed; it can no longer be used');
    await expect(other.read(device.tensor(f32, [1]))).rejects.toThrow(
      'device.read: GpuTensor<f32>[1] belongs to another WebGPU device',
    );
  });

  it('types launch arguments as GpuTensors (KernelArgs<P, "webgpu">)', () => {
    type P = { x: GlobalSpec<typeof f32>; n: typeof i32 };
    expectTypeOf<KernelArgs<P, 'webgpu'>>().toEqualTypeOf<{
      readonly x: GpuTensor<typeof f32>;
      readonly n: number;
    }>();
  });
});

describe('launch', () => {
  it('runs y = x * alpha + bias', async () => {
    const n = 1000;
    const xs = Array.from({ length: n }, (_, i) => i * 0.25 - 100);
    const x = device.upload(Tensor.fromArray(f32, [n], xs));
    const y = device.tensor(f32, [n]);
    await device.launch(axpb(), { x, y, alpha: 1.5, bias: -2 });
    const out = (await device.read(y)).toArray();
    expect(out).toEqual(xs.map((v) => Math.fround(Math.fround(v * 1.5) - 2)));
  });

  it('runs a 2-D grid with an i32 uniform', async () => {
    const [m, n] = [13, 21];
    const a = Tensor.fromArray(
      i32,
      [m, n],
      Array.from({ length: m * n }, (_, i) => i * 7 - 500),
    );
    const b = Tensor.fromArray(
      i32,
      [n],
      Array.from({ length: n }, (_, i) => i * 1000),
    );
    const c = device.tensor(i32, [m, n]);
    await device.launch(ADD_ROWS, { a: device.upload(a), b: device.upload(b), c, offset: -3 });
    const out = (await device.read(c)).toArray();
    const want = a.toArray().map((v, i) => v + (i % n) * 1000 - 3);
    expect(out).toEqual(want);
  });

  it('folds a grid of more than 65535 blocks', async () => {
    expect(foldDispatch(70_000)).toEqual([65535, 2, 1]);
    expect(foldDispatch(65535 * 65535 + 1)).toEqual([65535, 65535, 2]);
    expect(foldDispatch(0)).toEqual([0, 0, 0]);
    const [A, B, C] = [50, 40, 35]; // 70000 blocks
    const out = device.tensor(u32, [C, B, A]);
    await device.launch(COORDS, { out });
    const got = (await device.read(out)).toArray();
    let bad = 0;
    for (let z = 0; z < C; z++)
      for (let y = 0; y < B; y++)
        for (let x = 0; x < A; x++) if (got[(z * B + y) * A + x] !== x + 100 * y + 10000 * z) bad++;
    expect(bad).toBe(0);
  });

  it('runs kernels on packed low-bit data with no uniform buffer', async () => {
    const x = randomTensor(u4, [77], 7);
    const y = device.tensor(u4, [77]);
    await device.launch(U4_INC, { x: device.upload(x), y });
    expect((await device.read(y)).toArray()).toEqual(x.toArray().map((v) => (v + 1) % 16));
  });

  it('launches nothing for a grid of 0 blocks', async () => {
    const x = device.tensor(f32, [0]);
    const y = device.tensor(f32, [0]);
    await device.launch(axpb(), { x, y, alpha: 1, bias: 1 });
    await device.flush();
  });

  it('batches launches into one submit, in order, and submits at the end of the turn', async () => {
    const n = 300;
    const k = axpb();
    const x = device.upload(
      Tensor.fromArray(
        f32,
        [n],
        Array.from({ length: n }, (_, i) => i),
      ),
    );
    const [y, z, w] = [0, 1, 2].map(() => device.tensor(f32, [n]));
    await device.launch(k, { x, y, alpha: 1, bias: 0 }); // compiles
    await device.flush();
    const submit = vi.spyOn(device.gpu.queue, 'submit');
    try {
      await device.launch(k, { x, y, alpha: 2, bias: 1 });
      await device.launch(k, { x: y, y: z, alpha: 3, bias: 0 });
      await device.launch(k, { x: z, y: w, alpha: 1, bias: -5 });
      expect(submit).toHaveBeenCalledTimes(0);
      const out = await device.read(w);
      expect(submit).toHaveBeenCalledTimes(1);
      expect(out.toArray()).toEqual(Array.from({ length: n }, (_, i) => (i * 2 + 1) * 3 - 5));
      // Without a read, the batch goes at the end of the turn.
      await device.launch(k, { x, y: w, alpha: 0, bias: 9 });
      expect(submit).toHaveBeenCalledTimes(1);
      await new Promise((r) => setImmediate(r)); // runs after the device's end-of-turn callback
      expect(submit).toHaveBeenCalledTimes(2);
    } finally {
      submit.mockRestore();
    }
    expect((await device.read(w)).toArray()).toEqual(new Array(n).fill(9));
  });

  it('keeps order when a launch waits for its kernel to compile', async () => {
    const n = 100;
    const x = device.upload(
      Tensor.fromArray(
        f32,
        [n],
        Array.from({ length: n }, (_, i) => i),
      ),
    );
    const y = device.tensor(f32, [n]);
    const z = device.tensor(f32, [n]);
    const compiled = axpb();
    await device.launch(compiled, { x, y: z, alpha: 0, bias: 0 });
    // Not awaited: the first compiles, the second (cached) must still run after it.
    const first = device.launch(axpb(), { x, y, alpha: 10, bias: 0 });
    const second = device.launch(compiled, { x: y, y: z, alpha: 1, bias: 1 });
    const out = await device.read(z);
    await Promise.all([first, second]);
    expect(out.toArray()).toEqual(Array.from({ length: n }, (_, i) => i * 10 + 1));
  });

  it('defers freeing a tensor that pending launches use', async () => {
    const x = device.upload(Tensor.fromArray(f32, [4], [1, 2, 3, 4]));
    const y = device.tensor(f32, [4]);
    const k = axpb();
    await device.launch(k, { x, y, alpha: 2, bias: 0 });
    x.destroy(); // the launch is encoded but not submitted yet
    expect((await device.read(y)).toArray()).toEqual([2, 4, 6, 8]);
    await expect(device.launch(k, { x, y, alpha: 2, bias: 0 })).rejects.toThrow(
      "launch of 'axpb': argument 'x' (GpuTensor<f32>[4]) was destroyed",
    );
  });
});

describe('launch argument errors', () => {
  const k = axpb();
  const x = () => device.tensor(f32, [5]);
  const cases: [string, () => Record<string, unknown>, string][] = [
    [
      'missing tensor',
      () => ({ x: x(), alpha: 1, bias: 0 }),
      "launch of 'axpb': missing argument 'y' (y: global f32[N])",
    ],
    [
      'extra argument',
      () => ({ x: x(), y: x(), alpha: 1, bias: 0, z: x() }),
      "launch of 'axpb': unexpected argument 'z'; the params are x, y, alpha, bias",
    ],
    [
      'wrong dtype',
      () => ({ x: device.tensor(f16, [5]), y: x(), alpha: 1, bias: 0 }),
      "launch of 'axpb': argument 'x' is f16, but the param is declared f32",
    ],
    [
      'symbol conflict',
      () => ({ x: x(), y: device.tensor(f32, [6]), alpha: 1, bias: 0 }),
      "launch of 'axpb': shape symbol N is 5 from x.shape[0] but 6 from y.shape[0] (argument 'y' has shape [6])",
    ],
    [
      'wrong rank',
      () => ({ x: device.tensor(f32, [5, 1]), y: x(), alpha: 1, bias: 0 }),
      "launch of 'axpb': argument 'x' has shape [5, 1] (rank 2), but the param is [N] (rank 1)",
    ],
    [
      'tensor for a scalar',
      () => ({ x: x(), y: x(), alpha: x(), bias: 0 }),
      "launch of 'axpb': argument 'alpha' must be a number (alpha: f32)",
    ],
    [
      'number for a tensor',
      () => ({ x: 3, y: x(), alpha: 1, bias: 0 }),
      "launch of 'axpb': argument 'x' must be a tensor (x: global f32[N])",
    ],
    [
      'host tensor',
      () => ({ x: Tensor.zeros(f32, [5]), y: x(), alpha: 1, bias: 0 }),
      "launch of 'axpb': argument 'x' is a host Tensor<f32>[5]; upload it first (device.upload(tensor))",
    ],
    [
      'tensor of another device',
      () => ({ x: other.tensor(f32, [5]), y: x(), alpha: 1, bias: 0 }),
      "launch of 'axpb': argument 'x' (GpuTensor<f32>[5]) belongs to another WebGPU device; read it back and upload it to this one",
    ],
    [
      'destroyed tensor',
      () => {
        const t = x();
        t.destroy();
        return { x: t, y: x(), alpha: 1, bias: 0 };
      },
      "launch of 'axpb': argument 'x' (GpuTensor<f32>[5]) was destroyed",
    ],
    [
      'written tensor passed twice',
      () => {
        const t = x();
        return { x: t, y: t, alpha: 1, bias: 0 };
      },
      "launch of 'axpb': arguments 'y' and 'x' are the same tensor (GpuTensor<f32>[5]); 'y' is written (access 'write'), so it must not be passed for another param",
    ],
  ];
  it.each(cases)('%s', async (_, args, message) => {
    const p = device.launch(k, args() as never);
    await expect(p).rejects.toThrow(LaunchError);
    await expect(p).rejects.toThrow(message);
  });

  it('checks scalar types', async () => {
    const a = device.tensor(i32, [2, 3]);
    const b = device.tensor(i32, [3]);
    const c = device.tensor(i32, [2, 3]);
    await expect(device.launch(ADD_ROWS, { a, b, c, offset: 1.5 })).rejects.toThrow(
      "launch of 'add_rows': argument 'offset' = 1.5 is not a i32 (an integer in -2147483648..2147483647)",
    );
    await expect(device.launch(ADD_ROWS, { a, b, c: device.tensor(i32, [2, 4]), offset: 0 })).rejects.toThrow(
      "launch of 'add_rows': shape symbol N is 3 from a.shape[1] but 4 from c.shape[1] (argument 'c' has shape [2, 4])",
    );
  });

  it('refuses a kernel that needs a feature the device lacks', async () => {
    const k2 = { ...axpb(), kernel: 'sg', features: ['subgroups'] };
    await expect(
      other.launch(k2, { x: other.tensor(f32, [1]), y: other.tensor(f32, [1]), alpha: 1, bias: 0 }),
    ).rejects.toThrow(
      "launch of 'sg': the kernel needs device feature(s) 'subgroups', which this device lacks",
    );
  });

  it('names the kernel and field of a malformed artifact', async () => {
    const bad = { ...axpb(), params: [{ kind: 'scalar', name: 's', dtype: 'f99' }] } as WgslArtifact;
    await expect(device.launch(bad, { s: 1 })).rejects.toThrow(
      "artifact of kernel 'axpb': param 's' has unknown dtype 'f99'",
    );
  });
});

describe('shader errors', () => {
  it('reports a WGSL compile error naming the kernel', async () => {
    const broken = handWrittenArtifact({
      ...U4_INC,
      kernel: 'broken',
      wgsl: U4_INC.wgsl.replace('var r = 0u;', 'var r = ;'),
    });
    const args = { x: device.tensor(u4, [8]), y: device.tensor(u4, [8]) };
    const p = device.launch(broken, args);
    await expect(p).rejects.toThrow(ShaderError);
    await expect(p).rejects.toThrow(/^kernel 'broken': its WGSL failed to compile:\n {2}error at 7:\d+: /);
    // The device stays usable.
    await device.launch(U4_INC, args);
    await device.flush();
  });

  it('reports a pipeline validation error naming the kernel', async () => {
    const wrongEntry = handWrittenArtifact({ ...U4_INC, kernel: 'wrong_entry', entryPoint: 'nope' });
    await expect(
      device.launch(wrongEntry, { x: device.tensor(u4, [8]), y: device.tensor(u4, [8]) }),
    ).rejects.toThrow(/^kernel 'wrong_entry': creating its compute pipeline failed: .*nope/s);
  });

  it('reports uncaptured WebGPU errors at the next flush', async () => {
    device.gpu.createBuffer({ size: 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.STORAGE });
    await expect(device.flush()).rejects.toThrow(WebGpuError);
    await device.flush();
  });
});

describe('device loss', () => {
  it('fails every call promptly and clearly after destroy()', async () => {
    const d = await createDevice();
    const x = d.upload(Tensor.fromArray(f32, [3], [1, 2, 3]));
    const y = d.tensor(f32, [3]);
    const pendingRead = d.read(x);
    const compiling = d.launch(axpb(), { x, y, alpha: 1, bias: 0 });
    const start = performance.now();
    d.destroy();
    const message = 'the WebGPU device was lost: device.destroy() was called; create a new device';
    await expect(pendingRead).rejects.toThrow(DeviceLostError);
    await expect(compiling).rejects.toThrow(message);
    await expect(d.launch(axpb(), { x, y, alpha: 1, bias: 0 })).rejects.toThrow(message);
    await expect(d.read(y)).rejects.toThrow(message);
    await expect(d.flush()).rejects.toThrow(message);
    expect(() => d.tensor(f32, [1])).toThrow(message);
    expect(() => d.upload(Tensor.zeros(f32, [1]))).toThrow(message);
    expect(performance.now() - start).toBeLessThan(2000);
    expect(d.lost).toBe(true);
    d.destroy();
    x.destroy();
  });
});

describe('runtime import boundary', () => {
  const allowed = new Set(
    [
      'artifact',
      'dtype',
      'float-format',
      'packing',
      'tensor',
      'ir/bind',
      'ir/shape-expr',
      'ir/scalar',
      'ir/errors',
      'ir/ops',
    ].map((m) => `dsl/${m}.js`),
  );
  const root = join(import.meta.dirname, '..', '..');
  const files = (readdirSync(join(root, 'runtime'), { recursive: true }) as string[]).filter((f) =>
    f.endsWith('.ts'),
  );
  it.each(files)('runtime/%s imports only leaf modules of dsl/', (file) => {
    const source = readFileSync(join(root, 'runtime', file), 'utf8');
    for (const m of source.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)) {
      const target = m[1];
      if (!target.includes('dsl/')) continue;
      expect(allowed, `${file} imports ${target}`).toContain(target.slice(target.indexOf('dsl/')));
    }
  });
});
