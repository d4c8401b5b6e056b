// WGSL helper functions for the float ops whose built-ins do not give the VM's meaning (docs/vm.md):
// NaN-propagating min/max, exact fmod, pow with JavaScript's special cases, erf (no built-in), tanh
// (built-ins lose accuracy for large |x| on some devices) and integer cdiv. NaN and Inf are always
// recognized from the bits: WGSL lets implementations assume they never occur in arithmetic.
import type { HelperFn } from './writer.js';

// Inf and NaN are not constant expressions in WGSL (a constant that is one is a shader-creation
// error), so they are made at run time from their bits by a function call.
const NAN = 'tv_f32(0x7fc00000u)';
const INF = 'tv_f32(0x7f800000u)';

function fn(name: string, lines: readonly string[], deps?: readonly HelperFn[]): HelperFn {
  return { name, code: lines.join('\n'), ...(deps ? { deps } : {}) };
}

/** The f32 with bit pattern `bits`, computed at run time (how Inf and NaN literals are written). */
export const f32FromBits = fn('tv_f32', [
  'fn tv_f32(bits: u32) -> f32 {',
  '  return bitcast<f32>(bits);',
  '}',
]);

export const isNan = fn('tv_isnan', [
  'fn tv_isnan(x: f32) -> bool {',
  '  return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;',
  '}',
]);

export const isInf = fn('tv_isinf', [
  'fn tv_isinf(x: f32) -> bool {',
  '  return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u;',
  '}',
]);

/**
 * Float comparisons with IEEE NaN semantics (false, except `!=`), tested from the bits: a WGSL
 * implementation may compile `a != b` assuming neither is NaN.
 */
export const compareF32: Readonly<Record<'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge', HelperFn>> = {
  eq: comparison('eq', '=='),
  ne: comparison('ne', '!='),
  lt: comparison('lt', '<'),
  le: comparison('le', '<='),
  gt: comparison('gt', '>'),
  ge: comparison('ge', '>='),
};

function comparison(name: string, op: string): HelperFn {
  const unordered = name === 'ne' ? 'true' : 'false';
  return fn(
    `tv_${name}`,
    [
      `fn tv_${name}(a: f32, b: f32) -> bool {`,
      '  if tv_isnan(a) || tv_isnan(b) {',
      `    return ${unordered};`,
      '  }',
      `  return a ${op} b;`,
      '}',
    ],
    [isNan],
  );
}

/** min with NaN propagation, and -0 below +0 (as Math.min). */
export const minF32 = fn(
  'tv_min',
  [
    'fn tv_min(a: f32, b: f32) -> f32 {',
    '  if tv_isnan(a) || tv_isnan(b) {',
    `    return ${NAN};`,
    '  }',
    '  if a == b { // ±0: the negative one',
    '    return bitcast<f32>(bitcast<u32>(a) | bitcast<u32>(b));',
    '  }',
    '  return select(b, a, a < b);',
    '}',
  ],
  [isNan, f32FromBits],
);

/** max with NaN propagation, and +0 above -0 (as Math.max). */
export const maxF32 = fn(
  'tv_max',
  [
    'fn tv_max(a: f32, b: f32) -> f32 {',
    '  if tv_isnan(a) || tv_isnan(b) {',
    `    return ${NAN};`,
    '  }',
    '  if a == b { // ±0: the positive one',
    '    return bitcast<f32>(bitcast<u32>(a) & bitcast<u32>(b));',
    '  }',
    '  return select(b, a, a > b);',
    '}',
  ],
  [isNan, f32FromBits],
);

/**
 * The exact remainder x - y * trunc(x / y) with the sign of x (C fmod, JavaScript %), by long
 * division on the significands: every step is an exact integer operation.
 */
export const fmodF32 = fn(
  'tv_fmod',
  [
    'fn tv_fmod(x: f32, y: f32) -> f32 {',
    '  let ux = bitcast<u32>(x);',
    '  let sx = ux & 0x80000000u;',
    '  var ax = ux & 0x7fffffffu;',
    '  var ay = bitcast<u32>(y) & 0x7fffffffu;',
    '  if ax >= 0x7f800000u || ay > 0x7f800000u || ay == 0u { // x is ±Inf or NaN, y is NaN or ±0',
    `    return ${NAN};`,
    '  }',
    '  if ax < ay { // |x| < |y| (y = ±Inf included): x itself',
    '    return x;',
    '  }',
    '  // significands with the implicit bit, and unbiased exponents (subnormals normalized)',
    '  var ex = i32(ax >> 23u);',
    '  var ey = i32(ay >> 23u);',
    '  if ex == 0i {',
    '    let sh = countLeadingZeros(ax) - 8u;',
    '    ax = ax << sh;',
    '    ex = 1i - i32(sh);',
    '  } else {',
    '    ax = (ax & 0x7fffffu) | 0x800000u;',
    '  }',
    '  if ey == 0i {',
    '    let sh = countLeadingZeros(ay) - 8u;',
    '    ay = ay << sh;',
    '    ey = 1i - i32(sh);',
    '  } else {',
    '    ay = (ay & 0x7fffffu) | 0x800000u;',
    '  }',
    '  for (; ex > ey; ex--) {',
    '    if ax >= ay {',
    '      ax -= ay;',
    '    }',
    '    ax = ax << 1u;',
    '  }',
    '  if ax >= ay {',
    '    ax -= ay;',
    '  }',
    '  if ax == 0u {',
    '    return bitcast<f32>(sx);',
    '  }',
    '  // renormalize: the remainder is below y, so it is exact in f32 (possibly subnormal)',
    '  let sh = countLeadingZeros(ax) - 8u;',
    '  ax = ax << sh;',
    '  ey = ex - i32(sh);',
    '  if ey > 0i {',
    '    return bitcast<f32>(sx | (u32(ey) << 23u) | (ax & 0x7fffffu));',
    '  }',
    '  return bitcast<f32>(sx | (ax >> u32(1i - ey)));',
    '}',
  ],
  [f32FromBits],
);

