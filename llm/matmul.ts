// quantizedMatmul(device, x, qm): y[M, N] = x[M, K] · Wᵀ for a weight-only quantized W (a
// QuantizedMatrix), on a WASM or WebGPU device. It picks the kernel by shape: GEMV (BM = 1 for one
// row, BM = 2/4/8 for up to 8 rows) or GEMM tiles (M > 8), split-K when K is long and the output too
// narrow to give every core work, and the float or int8-activation path. planQuantizedMatmul() is the
// choice on its own (for tests, benchmarks and tuning); opts override any part of it.
import type { DType, FloatDType } from '../dsl/dtype.js';
import { f16, f32, i8 } from '../dsl/dtype.js';
import type { Kernel } from '../dsl/lang/kernel.js';
import { Tensor } from '../dsl/tensor.js';
import type { GpuTensor, WasmDevice, WasmTensor, WebGpuDevice } from '../runtime/index.js';
import { qmatmulKernel, weightRunLayout } from './kernels/qmatmul.js';
import { qmatmulIntKernel } from './kernels/qmatmul-int.js';
import { quantizeActKernel } from './kernels/quantize-act.js';
import { splitKReduce } from './kernels/reduce.js';
import { intScaleShape, repackIntScalesKernel } from './kernels/repack.js';
import { integerWeights, type KernelSpec, unsignedTwin } from './kernels/spec.js';
import { TILE_COLS, tiledShape, tileWeightsKernel } from './kernels/weight-tiles.js';
import {
  offsetKind,
  type QuantFormat,
  type QuantizedMatrix,
  scaleDType,
  validateQuantizedMatrix,
} from './quantized-matrix.js';

export type LlmDevice = WasmDevice | WebGpuDevice;
export type LlmTensor<D extends DType = DType> = WasmTensor<D> | GpuTensor<D>;

/** A QuantizedMatrix whose tensors live on one device (uploadQuantizedMatrix). */
export interface DeviceQuantizedMatrix {
  readonly device: LlmDevice;
  readonly format: QuantFormat;
  readonly n: number;
  readonly k: number;
  /** How `weights` lie (weightLayout). */
  readonly layout: WeightLayout;
  /**
   * 0, or signed weights stored as unsigned codes q + signBias in the unsigned dtype of their width
   * (WASM, 1 to 7 bits; signBiasOf).
   */
  readonly signBias: number;
  readonly weights: LlmTensor;
  readonly scales: LlmTensor;
  readonly zeros?: LlmTensor;
  readonly mins?: LlmTensor;
}

/**
 * 'rows': as the host matrix's [N, K]. 'tiles64' / 'tiles8': in tiles of 64 or 8 rows by 128
 * weights of K (llm/kernels/weight-tiles.ts).
 */
export type WeightLayout = 'rows' | 'tiles64' | 'tiles8';

/**
 * The layout a device's kernels read a format's [N, K] weights in. WebGPU: rows (its grouped
 * loads). WASM: tiles as tall as the blocks of the path the format decodes one row by default, so a
 * block streams one contiguous stretch: 64 rows where that is the int path (ints whose activation
 * block holds a whole chunk), 8 where it is the float path (small floats; ints with groups under
 * 32). The float path's one-row GEMV on 64-row tiles reads 8-row slices and ran 1.1-1.8x slower than
 * on rows (docs/llm-formats.md, "WASM weight tiles"), so only a format that never takes it by
 * default gets them.
 */
export function weightLayout(format: QuantFormat, k: number, backend: 'wasm' | 'webgpu'): WeightLayout {
  if (backend === 'webgpu') return 'rows';
  const qb = chooseQB(format.group, k, backend);
  return qb !== undefined && defaultPath(1, format, backend, qb) === 'int8' ? 'tiles64' : 'tiles8';
}

/**
 * The sign bias a device stores a format's weights with: on WASM, signed ints of 1 to 7 bits as
 * unsigned codes q + 2^(bits - 1), which the int path's dot reads without flipping each field's
 * sign bit per chunk (the flip's XOR cost i4 5-11% and i7 14% against u4 and u7); the kernels take
 * 2^(bits - 1) sum(x) off once per block, exactly. 8 bits sign-extend for free; WebGPU reads the
 * weights as they are.
 */
