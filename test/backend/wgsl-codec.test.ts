// The WGSL codec helpers (dsl/backend/wgsl/codec.ts) run on a real WebGPU device (Dawn in Node; SwiftShader
// on machines without a GPU) against the reference dsl/dtype.ts: decode of every pattern of every dtype up
// to 16 bits, encode and round of every representable value, every midpoint and >= 20k random f32 values
// per float dtype, casts between a sample of dtype pairs, and compilation of every generated function
// with no messages. A missing adapter fails the test: it is never skipped.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type RegisterType,
  registerType,
  type WgslFunction,
  wgslCast,
  wgslDecode,
  wgslEncode,
  wgslRound,
} from '../../dsl/backend/wgsl/codec.js';
import {
  ALL_DTYPES,
  castValue,
  type DType,
  decode,
  dtypeByName,
  encode,
  type FloatDType,
  roundToDType,
} from '../../dsl/dtype.js';
import { randomInt, randomU32, rng } from '../helpers/random.js';

// ---------------------------------------------------------------------------------------------------
// Device

let gpu: GPU | undefined; // kept alive for the device's lifetime: Dawn crashes if it is collected first
let device: GPUDevice;
/** Uncaptured device errors (validation, out of memory), checked after every batch of shaders. */
const deviceErrors: string[] = [];

beforeAll(async () => {
  process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  gpu = create([]);
  const adapter = await gpu.requestAdapter();
  if (adapter === null) {
    throw new Error(
      'no WebGPU adapter: the WGSL codec test needs one (Dawn with Vulkan; SwiftShader at ' +
        `${process.env.VK_ICD_FILENAMES}); CI=${process.env.CI ?? ''}`,
    );
  }
  device = await adapter.requestDevice();
  device.addEventListener('uncapturederror', (e) => {
    deviceErrors.push((e as GPUUncapturedErrorEvent).error.message);
  });
}, 60_000);

afterAll(() => {
  device?.destroy();
  gpu = undefined;
});

function dt(name: string): DType {
  const d = dtypeByName(name);
  if (d === undefined) throw new Error(`dtype ${name} is not registered`);
  return d;
}