/**
 * x^y with the special cases of JavaScript's Math.pow (the interpreter's), and the built-in pow on a
 * positive finite base otherwise.
 */
export const powF32 = fn(
  'tv_pow',
  [
    'fn tv_pow(x: f32, y: f32) -> f32 {',
    '  if y == 0.0f && !tv_isnan(y) {',
    '    return 1.0f;',
    '  }',
    '  if tv_isnan(x) || tv_isnan(y) {',
    `    return ${NAN};`,
    '  }',
    '  let ax = abs(x);',
    '  let neg = (bitcast<u32>(x) >> 31u) == 1u;',
    '  if tv_isinf(y) {',
    '    if ax == 1.0f {',
    `      return ${NAN};`,
    '    }',
    `    return select(0.0f, ${INF}, (ax > 1.0f) == (y > 0.0f));`,
    '  }',
    '  let integral = trunc(y) == y;',
    '  let odd = integral && abs(y) < 16777216.0f && trunc(y * 0.5f) * 2.0f != y;',
    '  var r: f32;',
    '  if ax == 0.0f || tv_isinf(x) {',
    `    r = select(0.0f, ${INF}, (y > 0.0f) == tv_isinf(x));`,
    '  } else {',
    '    if neg && !integral {',
    `      return ${NAN};`,
    '    }',
    '    r = pow(ax, y);',
    '  }',
    '  return select(r, -r, neg && odd);',
    '}',
  ],
  [isNan, isInf, f32FromBits],
);

/**
 * erf for f32, within 1.3 ulp given a correctly rounded exp (more by exp's own error on a device):
 * |x| < 0.921875: x + x P(x^2), P of degree 5; below 4: 1 - exp(-Q(|x|)), Q of degree 8 fitting
 * -log(erfc); beyond, ±1 (erfc(4) is below half an ulp of 1). Minimax-style fits in float64.
 */
export const erfF32 = fn(
  'tv_erf',
  [
    'fn tv_erf(x: f32) -> f32 {',
    '  let a = abs(x);',
    '  if tv_isnan(x) {',
    '    return x;',
    '  }',
    '  if a < 0.921875f {',
    '    let s = x * x;',
    '    var p = -0.000601339329f;',
    '    p = p * s + 0.00499800080f;',
    '    p = p * s - 0.0267702322f;',
    '    p = p * s + 0.112819269f;',
    '    p = p * s - 0.376125067f;',
    '    p = p * s + 0.128379151f;',
    '    return x + x * p;',
    '  }',
    '  if a >= 4.0f {',
    '    return sign(x);',
    '  }',
    '  var q = -0.00000160249442f;',
    '  q = q * a + 0.0000453546745f;',
    '  q = q * a - 0.000590716023f;',
    '  q = q * a + 0.00473028608f;',
    '  q = q * a - 0.0263355523f;',
    '  q = q * a + 0.109925203f;',
    '  q = q * a + 0.631995320f;',
    '  q = q * a + 1.13013148f;',
    '  q = q * a - 0.000294280064f;',
    '  let r = 1.0f - exp(-q);',
    '  return select(r, -r, x < 0.0f);',
    '}',
  ],
  [isNan],
);

/**
 * tanh for f32, within 1.3 ulp given a correctly rounded exp: |x| < 1: x + x s P(s), s = x^2, P of
 * degree 6; below 9.1: 1 - 2 / (exp(2|x|) + 1); beyond, ±1.
 */
export const tanhF32 = fn(
  'tv_tanh',
  [
    'fn tv_tanh(x: f32) -> f32 {',
    '  let a = abs(x);',
    '  if tv_isnan(x) {',
    '    return x;',
    '  }',
    '  if a < 1.0f {',
    '    let s = x * x;',
    '    var p = -0.000426818267f;',
    '    p = p * s + 0.00252889236f;',
    '    p = p * s - 0.00823974982f;',
    '    p = p * s + 0.0216709748f;',
    '    p = p * s - 0.0539373532f;',
    '    p = p * s + 0.133331507f;',
    '    p = p * s - 0.333333313f;',
    '    return x + (x * s) * p;',
    '  }',
    '  if a >= 9.1f {',
    '    return sign(x);',
    '  }',
    '  let r = 1.0f - 2.0f / (exp(2.0f * a) + 1.0f);',
    '  return select(r, -r, x < 0.0f);',
    '}',
  ],
  [isNan],
);

/** ceil(a / b) for i32, with a / 0 = a (as division). */
export const cdivI32 = fn('tv_cdiv_i32', [
  'fn tv_cdiv_i32(a: i32, b: i32) -> i32 {',
  '  let q = a / b;',
  '  let r = a % b;',
  '  return select(q, q + 1i, r != 0i && ((r < 0i) == (b < 0i)));',
  '}',
]);

/** ceil(a / b) for u32, with a / 0 = a. */
export const cdivU32 = fn('tv_cdiv_u32', [
  'fn tv_cdiv_u32(a: u32, b: u32) -> u32 {',
  '  let q = a / b;',
  '  return select(q, q + 1u, a % b != 0u);',
  '}',
]);