export function signBiasOf(weight: DType, backend: 'wasm' | 'webgpu'): number {
  const signedSubByte = weight.kind === 'int' && weight.signed && weight.bits < 8;
  return backend === 'wasm' && signedSubByte ? 2 ** (weight.bits - 1) : 0;
}

/** Rows per tile of a layout (0 for rows). */
export function tileRows(layout: WeightLayout): number {
  return layout === 'tiles64' ? 64 : layout === 'tiles8' ? 8 : 0;
}

/** 'float': dequantize and multiply in f32. 'int8': quantize x to i8 per block and use integer dots. */
export type MatmulPath = 'float' | 'int8';

export interface MatmulPlan {
  readonly path: MatmulPath;
  /** 'gemv' for M <= 8 (BM rows per block, 1 = elementwise form), 'gemm' above. */
  readonly kind: 'gemv' | 'gemm';
  readonly consts: { readonly BM: number; readonly BN: number; readonly BK: number; readonly TH: number };
  /** Number of K splits (1 = none) and the K range of each (a multiple of BK, or of QB on the int path). */
  readonly splits: number;
  readonly splitK: number;
  /** Int path: activation quantization block (divides the group, or the group covers K). */
  readonly qb: number;
}

export interface MatmulOptions {
  /**
   * Default: 'int8' on WASM for M <= 8 with int weights (where it pays: see defaultPath), else
   * 'float'.
   * 'int8' is available wherever the weights have an integer form (ints, f4e2m1, f5e2m2, f6e2m3, f6e3m2).
   */
  readonly path?: MatmulPath;
  /** Number of K splits; default: chosen by shape. */
  readonly splits?: number;
  /** Kernel consts (see QMATMUL_CONSTS / QMATMUL_INT_CONSTS for the candidates). */
  readonly consts?: Partial<MatmulPlan['consts']>;
  /** Write into this f32 [M, N] device tensor instead of a new one. */
  readonly out?: LlmTensor;
  /** Thread count of the device (WASM), to size split-K; default 1. */
  readonly threads?: number;
}

const BK_CANDIDATES = [128, 32, 64, 256, 512, 16, 8];

/** The K step for group G: a candidate that G divides or that divides G; per-channel takes any. */
function chooseBK(group: number, k: number, preferred: number): number {
  if (group >= k) return preferred;
  for (const bk of [preferred, ...BK_CANDIDATES]) {
    if (bk % group === 0 || group % bk === 0) return bk;
  }
  throw new RangeError(
    `quantizedMatmul: group ${group} is not supported by the kernels; use a group that is a multiple of 8 ` +
      '(32, 64, 128, ...), a divisor of 512, or >= K (per channel)',
  );
}

/**
 * The int path's activation block: on WASM the largest of 128, 64, 32, 16, 8 that divides the group
 * (128 when the group covers K): fewer per-block scale and offset steps, and the activation rounding
 * error stays about 1e-2 relative (docs/llm.md, "Integer path"). On WebGPU at most 32, so the
 * staged [BM, QB] and [BN, QB] tiles fit the 16 KiB of workgroup memory WebGPU guarantees.
 */
function chooseQB(group: number, k: number, backend: 'wasm' | 'webgpu'): number | undefined {
  const sizes = backend === 'wasm' ? [128, 64, 32, 16, 8] : [32, 16, 8];
  if (group >= k) return sizes[0];
  for (const qb of sizes) if (group % qb === 0) return qb;
  return undefined;
}

/**
 * Where the int8 path pays by default: WASM decode (M <= 8) with integer weights of 1 to 8 bits,
 * whose dots read the packed weights in place (dot-subbyte.ts); measured 1.8-3.5x faster than the
 * float path for every width, signed and unsigned, at 4096x4096/g128 and M = 1, and faster at
 * M = 2..8 (u8 at M = 8: 5.6 ms against 15.2 ms; docs/llm.md). Only where a block of QB activations
 * holds a whole chunk of packed weights (32 weights below 8 bits, 16 at 8 bits). Everything else, and
 * any explicit `path`, as asked.
 */
