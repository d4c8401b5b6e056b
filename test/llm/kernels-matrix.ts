// The test matrix for one weight type on one device and path: groups {32, 64, 128, per
// channel} x M {1, 3, 8, 33}, K = 203 and N = 70 (neither a multiple of any tile or group), each
// against the float64 reference (kernels-check.ts). Scales and activations alternate between f32
// and f16 across the matrix, and every other group of an unsigned type uses float mins instead of
// zero points.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as dt from '../../dsl/dtype.js';
import { type DType, f16, f32 } from '../../dsl/index.js';
import { integerWeights } from '../../llm/kernels/spec.js';
import type { LlmDevice, MatmulPath } from '../../llm/matmul.js';
import type { QuantFormat } from '../../llm/quantized-matrix.js';
import { checkMatmul } from './kernels-check.js';
import { randomActivations, randomQuantizedMatrix } from './kernels-fixtures.js';

export const MATRIX_K = 203;
export const MATRIX_N = 70;
export const MATRIX_GROUPS = [32, 64, 128, MATRIX_K];
export const MATRIX_MS = [1, 3, 8, 33];

export const INT_WEIGHTS: readonly DType[] = [
  ...[dt.i1, dt.i2, dt.i3, dt.i4, dt.i5, dt.i6, dt.i7, dt.i8],
  ...[dt.u1, dt.u2, dt.u3, dt.u4, dt.u5, dt.u6, dt.u7, dt.u8],
];
export const FLOAT_WEIGHTS: readonly DType[] = [
  dt.f4e2m1,
  dt.f5e2m2,
  dt.f6e3m2,
  dt.f6e2m3,
  dt.f8e4m3,
  dt.f8e5m2,
];
/** The other small floats of at most 8 bits (any fEeMm the issue allows beyond the six above). */
export const OTHER_FLOAT_WEIGHTS: readonly DType[] = dt.ALL_DTYPES.filter(
  (t) => t.kind === 'float' && t.bits <= 8 && !FLOAT_WEIGHTS.includes(t),
);
/** Every weight type with an integer form, so an int8 path (llm/kernels/spec.ts integerWeights). */
export const INT8_WEIGHTS: readonly DType[] = [...INT_WEIGHTS, dt.f4e2m1, dt.f5e2m2, dt.f6e2m3, dt.f6e3m2];

/** The test title of one type's matrix. */
export function matrixTitle(weight: DType): string {
  return `${weight.name}: groups 32, 64, 128, per channel x M 1, 3, 8, 33`;
}

/** Checks `weight` over every group and M on `path`; `seed` makes each type's data its own. */
export async function checkFormatMatrix(
  device: LlmDevice,
  weight: DType,
  path: MatmulPath,
  seed: number,
): Promise<void> {
  const unsigned = weight.kind === 'int' && !weight.signed;
  for (const [gi, group] of MATRIX_GROUPS.entries()) {
    const s = seed + gi;
    // Mins on groups 32 and 128, or 64 and per channel, by the seed's tens: each scale dtype meets
    // both offset kinds across the types.
    const min = unsigned && (gi + Math.floor(seed / 10)) % 2 === 0;
    const format: QuantFormat = {
      weight: weight as QuantFormat['weight'],
      group,
      scale: s % 2 ? 'f16' : 'f32',
      ...(min ? { offset: 'min' as const } : {}),
    };
    const qm = randomQuantizedMatrix(format, MATRIX_N, MATRIX_K, s);
    for (const m of MATRIX_MS) {
      const x = randomActivations((s + m) % 3 ? f32 : f16, m, MATRIX_K, s * 7 + m);
      const label = `${path} ${weight.name}/g${group}${format.offset ? '/min' : ''}/M${m}`;
      const r = await checkMatmul(device, x, qm, { path }, label);
      expect(r.worst).toBeLessThanOrEqual(1);
    }
  }
}

/**
 * One cell for a format outside the matrix: group 64, M in `ms`, the float path and (where the
 * format has an integer form) the int8 path.
 */
export async function checkFormatCell(
  device: LlmDevice,
  weight: DType,
  ms: readonly number[],
  seed: number,
): Promise<void> {
  const format: QuantFormat = {
    weight: weight as QuantFormat['weight'],
    group: 64,
    scale: seed % 2 ? 'f16' : 'f32',
  };
  const qm = randomQuantizedMatrix(format, MATRIX_N, MATRIX_K, seed);
  const spec = { weight, scale: f16, act: f32, group: format.group };
  const paths: MatmulPath[] = integerWeights(spec) ? ['float', 'int8'] : ['float'];
  for (const m of ms) {
    const x = randomActivations((seed + m) % 3 ? f32 : f16, m, MATRIX_K, seed * 7 + m);
    for (const path of paths) {
      const r = await checkMatmul(device, x, qm, { path }, `${path} ${weight.name}/g64/M${m}`);
      expect(r.worst).toBeLessThanOrEqual(1);
    }
  }
}

/**
 * A suite that checks each of `weights` over the whole matrix on `path`, on a device made by
 * `makeDevice` once for the suite (`seed` + 10 * index seeds each type's data).
 */
export function describeMatrix(
  name: string,
  makeDevice: () => Promise<LlmDevice & { destroy(): void }>,
  weights: readonly DType[],
  path: MatmulPath,
  seed: number,
  timeoutMs?: number,
): void {
  describe(name, () => {
    let device: LlmDevice & { destroy(): void };
    beforeAll(async () => {
      device = await makeDevice();
    });
    afterAll(() => device?.destroy());
    weights.forEach((weight, i) => {
      it(matrixTitle(weight), () => checkFormatMatrix(device, weight, path, seed + 10 * i), timeoutMs);
    });
  });
}