/** Compiles `code` and fails on any message (error, warning or info). */
async function compile(code: string): Promise<GPUShaderModule> {
  const module = device.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  const messages = info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`);
  expect(messages, code.length < 4000 ? code : 'shader').toEqual([]);
  return module;
}

// ---------------------------------------------------------------------------------------------------
// Harness: one shader applies many functions, each to its own slice of a u32 input array.

/** One function applied to `inputs` (register values as u32 bits: f32 bits, i32 bits, 0/1 for bool). */
interface Job {
  readonly fn: WgslFunction;
  readonly from: RegisterType;
  readonly to: RegisterType;
  readonly inputs: Uint32Array;
}

const IN: Record<RegisterType, (x: string) => string> = {
  f32: (x) => `bitcast<f32>(${x})`,
  i32: (x) => `bitcast<i32>(${x})`,
  u32: (x) => x,
  bool: (x) => `${x} != 0u`,
};

const OUT: Record<RegisterType, (x: string) => string> = {
  f32: (x) => `bitcast<u32>(${x})`,
  i32: (x) => `bitcast<u32>(${x})`,
  u32: (x) => x,
  bool: (x) => `select(0u, 1u, ${x})`,
};

const WORKGROUP = 64;
const MAX_GROUPS = 65535;

/**
 * Jobs per shader. SwiftShader's compile time grows faster than linearly with the size of the one
 * function the switch below inlines everything into (438 casts in one shader: ~13 s to compile and ~5 s
 * to run; in chunks of 48: ~2-4 s in all), so large batches are split.
 */
const JOBS_PER_SHADER = 48;

/** Runs the jobs, `JOBS_PER_SHADER` to a shader, and returns each job's outputs. */
async function runJobs(jobs: readonly Job[]): Promise<Uint32Array[]> {
  const chunks: Job[][] = [];
  for (let i = 0; i < jobs.length; i += JOBS_PER_SHADER) chunks.push(jobs.slice(i, i + JOBS_PER_SHADER));
  const results = (await Promise.all(chunks.map(runShader))).flat();
  expect(deviceErrors).toEqual([]);
  return results;
}

/** Runs every job in one dispatch (elements sorted by job, so SIMD lanes mostly agree) and splits the output. */
async function runShader(jobs: readonly Job[]): Promise<Uint32Array[]> {
  const fns = new Map<string, WgslFunction>();
  for (const j of jobs) fns.set(j.fn.name, j.fn);
  const cases = jobs.map(
    (j, k) => `    case ${k}u: { return ${OUT[j.to](`${j.fn.name}(${IN[j.from]('x')})`)}; }`,
  );
  const code = [
    ...[...fns.values()].map((f) => f.code),
    '@group(0) @binding(0) var<storage, read> ids: array<u32>;',
    '@group(0) @binding(1) var<storage, read> src: array<u32>;',
    '@group(0) @binding(2) var<storage, read_write> dst: array<u32>;',
    'fn apply(id: u32, x: u32) -> u32 {',
    '  switch id {',
    ...cases,
    '    default: { return 0xdeadbeefu; }',
    '  }',
    '}',
    `@compute @workgroup_size(${WORKGROUP})`,
    'fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) n: vec3<u32>) {',
    `  let i = g.x + g.y * n.x * ${WORKGROUP}u;`,
    '  if i < arrayLength(&dst) {',
    '    dst[i] = apply(ids[i], src[i]);',
    '  }',
    '}',
  ].join('\n');
  const module = await compile(code);
  const pipeline = await device.createComputePipelineAsync({
    layout: 'auto',
    compute: { module, entryPoint: 'main' },
  });

  const total = jobs.reduce((s, j) => s + j.inputs.length, 0);
  const ids = new Uint32Array(total);
  const src = new Uint32Array(total);
  let at = 0;
  jobs.forEach((j, k) => {
    ids.fill(k, at, at + j.inputs.length);
    src.set(j.inputs, at);
    at += j.inputs.length;
  });
  const upload = (data: Uint32Array<ArrayBuffer>): GPUBuffer => {
    const b = device.createBuffer({
      size: data.byteLength,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    });
    device.queue.writeBuffer(b, 0, data);
    return b;
  };
  const buffers = [upload(ids), upload(src)];
  const dst = device.createBuffer({
    size: total * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
  });
  const read = device.createBuffer({
    size: total * 4,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [...buffers, dst].map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  const groups = Math.ceil(total / WORKGROUP);
  const x = Math.min(groups, MAX_GROUPS);
  pass.dispatchWorkgroups(x, Math.ceil(groups / x));
  pass.end();
  encoder.copyBufferToBuffer(dst, 0, read, 0, total * 4);
  device.queue.submit([encoder.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const out = new Uint32Array(read.getMappedRange().slice(0));
  read.unmap();
  for (const b of [...buffers, dst, read]) b.destroy();

  const results: Uint32Array[] = [];
  at = 0;
  for (const j of jobs) {
    results.push(out.subarray(at, at + j.inputs.length));
    at += j.inputs.length;
  }
  return results;
}

// ---------------------------------------------------------------------------------------------------
// Values <-> register bits

const f32Buf = new Float32Array(1);
const u32Buf = new Uint32Array(f32Buf.buffer);

function f32Bits(x: number): number {
  f32Buf[0] = x;
  return u32Buf[0];
}

function f32Of(bits: number): number {
  u32Buf[0] = bits;
  return f32Buf[0];
}

function isNaNBits(bits: number): boolean {
  return (bits & 0x7fffffff) > 0x7f800000;
}

/** The register bits of `value` held in `reg` (values are exact in their register). */
function toBits(reg: RegisterType, value: number): number {
  switch (reg) {
    case 'f32':
      return f32Bits(value);
    case 'i32':
    case 'u32':
      return value >>> 0;
    case 'bool':
      return value !== 0 ? 1 : 0;
  }
}

/** The register value of `bits` held in `reg`. */
function fromBits(reg: RegisterType, bits: number): number {
  switch (reg) {
    case 'f32':
      return f32Of(bits);
    case 'i32':
      return bits | 0;
    case 'u32':
      return bits >>> 0;
    case 'bool':
      return bits !== 0 ? 1 : 0;
  }
}

const hex = (n: number): string => `0x${(n >>> 0).toString(16)}`;

/**
 * Compares GPU output with the reference; `want` gives the expected output bits for input `x`, or NaN
 * (float output) to accept any NaN pattern. Returns the first mismatches, described.
 */
function mismatches(
  label: string,
  inputs: Uint32Array,
  got: Uint32Array,
  want: (x: number) => number,
  limit = 8,
): string[] {
  const bad: string[] = [];
  for (let i = 0; i < inputs.length && bad.length < limit; i++) {
    const w = want(inputs[i]);
    const ok = Number.isNaN(w) ? isNaNBits(got[i]) : got[i] === w;
    if (!ok) {
      bad.push(`${label}(${hex(inputs[i])}): got ${hex(got[i])}, want ${Number.isNaN(w) ? 'NaN' : hex(w)}`);
    }
  }
  return bad;
}

/** Expected output bits of a value in register `reg` (NaN: any NaN). */
function expectedBits(reg: RegisterType, value: number): number {
  return reg === 'f32' && Number.isNaN(value) ? Number.NaN : toBits(reg, value);
}

// ---------------------------------------------------------------------------------------------------
// Inputs

const FLOATS = ALL_DTYPES.filter((d): d is FloatDType => d.kind === 'float');
const NON_FLOATS = ALL_DTYPES.filter((d) => d.kind !== 'float');

/** f32 bits every float test sees: zeros, infinities, NaNs (quiet, signalling, negative), extremes. */
const F32_SPECIALS = [
  0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0xffffffff, 0x7fbfffff,
  0x7f7fffff, 0xff7fffff, 0x00000001, 0x80000001, 0x007fffff, 0x00800000, 0x80800000, 0x3f800000, 0xbf800000,
  0x4f000000, 0xcf000000, 0x4f800000, 0x3effffff, 0x3f000000, 0x3f000001, 0xbf000000,
];

const RANDOM_PER_FLOAT = 24_000;

/**
 * f32 inputs for encode/round of `d`: every representable value, every midpoint of two adjacent values
 * (exact ties; for formats up to 8 bits each +-1 f32 ulp too), the overflow threshold, then random values: raw f32 bit patterns,
 * log-uniform magnitudes over and beyond the range, near-midpoints and subnormal-range values.
 */
function floatInputs(d: FloatDType, seed: number): Uint32Array {
  const out: number[] = [...F32_SPECIALS];
  const r = rng(seed);
  const positives: number[] = []; // finite non-negative values, ascending
  if (d.bits <= 16) {
    for (let p = 0; p < 2 ** (d.bits - 1); p++) {
      const v = decode(d, p);
      if (Number.isFinite(v)) positives.push(v);
    }
  }
  const midpoint = (k: number): number => (positives[k] + positives[k + 1]) / 2;
  for (let k = 0; k < positives.length; k++) {
    for (const s of [1, -1]) {
      const v = s * positives[k];
      out.push(f32Bits(v));
      if (k + 1 < positives.length) {
        const m = f32Bits(s * midpoint(k));
        out.push(m);
        if (d.bits <= 8) out.push(m + 1, m - 1); // wider formats get random near-midpoints below
      }
    }
  }
  // The overflow threshold: max + half an ulp of max, and its neighbours.
  const max = d.maxFinite;
  const beyond = d.bits === 32 ? max : max + (max - positives[positives.length - 2]) / 2;
  for (const s of [1, -1]) {
    const t = f32Bits(s * beyond);
    out.push(t, t - 1, t + 1);
  }
  const lgMin = Math.log2(d.minSubnormal) - 6;
  const lgMax = Math.max(lgMin + 1, Math.log2(max) + 6);
  for (let i = 0; i < RANDOM_PER_FLOAT; i++) {
    const sign = r() < 0.5 ? 1 : -1;
    switch (i % 4) {
      case 0:
        out.push(randomU32(r));
        break;
      case 1:
        out.push(f32Bits(sign * 2 ** (lgMin + r() * (lgMax - lgMin))));
        break;
      case 2: {
        if (positives.length < 2) {
          out.push(randomU32(r));
          break;
        }
        const m = f32Bits(sign * midpoint(randomInt(r, 0, positives.length - 2)));
        out.push(m + randomInt(r, -3, 3));
        break;
      }
      default: // the subnormal range and just above it
        out.push(f32Bits(sign * d.minSubnormal * 2 ** d.mantissaBits * 2 * r()));
    }
  }
  return Uint32Array.from(out, (x) => x >>> 0);
}

/** Register values (as bits) covering `d`: extremes, small values, random values of the dtype. */
function valueInputs(d: DType, seed: number, count: number): Uint32Array {
  const reg = registerType(d);
  const r = rng(seed);
  const values: number[] = [];
  if (d.kind === 'bool') return Uint32Array.from([0, 1]);
  if (d.kind === 'float') {
    if (d.bits <= 8) {
      for (let p = 0; p < 2 ** d.bits; p++) values.push(decode(d, p));
    } else {
      for (const b of F32_SPECIALS) values.push(roundToDType(d, f32Of(b)));
      for (let i = 0; i < count; i++) {
        // Random patterns, plus (f32) integers and halves around the integer ranges.
        if (d.bits === 32 && i % 2 === 1) {
          const k = randomInt(r, 0, 34);
          values.push(Math.fround((r() < 0.5 ? -1 : 1) * Math.floor(r() * 2 ** k) * (r() < 0.5 ? 1 : 0.5)));
        } else {
          values.push(decode(d, randomU32(r)));
        }
      }
      for (const k of [7, 8, 15, 16, 31, 32]) {
        for (const v of [2 ** k, 2 ** k - 1, 2 ** k - 0.5, 2 ** k + 1, 2 ** (k - 1) + 0.5]) {
          values.push(roundToDType(d, v), roundToDType(d, -v));
        }
      }
    }
  } else {
    values.push(d.min, d.max, 0, d.min + 1, d.max - 1, roundToDType(d, 1), roundToDType(d, -1));
    for (let i = 0; i < count; i++) {
      if (d.bits === 32 && i % 2 === 0) {
        // Ties and near-ties for rounding a wide integer to a short significand.
        const top = randomInt(r, 1, 2 ** 12);
        const cut = randomInt(r, 1, 20);
        const low = [0, 1, -1][randomInt(r, 0, 2)];
        const v = top * 2 ** cut + 2 ** (cut - 1) + low;
        values.push(roundToDType(d, r() < 0.5 ? v : -v));
      } else {
        values.push(randomInt(r, d.min, d.max));
      }
    }
  }
  return Uint32Array.from(values, (v) => toBits(reg, v));
}

// ---------------------------------------------------------------------------------------------------

describe('WGSL codec: API', () => {
  it('names functions by purpose and dtype, returns identical declarations across calls', () => {
    const d = dt('f4e2m1');
    expect(wgslDecode(d).name).toBe('decode_f4e2m1');
    expect(wgslEncode(d).name).toBe('encode_f4e2m1');
    expect(wgslRound(d)?.name).toBe('round_f4e2m1');
    expect(wgslCast(dt('f16'), dt('i8'))?.name).toBe('cast_f16_to_i8');
    for (const a of ALL_DTYPES) {
      for (const f of [wgslDecode(a), wgslEncode(a), wgslRound(a)]) {
        if (f === undefined) continue;
        expect(f.code.startsWith(`fn ${f.name}(`)).toBe(true);
        expect(f.code).not.toMatch(/pack2x16float|quantizeToF16/);
      }
      expect(wgslDecode(a).code).toBe(wgslDecode(dt(a.name)).code);
    }
  });

  it('maps dtypes to register types and omits identity rounds', () => {
    expect(registerType(dt('f8e4m3'))).toBe('f32');
    expect(registerType(dt('i3'))).toBe('i32');
    expect(registerType(dt('u16'))).toBe('u32');
    expect(registerType(dt('bool'))).toBe('bool');
    for (const n of ['f32', 'i32', 'u32', 'bool']) expect(wgslRound(dt(n))).toBeUndefined();
    for (const a of ALL_DTYPES) {
      if (!['f32', 'i32', 'u32', 'bool'].includes(a.name)) expect(wgslRound(a)).toBeDefined();
    }
  });

  it('omits exactly the identity casts (same register, every value of the source unchanged)', () => {
    const r = rng(7);
    const sameValue = (x: number, y: number): boolean =>
      Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y));
    for (const a of ALL_DTYPES) {
      // Every value of a up to 16 bits; for 32-bit types, extremes and random values.
      const values: number[] = [];
      if (a.bits <= 16) for (let p = 0; p < 2 ** a.bits; p++) values.push(decode(a, p));
      else {
        const bits = valueInputs(a, 1, 2000);
        for (const b of bits) values.push(fromBits(registerType(a), b));
        for (let i = 0; i < 200; i++) values.push(decode(a, randomU32(r)));
      }
      for (const b of ALL_DTYPES) {
        const identity =
          registerType(a) === registerType(b) && values.every((v) => sameValue(castValue(a, b, v), v));
        expect(wgslCast(a, b) === undefined, `${a.name} -> ${b.name}`).toBe(identity);
      }
    }
  });
});

describe('WGSL codec on a WebGPU device', () => {
  it('compiles every generated function with no messages', async () => {
    const fns = new Map<string, WgslFunction>();
    const add = (f: WgslFunction | undefined): void => {
      if (f === undefined) return;
      const seen = fns.get(f.name);
      if (seen !== undefined) expect(seen.code).toBe(f.code);
      fns.set(f.name, f);
    };
    for (const a of ALL_DTYPES) {
      add(wgslDecode(a));
      add(wgslEncode(a));
      add(wgslRound(a));
      for (const b of ALL_DTYPES) add(wgslCast(a, b));
    }
    expect(fns.size).toBeGreaterThan(2400);
    await compile([...fns.values()].map((f) => f.code).join('\n\n'));
    expect(deviceErrors).toEqual([]);
  });

  it('decodes every pattern of every dtype up to 16 bits (upper bits ignored), and 32-bit samples', async () => {
    const r = rng(1);
    const jobs: Job[] = ALL_DTYPES.map((d) => {
      const patterns: number[] = [];
      if (d.bits <= 16) {
        for (let p = 0; p < 2 ** d.bits; p++) {
          patterns.push(p);
          if (d.bits < 16 || p % 16 === 0) patterns.push((p + randomU32(r) * 2 ** d.bits) % 2 ** 32); // garbage above
        }
      } else {
        patterns.push(...F32_SPECIALS);
        for (let i = 0; i < 20_000; i++) patterns.push(randomU32(r));
      }
      return { fn: wgslDecode(d), from: 'u32', to: registerType(d), inputs: Uint32Array.from(patterns) };
    });
    const got = await runJobs(jobs);
    const bad = jobs.flatMap((j, k) => {
      const d = ALL_DTYPES[k];
      return mismatches(j.fn.name, j.inputs, got[k], (p) => expectedBits(j.to, decode(d, p)));
    });
    expect(bad).toEqual([]);
    expect(jobs.reduce((s, j) => s + j.inputs.length, 0)).toBeGreaterThan(300_000);
  });

  it('encodes every representable value back to its pattern, and random values as dtype.ts', async () => {
    // Round trip: the value of every non-NaN pattern of every float dtype up to 16 bits encodes to it.
    const trips = FLOATS.filter((d) => d.bits <= 16).map((d) => {
      const patterns = Uint32Array.from({ length: 2 ** d.bits }, (_, p) => p).filter(
        (p) => !Number.isNaN(decode(d, p)),
      );
      const job: Job = {
        fn: wgslEncode(d),
        from: 'f32',
        to: 'u32',
        inputs: patterns.map((p) => f32Bits(decode(d, p))),
      };
      return { job, patterns };
    });
    const dtypes = [...FLOATS, ...NON_FLOATS];
    const jobs: Job[] = dtypes.map((d, k) => ({
      fn: wgslEncode(d),
      from: registerType(d),
      to: 'u32',
      inputs: d.kind === 'float' ? floatInputs(d, 100 + k) : valueInputs(d, 100 + k, 4000),
    }));
    const got = await runJobs([...trips.map((t) => t.job), ...jobs]);
    trips.forEach((t, k) => {
      expect(got[k], t.job.fn.name).toEqual(t.patterns);
    });
    const bad = jobs.flatMap((j, k) =>
      mismatches(j.fn.name, j.inputs, got[trips.length + k], (x) => encode(dtypes[k], fromBits(j.from, x))),
    );
    expect(bad).toEqual([]);
    for (const j of jobs.slice(0, FLOATS.length)) expect(j.inputs.length).toBeGreaterThan(RANDOM_PER_FLOAT);
  });

  it('rounds to every float and integer dtype as roundToDType', async () => {
    const rounded = ALL_DTYPES.filter((d) => wgslRound(d) !== undefined);
    const jobs: Job[] = rounded.map((d, k) => ({
      fn: wgslRound(d)!,
      from: registerType(d),
      to: registerType(d),
      // Integer registers may hold values beyond the dtype (before wrapping): use i32 / u32 inputs.
      inputs: d.kind === 'float' ? floatInputs(d, 300 + k) : valueInputs(dt(registerType(d)), 400 + k, 4000),
    }));
    const got = await runJobs(jobs);
    const bad = jobs.flatMap((j, k) =>
      mismatches(j.fn.name, j.inputs, got[k], (x) =>
        expectedBits(j.to, roundToDType(rounded[k], fromBits(j.from, x))),
      ),
    );
    expect(bad).toEqual([]);
  });

  it('casts between a sample of dtype pairs as castValue', async () => {
    // biome-ignore format: a list of names
    const sample = [
      'i1', 'i3', 'i8', 'i16', 'i32', 'u1', 'u4', 'u8', 'u16', 'u32', 'bool',
      'f16', 'bf16', 'f32', 'f2e1m0', 'f3e1m1', 'f4e2m1', 'f5e1m3', 'f6e3m2', 'f8e4m3', 'f8e5m2', 'f8e6m1', 'f8e7m0',
    ].map(dt);
    const jobs: Job[] = [];
    const pairs: [DType, DType][] = [];
    sample.forEach((a, i) => {
      const inputs = valueInputs(a, 500 + i, 1500);
      for (const b of sample) {
        const fn = wgslCast(a, b);
        if (fn === undefined) continue;
        jobs.push({ fn, from: registerType(a), to: registerType(b), inputs });
        pairs.push([a, b]);
      }
    });
    const got = await runJobs(jobs);
    const bad = jobs.flatMap((j, k) => {
      const [a, b] = pairs[k];
      return mismatches(j.fn.name, j.inputs, got[k], (x) =>
        expectedBits(j.to, castValue(a, b, fromBits(j.from, x))),
      );
    });
    expect(bad).toEqual([]);
    expect(pairs.length).toBeGreaterThan(400);
  });
});