function defaultPath(m: number, format: QuantFormat, backend: 'wasm' | 'webgpu', qb: number): MatmulPath {
  const w = format.weight;
  const fast = w.kind === 'int' && m <= 8;
  // A block of QB activations must hold a whole v128 chunk of the weights, or the dot falls back to
  // its element path (u2 at group 32: 15 ms against 3 ms on the float path).
  const fits = w.kind === 'int' && qb >= subbyteChunk(w.bits);
  return backend === 'wasm' && fast && fits ? 'int8' : 'float';
}

/** Weights per v128 chunk of WASM's in-place sub-byte dot (dsl/backend/wasm/dot-fields.ts). */
function subbyteChunk(bits: number): number {
  return bits === 8 ? 16 : 32;
}

/** Chooses kernel, tiles and split-K for an [M, K] x [N, K]ᵀ product. */
export function planQuantizedMatmul(
  m: number,
  n: number,
  k: number,
  format: QuantFormat,
  backend: 'wasm' | 'webgpu',
  opts: MatmulOptions = {},
): MatmulPlan {
  const spec = kernelSpec(format, f32);
  const qb = chooseQB(format.group, k, backend);
  const path = opts.path ?? (qb === undefined ? 'float' : defaultPath(m, format, backend, qb));
  if (path === 'int8' && (!integerWeights(spec) || qb === undefined)) {
    throw new RangeError(
      `quantizedMatmul: ${format.weight.name} weights with group ${format.group} have no int8 path ` +
        `(${qb === undefined ? 'the group is not a multiple of 8' : 'the values are not small integers after scaling'}); use path: 'float'`,
    );
  }
  const kind = m <= 8 ? 'gemv' : 'gemm';
  // One row: the elementwise GEMV. More rows: BM = 8 row tiles with a dot per K step (on WASM the same
  // kernel serves 2..8 rows and prefill); WebGPU prefill takes wider tiles.
  const base =
    m === 1
      ? { BM: 1, BN: 8, BK: 128, TH: 64 }
      : kind === 'gemm' && backend === 'webgpu'
        ? { BM: 16, BN: 32, BK: 32, TH: 128 }
        : { BM: 8, BN: 8, BK: 128, TH: 64 };
  // The int path's GEMV takes wider blocks: its per-block work (activation planes, scale rows) is
  // shared by BN weight rows (as many as a weight tile has, up to 64).
  const rowsPerTile = tileRows(weightLayout(format, k, backend));
  const wide = path === 'int8' && m <= 8 && backend === 'wasm' ? { BN: Math.min(64, rowsPerTile || 64) } : {};
  // The float path's dot form (BM > 1) on 64-row weight tiles takes whole tiles too: with BN = 8 its
  // blocks read 8-row slices 64 rows apart, 1.02-1.07x slower than on rows at M = 16; with BN = 64,
  // 0.91-1.0x at M = 16 and 0.85x at M = 33 (docs/llm-formats.md, "WASM weight tiles"). One row
  // (the lane-sum GEMV) keeps BN = 8: its [BN, 4] sums must fit in registers.
  const tall = path === 'float' && m > 1 && rowsPerTile > 8 ? { BN: rowsPerTile } : {};
  const consts = { ...base, ...wide, ...tall, ...opts.consts };
  const BK = path === 'float' ? chooseBK(format.group, k, consts.BK) : consts.BK;
  const step = path === 'int8' ? (qb as number) : BK;
  if (rowsPerTile > 0 && (rowsPerTile % consts.BN !== 0 || TILE_COLS % step !== 0)) {
    throw new RangeError(
      `quantizedMatmul: on WASM ${format.weight.name} weights lie in ${rowsPerTile} x ${TILE_COLS} tiles, so ` +
        `BN must divide ${rowsPerTile} and the K step divide ${TILE_COLS}; got BN ${consts.BN}, K step ${step}`,
    );
  }
  // Split K when the output grid is too small to keep every core (WASM) or invocation group (WebGPU)
  // busy and K is long enough that each split still has several steps.
  const blocks = Math.ceil(n / consts.BN) * Math.ceil(m / consts.BM);
  const want = backend === 'webgpu' ? 64 : 4 * (opts.threads ?? 1);
  let splits =
    opts.splits ??
    (blocks < want && k >= 2048 ? Math.min(Math.ceil(want / blocks), Math.floor(k / 1024)) : 1);
  splits = Math.max(1, Math.min(splits, Math.ceil(k / step)));
  const splitK = Math.ceil(Math.ceil(k / splits) / step) * step;
  splits = Math.ceil(k / splitK);
  return { path, kind, consts: { ...consts, BK }, splits, splitK, qb: qb ?? 32 };
}

/** The kernel spec of a format with the given activation dtype (and the stored weights' sign bias). */
export function kernelSpec(format: QuantFormat, act: FloatDType, signBias = 0): KernelSpec {
  return {
    weight: format.weight,
    scale: scaleDType(format.scale),
    act,
    group: format.group,
    offset: offsetKind(format),
    ...(signBias ? { signBias } : {}),
  };
}

/**
 * Copies a QuantizedMatrix's tensors to a device (once; reuse the result for every call), the
 * weights in the layout the device's kernels read (weightLayout): on WASM the uploaded rows are laid
 * out in tiles, sign-biased where signBiasOf says, by tileWeightsKernel, and then freed.
 */
export async function uploadQuantizedMatrix(
  device: LlmDevice,
  qm: QuantizedMatrix,
): Promise<DeviceQuantizedMatrix> {
  validateQuantizedMatrix(qm, 'uploadQuantizedMatrix');
  const up = (t: Tensor) => (device as WasmDevice).upload(t) as LlmTensor;
  const layout = weightLayout(qm.format, qm.k, device.backend);
  const rows = tileRows(layout);
  const signBias = signBiasOf(qm.format.weight, device.backend);
  let weights = up(qm.weights);
  if (rows > 0) {
    const uploaded = weights;
    try {
      const stored = signBias ? unsignedTwin(qm.format.weight) : qm.format.weight;
      const tiles = (device as WasmDevice).tensor(stored, tiledShape(qm.n, qm.k, rows)) as LlmTensor;
      const tile = tileWeightsKernel(qm.format.weight, rows, signBias > 0);
      try {
        await launch(device, tile, { w: uploaded, wt: tiles }, {});
      } catch (e) {
        tiles.destroy();
        throw e;
      }
      weights = tiles;
    } finally {
      uploaded.destroy();
    }
  }
  return {
    device,
    format: qm.format,
    n: qm.n,
    k: qm.k,
    layout,
    signBias,
    weights,
    scales: up(qm.scales),
    ...(qm.zeros ? { zeros: up(qm.zeros) } : {}),
    ...(qm.mins ? { mins: up(qm.mins) } : {}),
  };
}

/** Frees a DeviceQuantizedMatrix's device memory (and its integer-path scales, when made). */
export function destroyQuantizedMatrix(dqm: DeviceQuantizedMatrix): void {
  const r = intScales.get(dqm);
  intScales.delete(dqm);
  for (const t of [dqm.weights, dqm.scales, dqm.zeros, dqm.mins, r?.ws, r?.wo]) t?.destroy();
}

/**
 * The integer path's f32 scales and offsets of a matrix, in column blocks (repack.ts), made on first
 * use (the caller looks in `intScales` first, so a repeat call awaits nothing).
 */
interface IntScales {
  readonly ws: LlmTensor;
  readonly wo?: LlmTensor;
}
const intScales = new WeakMap<DeviceQuantizedMatrix, IntScales>();

async function makeIntScales(
  device: LlmDevice,
  w: DeviceQuantizedMatrix,
  spec: KernelSpec,
): Promise<IntScales> {
  const shape = intScaleShape(w.n, Math.ceil(w.k / w.format.group));
  const ws = (device as WasmDevice).tensor(f32, shape) as LlmTensor;
  const wo = spec.offset ? ((device as WasmDevice).tensor(f32, shape) as LlmTensor) : undefined;
  const args: Record<string, LlmTensor> = {
    s: w.scales,
    ...(w.zeros ? { zp: w.zeros } : {}),
    ...(w.mins ? { mn: w.mins } : {}),
    ws,
    ...(wo ? { wo } : {}),
  };
  // The repack reads neither activations nor weights: one kernel per format.
  await launch(device, repackIntScalesKernel({ ...spec, act: f32, signBias: 0 }), args, {});
  const r = { ws, ...(wo ? { wo } : {}) };
  intScales.set(w, r);
  return r;
}

// Host matrices uploaded on first use, per device (the upload's promise, so calls made before it
// ends share it); scratch tensors (split-K partials, quantized activations) reused per shape.
const uploads = new WeakMap<LlmDevice, WeakMap<QuantizedMatrix, Promise<DeviceQuantizedMatrix>>>();
const scratch = new WeakMap<LlmDevice, Map<string, LlmTensor>>();

function scratchTensor(device: LlmDevice, dtype: DType, shape: readonly number[], role = ''): LlmTensor {
  let map = scratch.get(device);
  if (!map) {
    map = new Map();
    scratch.set(device, map);
  }
  const key = `${role}${dtype.name}[${shape}]`;
  let t = map.get(key);
  if (!t) {
    t = (device as WasmDevice).tensor(dtype, shape) as LlmTensor;
    map.set(key, t);
  }
  return t;
}

function onDevice(
  device: LlmDevice,
  qm: QuantizedMatrix | DeviceQuantizedMatrix,
): DeviceQuantizedMatrix | Promise<DeviceQuantizedMatrix> {
  if ('device' in qm) {
    if (qm.device !== device) {
      throw new RangeError(
        'quantizedMatmul: the matrix was uploaded to another device; upload it to this one',
      );
    }
    const want = weightLayout(qm.format, qm.k, device.backend);
    const bias = signBiasOf(qm.format.weight, device.backend);
    if (qm.layout !== want || qm.signBias !== bias) {
      throw new RangeError(
        `quantizedMatmul: the matrix's weights lie in '${qm.layout}' with sign bias ${qm.signBias}, but ` +
          `${device.backend} kernels read ${qm.format.weight.name} weights in '${want}' with sign bias ${bias}; ` +
          'make it with uploadQuantizedMatrix',
      );
    }
    return qm;
  }
  let map = uploads.get(device);
  if (!map) {
    map = new WeakMap();
    uploads.set(device, map);
  }
  let dqm = map.get(qm);
  if (!dqm) {
    dqm = uploadQuantizedMatrix(device, qm);
    map.set(qm, dqm);
    // A failed upload is not cached: the next call tries again and reports its own error.
    dqm.catch(() => map.delete(qm));
  }
  return dqm;
}

/**
 * y = x · Wᵀ: x is an f32 or f16 [M, K] tensor (on the device, or a host Tensor that is uploaded),
 * W a QuantizedMatrix ([N, K]; host matrices are uploaded once per device and cached) or a
 * DeviceQuantizedMatrix. Returns the f32 [M, N] device tensor (opts.out when given).
 */
export async function quantizedMatmul(
  device: LlmDevice,
  x: LlmTensor | Tensor,
  qm: QuantizedMatrix | DeviceQuantizedMatrix,
  opts: MatmulOptions = {},
): Promise<LlmTensor> {
  const w = await onDevice(device, qm);
  const act = x.dtype;
  if (act !== f32 && act !== f16) {
    throw new RangeError(`quantizedMatmul: x must be f32 or f16, got ${act.name}; convert it first`);
  }
  if (x.shape.length !== 2 || x.shape[1] !== w.k) {
    throw new RangeError(
      `quantizedMatmul: x has shape [${x.shape}]; expected [M, ${w.k}] for a ${w.n}x${w.k} matrix`,
    );
  }
  const xd = x instanceof Tensor ? ((device as WasmDevice).upload(x) as LlmTensor) : x;
  const m = x.shape[0] as number;
  const plan = planQuantizedMatmul(m, w.n, w.k, w.format, device.backend, opts);
  const y = opts.out ?? ((device as WasmDevice).tensor(f32, [m, w.n]) as LlmTensor);
  if (y.dtype !== f32 || y.shape.length !== 2 || y.shape[0] !== m || y.shape[1] !== w.n) {
    throw new RangeError(`quantizedMatmul: out must be f32[${m}, ${w.n}], got ${y.dtype.name}[${y.shape}]`);
  }
  const spec = kernelSpec(w.format, act as FloatDType, w.signBias);
  const split = plan.splits > 1;
  const part = split ? scratchTensor(device, f32, [plan.splits, m, w.n]) : undefined;
  const target: Record<string, LlmTensor | number> = part ? { part, KS: plan.splitK } : { y };
  const weights: Record<string, LlmTensor> = {
    w: w.weights,
    s: w.scales,
    ...(w.zeros ? { zp: w.zeros } : {}),
    ...(w.mins ? { mn: w.mins } : {}),
  };
  const { BM, BN, BK, TH } = plan.consts;
  const rows = tileRows(w.layout);
  if (plan.path === 'int8') {
    const xq = scratchTensor(device, i8, [m, w.k]);
    const blocks = [m, Math.ceil(w.k / plan.qb)];
    const xs = scratchTensor(device, f32, blocks, 'xs');
    const xsum = scratchTensor(device, f32, blocks, 'xsum');
    await launch(device, quantizeActKernel(act as FloatDType, plan.qb), { x: xd, xq, xs, xsum }, {});
    const k = qmatmulIntKernel(spec, plan.qb, split, rows) as Kernel;
    const r = intScales.get(w) ?? (await makeIntScales(device, w, spec));
    const sums: Record<string, LlmTensor> = {
      ...(r.wo || w.signBias ? { xsum } : {}),
      ...(r.wo ? { wo: r.wo } : {}),
    };
    await launch(device, k, { xq, xs, ...sums, w: w.weights, ws: r.ws, ...target }, { BM, BN, TH });
  } else {
    const runs =
      device.backend === 'webgpu'
        ? gemvRunLayout(BM, BN, BK, TH, w.format.group, w.format.weight.bits)
        : undefined;
    await launch(
      device,
      qmatmulKernel(spec, split, runs, rows),
      { x: xd, ...weights, ...target },
      { BM, BN, BK, TH },
    );
  }
  if (part) await launch(device, splitKReduce, { part, y }, {});
  if (x instanceof Tensor) xd.destroy();
  return y;
}

/**
 * WebGPU's one-row GEMV loads its [BN, ST] weight tiles as one run of consecutive weights per thread
 * (ST as qmatmul.ts steps: the group when a K step spans groups, else BK): each weight then costs a
 * few constant shifts, where the default layout (neighbouring threads on neighbouring weights) pays
 * a word address, a dynamic shift and, for 3, 5, 6 and 7 bits, a second word per weight, which made
 * u7 1.45x slower than u8 on SwiftShader. Undefined for other shapes, and where a run would hold
 * less than 16 bits (the backend then loads per element anyway).
 */
function gemvRunLayout(BM: number, BN: number, BK: number, TH: number, group: number, bits: number) {
  const rep = BK % group === 0;
  if (BM !== 1 || (rep && group % 4 !== 0)) return undefined;
  const layout = weightRunLayout(BN, rep ? group : BK, TH);
  return layout && layout.localSize * bits >= 16 ? layout : undefined;
}

function launch(
  device: LlmDevice,
  k: Kernel,
  args: Record<string, LlmTensor | number>,
  consts: Record<string, number>,
): Promise<void> {
  return k.launch(device as never, args as never, { consts: consts as never });
}
