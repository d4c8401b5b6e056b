/**
 * WGSL helper functions that move values between storage bit patterns and registers, for every dtype
 * of docs/dtypes.md, bit-exact with dsl/dtype.ts (encode / decode / roundToDType / castValue).
 *
 * Registers: float dtypes live in `f32`, signed integers in `i32`, unsigned integers in `u32`, `bool` in
 * `bool`. Storage patterns are `u32` holding the dtype's low `bits` bits (upper bits 0 on encode, ignored
 * on decode).
 *
 * Every generated function is one self-contained WGSL `fn` declaration: it calls no other generated
 * helper, so a shader needs only the functions it calls, each once (names are stable across calls, so
 * deduplicate by name). Floats are converted with integer operations on the f32 bit pattern, never with
 * f32 arithmetic where exactness matters (implementations may flush f32 subnormals and may assume no NaN
 * or Inf in arithmetic, but `bitcast` keeps bits), and never with pack2x16float / quantizeToF16, whose
 * overflow behaviour WGSL leaves indeterminate. NaN is detected from the bits, never with `v != v`.
 */
import { castValue, type DType, type FloatDType, type IntDType } from '../../dtype.js';

/** One WGSL function declaration; `name` is unique per dtype (pair) and purpose. */
export interface WgslFunction {
  readonly name: string;
  readonly code: string;
}

export type RegisterType = 'f32' | 'i32' | 'u32' | 'bool';

/** The WGSL type that holds a value of `d` in registers. */
export function registerType(d: DType): RegisterType {
  switch (d.kind) {
    case 'float':
      return 'f32';
    case 'int':
      return d.signed ? 'i32' : 'u32';
    case 'bool':
      return 'bool';
  }
}

/** `fn decode_<d>(p: u32) -> REG`: the value of the pattern in the low `bits` bits of `p` (exact). */
export function wgslDecode(d: DType): WgslFunction {
  return declare(`decode_${d.name}`, 'p', 'u32', registerType(d), () => decodeBody(d));
}

/** `fn encode_<d>(v: REG) -> u32`: the pattern of `v` in the low `bits` bits, as dtype.ts encode(). */
export function wgslEncode(d: DType): WgslFunction {
  return declare(`encode_${d.name}`, 'v', registerType(d), 'u32', () => encodeBody(d));
}

/**
 * `fn round_<d>(v: REG) -> REG`: the nearest value of `d` (floats: decode(encode(v)); integers narrower
 * than 32 bits: wrap to the width). `undefined` for f32, i32, u32 and bool, where it is the identity.
 */
export function wgslRound(d: DType): WgslFunction | undefined {
  if (d.kind === 'bool' || d.bits === 32) return undefined;
  const reg = registerType(d);
  return declare(`round_${d.name}`, 'v', reg, reg, () =>
    d.kind === 'float' ? roundFloatLines(checkFloat(d), 'v', true) : [`return ${wrapInt('v', d, reg)};`],
  );
}

/**
 * `fn cast_<from>_to_<to>(v: REGfrom) -> REGto`, as castValue(from, to, v): float to integer truncates
 * toward zero and saturates (NaN -> 0); integer to integer keeps the low bits; to bool is `v != 0` (NaN is
 * true); bool is 0 or 1 under the target's rules; to float rounds to nearest even with the target's
 * overflow rule. `undefined` where the cast is the identity (same register type, every value of `from`
 * unchanged).
 */
export function wgslCast(from: DType, to: DType): WgslFunction | undefined {
  if (from.name === to.name || isValueSubset(from, to)) {
    if (registerType(from) === registerType(to)) return undefined;
  }
  return declare(`cast_${from.name}_to_${to.name}`, 'v', registerType(from), registerType(to), () =>
    castBody(from, to),
  );
}

/** Whether `d` is IEEE binary16, the format of WGSL's native `f16`. */
export function isIeeeF16(d: DType): boolean {
  return d.kind === 'float' && d.exponentBits === 5 && d.mantissaBits === 10 && d.rule === 'ieee';
}

/**
 * `fn tv_decode_f16_native(p: u32) -> f32` (needs `enable f16;`): normal numbers through WGSL's f16 (a
 * normal f16 converts to f32 exactly on every implementation); zero, subnormals (which a device may
 * flush), Inf and NaN (which it may assume absent) by the integer path of `decode_f16`. Exact.
 */
export function wgslDecodeNativeF16(d: FloatDType): WgslFunction {
  if (!isIeeeF16(d)) throw new Error(`internal: tv_decode_f16_native for ${d.name}`);
  return declare('tv_decode_f16_native', 'p', 'u32', 'f32', () => [
    'let e = p & 0x7c00u;',
    'if e != 0u && e != 0x7c00u { // normal: one native conversion, exact',
    '  return f32(bitcast<vec2<f16>>(p & 0xffffu).x);',
    '}',
    ...decodeFloatLines(d),
  ]);
}

/**
 * `fn tv_encode_f16_native(v: f32) -> u32` (needs `enable f16;`): a value that is a normal f16 exactly
 * (the registers of f16 tiles hold f16 values) through WGSL's f16; anything that would need rounding
 * (WGSL lets the conversion pick either neighbour), overflow (indeterminate in WGSL), a subnormal,
 * zero, Inf or NaN by the integer path of `encode_f16`. Exact.
 */
export function wgslEncodeNativeF16(d: FloatDType): WgslFunction {
  if (!isIeeeF16(d)) throw new Error(`internal: tv_encode_f16_native for ${d.name}`);
  return declare('tv_encode_f16_native', 'v', 'f32', 'u32', () => [
    'let v_bits = bitcast<u32>(v);',
    'let v_mag = v_bits & 0x7fffffffu;',
    '// in [2^-14, 65504] with the 13 mantissa bits f16 lacks all zero: a normal f16 exactly',
    'if v_mag >= 0x38800000u && v_mag <= 0x477fe000u && (v_bits & 0x1fffu) == 0u {',
    '  return bitcast<u32>(vec2<f16>(f16(v), 0.0h)) & 0xffffu;',
    '}',
    ...encodeFloatLines(d),
  ]);
}

// ---------------------------------------------------------------------------------------------------
// Declarations and literals

const cache = new Map<string, WgslFunction>();

function declare(
  name: string,
  param: string,
  paramType: RegisterType,
  ret: RegisterType,
  body: () => readonly string[],
): WgslFunction {
  let f = cache.get(name);
  if (f === undefined) {
    const lines = body().map((l) => `  ${l}`);
    const code = [`fn ${name}(${param}: ${paramType}) -> ${ret} {`, ...lines, '}'].join('\n');
    f = Object.freeze({ name, code });
    cache.set(name, f);
  }
  return f;
}

/** A u32 literal in hex (bit patterns, masks). */
function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}u`;
}

/** A u32 literal in decimal (shift counts, small counts). */
function uint(n: number): string {
  return `${n}u`;
}

/** An i32 literal; -2^31 has no suffixed spelling, so it is written as a conversion. */
function int(n: number): string {
  return n === -2147483648 ? 'i32(-2147483648)' : `${n}i`;
}

function bitCount(n: number): string {
  return n === 1 ? '1 bit' : `${n} bits`;
}

/** An f32 literal for an integer value (exact: every one used is representable). */
function floatInt(n: number): string {
  if (!Number.isInteger(n)) throw new Error(`internal: ${n} is not an integer`);
  return `${n}.0`;
}

/** A literal of register type `reg` for the value `n` of a dtype held in it. */
function literal(reg: RegisterType, n: number): string {
  switch (reg) {
    case 'f32':
      return floatInt(n);
    case 'i32':
      return int(n);
    case 'u32':
      return uint(n);
    case 'bool':
      return n !== 0 ? 'true' : 'false';
  }
}

// ---------------------------------------------------------------------------------------------------
// Float formats

/** Constants of a float format laid out for f32 bit manipulation. */
interface FloatLayout {
  readonly d: FloatDType;
  readonly E: number;
  readonly M: number;
  /** `23 - M`: mantissa bits an f32 has beyond the format's. */
  readonly shift: number;
  /** Mask of the magnitude (exponent and mantissa fields). */
  readonly magMask: number;
  /** Magnitude pattern with the exponent field all ones and mantissa 0 (Inf for 'ieee'). */
  readonly topMag: number;
  /** Exponent of the normal numbers with exponent field 1 (and of the subnormals): `1 - bias`. */
  readonly emin: number;
  /** f32 bits of the largest finite value. */
  readonly maxBits: number;
}

function checkFloat(d: FloatDType): FloatDType {
  const { exponentBits: E, mantissaBits: M, rule } = d;
  const ok =
    Number.isInteger(E) &&
    Number.isInteger(M) &&
    E >= 1 &&
    M >= 0 &&
    1 + E + M <= 32 &&
    // f32 registers hold every value only if the exponent range fits f32's: E < 8, or E = 8 with the
    // IEEE layout (the same exponent range as f32 itself).
    (E < 8 || (E === 8 && rule === 'ieee')) &&
    (rule === 'finite' || M >= 1);
  if (!ok) throw new Error(`wgsl codec: unsupported float format ${d.name} (e${E}m${M}, ${rule})`);
  return d;
}

function layout(d: FloatDType): FloatLayout {
  checkFloat(d);
  const E = d.exponentBits;
  const M = d.mantissaBits;
  return {
    d,
    E,
    M,
    shift: 23 - M,
    magMask: 2 ** (E + M) - 1,
    topMag: (2 ** E - 1) * 2 ** M,
    emin: 1 - d.bias,
    maxBits: f32Bits(d.maxFinite),
  };
}

const f32View = new Float32Array(1);
const u32View = new Uint32Array(f32View.buffer);

function f32Bits(x: number): number {
  f32View[0] = x;
  return u32View[0];
}

function isF32(d: FloatDType): boolean {
  return d.exponentBits === 8 && d.mantissaBits === 23;
}

/** `(a + (2^(k-1) - 1) + lsb)`: adding this to `a` and dropping the low `k` bits rounds ties to even. */
function rneAdd(a: string, k: number): string {
  return `${a} + ${hex(2 ** (k - 1) - 1)} + ((${a} >> ${uint(k)}) & 1u)`;
}

/** Exponent adjustment `k << 23` of f32 bits as `+ C` / `- C` (empty for 0). */
function exponentAdjust(k: number): string {
  if (k === 0) return '';
  return k > 0 ? ` + ${hex(k * 2 ** 23)}` : ` - ${hex(-k * 2 ** 23)}`;
}

/**
 * Lines that compute, from the f32 magnitude bits `a` of a value in the format's subnormal range
 * (below 2^emin), `q`: the value in units of the quantum 2^(emin - M), rounded to nearest even. The f32
 * input may itself be subnormal (exponent field 0): every such value lies far below half a quantum of a
 * format with E < 8, and the shift is clamped to 31, so it rounds to 0 regardless of the implicit bit.
 */
function quantumLines(L: FloatLayout): string[] {
  // value = sig * 2^(ef - 150), so value / 2^(emin - M) = sig >> (150 + emin - M - ef); that shift is at
  // least 24 - M >= 1 in this range.
  return [
    `let sh = min(${uint(150 + L.emin - L.M)} - (a >> 23u), 31u);`,
    `let sig = (a & 0x7fffffu) | 0x800000u;`,
    `let q = (sig + (1u << (sh - 1u)) - 1u + ((sig >> sh) & 1u)) >> sh;`,
  ];
}

/** The f32 bits of `q * 2^(emin - M)` for a nonzero integer q < 2^24 (exact: f32(q) is exact). */
function fromQuanta(L: FloatLayout, q: string): string {
  return `bitcast<u32>(f32(${q}))${exponentAdjust(L.emin - L.M)}`;
}

function decodeFloatLines(d: FloatDType): string[] {
  const L = layout(d);
  if (isF32(d)) return ['return bitcast<f32>(p);'];
  if (L.E === 8) {
    // Same exponent field and bias as f32: the pattern is the top of an f32 pattern (subnormals, Inf
    // and NaN included).
    return [`return bitcast<f32>(p << ${uint(L.shift)});`];
  }
  const N = d.bits;
  const lines = [`let sgn = (p << ${uint(32 - N)}) & 0x80000000u;`, `let mag = p & ${hex(L.magMask)};`];
  if (d.rule === 'ieee') {
    lines.push(
      `if mag >= ${hex(L.topMag)} { // Inf (mantissa 0) or NaN: all-ones f32 exponent, mantissa kept`,
      `  return bitcast<f32>(sgn | 0x7f800000u | (mag << ${uint(L.shift)}));`,
      '}',
    );
  } else if (d.rule === 'fn') {
    lines.push(
      `if mag == ${hex(L.magMask)} { // the one NaN, s.1..1.1..1`,
      '  return bitcast<f32>(sgn | 0x7fc00000u);',
      '}',
    );
  }
  lines.push(
    `if mag >= ${hex(2 ** L.M)} { // normal: the fields move up, the exponent is rebiased`,
    `  return bitcast<f32>(sgn | ((mag << ${uint(L.shift)})${exponentAdjust(127 - d.bias)}));`,
    '}',
  );
  if (L.M === 0) {
    lines.push('return bitcast<f32>(sgn); // ±0');
  } else {
    lines.push(
      'if mag == 0u {',
      '  return bitcast<f32>(sgn); // ±0',
      '}',
      `// subnormal: mag * 2^${L.emin - L.M}, a normal f32`,
      `return bitcast<f32>(sgn | (${fromQuanta(L, 'mag')}));`,
    );
  }
  return lines;
}

/** The encode pattern of NaN under the format's rule. */
function nanPattern(L: FloatLayout): number {
  switch (L.d.rule) {
    case 'ieee':
      return L.topMag + 2 ** (L.M - 1);
    case 'fn':
      return L.magMask;
    case 'finite':
      return 0;
  }
}

/** The magnitude pattern of an overflow: Inf ('ieee') or the largest finite (saturation). */
function limitMag(L: FloatLayout): number {
  switch (L.d.rule) {
    case 'ieee':
      return L.topMag;
    case 'fn':
      return L.magMask - 1;
    case 'finite':
      return L.magMask;
  }
}

function nanComment(d: FloatDType): string {
  return d.rule === 'ieee' ? 'canonical quiet NaN' : d.rule === 'fn' ? 'the positive NaN' : '+0: no NaN';
}

function encodeFloatLines(d: FloatDType): string[] {
  const L = layout(d);
  if (isF32(d)) {
    return [
      'let x = bitcast<u32>(v);',
      `if (x & 0x7fffffffu) > 0x7f800000u { // NaN: canonical quiet NaN`,
      '  return 0x7fc00000u;',
      '}',
      'return x;',
    ];
  }
  const signOut = `((x >> 31u) << ${uint(d.bits - 1)})`;
  const lines = [
    'let x = bitcast<u32>(v);',
    'let a = x & 0x7fffffffu;',
    `if a > 0x7f800000u { // NaN: ${nanComment(d)}`,
    `  return ${hex(nanPattern(L))};`,
    '}',
  ];
  if (L.E === 8) {
    // Same exponent range as f32: round the mantissa, ties to even; f32 subnormals land on the format's
    // subnormals, and a carry past the largest finite value reaches Inf by itself.
    lines.push(`let mag = (${rneAdd('a', L.shift)}) >> ${uint(L.shift)};`, `return ${signOut} | mag;`);
    return lines;
  }
  const limit = limitMag(L);
  const overflow = d.rule === 'ieee' ? 'overflow to Inf' : 'saturate to the largest finite';
  lines.push(
    `if a < ${hex((127 + L.emin) * 2 ** 23)} { // below 2^${L.emin}: subnormal or zero`,
    ...quantumLines(L).map((l) => `  ${l}`),
    `  return ${signOut} | q;`,
    '}',
    `// normal: rebias the exponent, round the mantissa to ${bitCount(L.M)} (ties to even; a carry moves into`,
    `// the exponent), then ${overflow}`,
    `let b = a - ${hex((127 - d.bias) * 2 ** 23)};`,
    `let mag = (${rneAdd('b', L.shift)}) >> ${uint(L.shift)};`,
    `return ${signOut} | min(mag, ${hex(limit)});`,
  );
  return lines;
}

/**
 * Lines rounding the f32 value `v` (a WGSL expression naming an f32) to the nearest value of `d`,
 * ending in `return`s. `mayBeNaN` false omits the NaN test (the caller knows `v` is a number).
 */
function roundFloatLines(d: FloatDType, v: string, mayBeNaN: boolean): string[] {
  const L = layout(d);
  const lines = [`let x = bitcast<u32>(${v});`, 'let sgn = x & 0x80000000u;', 'let a = x & 0x7fffffffu;'];
  if (mayBeNaN) {
    lines.push(
      'if a > 0x7f800000u { // NaN',
      d.rule === 'finite' ? '  return 0.0; // the format has no NaN: +0' : `  return ${v};`,
      '}',
    );
  }
  const keep = hex(~(2 ** L.shift - 1));
  if (L.E === 8) {
    lines.push(
      `// round the mantissa to ${bitCount(L.M)}, ties to even (subnormals included; past the largest finite the`,
      '// carry reaches Inf)',
      `let r = (${rneAdd('a', L.shift)}) & ${keep};`,
      'return bitcast<f32>(sgn | r);',
    );
    return lines;
  }
  const [limited, limitNote] =
    d.rule === 'ieee'
      ? [`select(r, 0x7f800000u, r > ${hex(L.maxBits)})`, 'past the largest finite: Inf']
      : [`min(r, ${hex(L.maxBits)})`, `saturate to ${d.maxFinite}`];
  lines.push(
    `if a >= ${hex((127 + L.emin) * 2 ** 23)} {`,
    `  // normal range: round the mantissa to ${bitCount(L.M)}, ties to even (a carry moves into the`,
    `  // exponent); then ${limitNote}`,
    `  let r = (${rneAdd('a', L.shift)}) & ${keep};`,
    `  return bitcast<f32>(sgn | ${limited});`,
    '}',
    `// subnormal range: the nearest multiple of 2^${L.emin - L.M}, ties to even`,
    ...quantumLines(L),
    'if q == 0u {',
    '  return bitcast<f32>(sgn);',
    '}',
    `return bitcast<f32>(sgn | (${fromQuanta(L, 'q')}));`,
  );
  return lines;
}

// ---------------------------------------------------------------------------------------------------
// Integers and bool

/** `v` (held in `reg`) wrapped to `d`'s width: sign-extended into i32 or masked into u32. */
function wrapInt(v: string, d: IntDType, reg: RegisterType): string {
  const asU32 = reg === 'u32' ? v : `bitcast<u32>(${v})`;
  if (!d.signed) return d.bits === 32 ? asU32 : `${asU32} & ${hex(2 ** d.bits - 1)}`;
  if (d.bits === 32) return reg === 'i32' ? v : `bitcast<i32>(${v})`;
  const sh = uint(32 - d.bits);
  return reg === 'i32' ? `(${v} << ${sh}) >> ${sh}` : `bitcast<i32>(${v} << ${sh}) >> ${sh}`;
}

function decodeBody(d: DType): string[] {
  switch (d.kind) {
    case 'float':
      return decodeFloatLines(d);
    case 'int':
      return [`return ${wrapInt('p', d, 'u32')};`];
    case 'bool':
      return ['return (p & 1u) != 0u;'];
  }
}

function encodeBody(d: DType): string[] {
  switch (d.kind) {
    case 'float':
      return encodeFloatLines(d);
    case 'int': {
      const reg = registerType(d);
      const asU32 = reg === 'u32' ? 'v' : 'bitcast<u32>(v)';
      return [`return ${d.bits === 32 ? asU32 : `${asU32} & ${hex(2 ** d.bits - 1)}`};`];
    }
    case 'bool':
      return ['return select(0u, 1u, v);'];
  }
}

// ---------------------------------------------------------------------------------------------------
// Casts

/** Whether castValue(from, to, x) is x for every value x of `from` (NaN for NaN, -0 for -0). */
function isValueSubset(from: DType, to: DType): boolean {
  if (from.kind === 'bool') return to.kind === 'bool';
  if (to.kind === 'bool') return false;
  if (from.kind === 'int' && to.kind === 'int') {
    if (from.signed) return to.signed && to.bits >= from.bits;
    return to.bits > from.bits || (!to.signed && to.bits === from.bits);
  }
  if (from.kind === 'int' && to.kind === 'float') {
    // Every integer up to L = max |value| is exact when 1 is a multiple of the quantum, L needs at most
    // M + 1 significant bits (2^(M+1) itself included) and L is finite.
    const L = Math.max(-from.min, from.max);
    return to.minSubnormal <= 1 && L <= 2 ** (to.mantissaBits + 1) && L <= to.maxFinite;
  }
  if (from.kind === 'float' && to.kind === 'float') {
    if (isF32(to)) return true;
    if (isF32(from)) return false;
    return (
      from.mantissaBits <= to.mantissaBits &&
      from.minSubnormal >= to.minSubnormal &&
      from.maxFinite <= to.maxFinite &&
      (from.rule === 'finite' || to.rule !== 'finite') && // NaN stays NaN
      (from.rule !== 'ieee' || to.rule === 'ieee') // Inf stays Inf
    );
  }
  return false; // float to int
}

function castBody(from: DType, to: DType): string[] {
  const fromReg = registerType(from);
  const toReg = registerType(to);
  if (from.kind === 'bool') {
    const one = castValue(from, to, 1);
    if (one === 0) return [`return ${literal(toReg, 0)}; // true rounds to 0 in ${to.name}`];
    return [`return select(${literal(toReg, 0)}, ${literal(toReg, one)}, v);`];
  }
  if (to.kind === 'bool') {
    if (from.kind === 'float') return ['return (bitcast<u32>(v) & 0x7fffffffu) != 0u; // NaN is nonzero'];
    return [`return v != ${literal(fromReg, 0)};`];
  }
  if (to.kind === 'int') {
    if (from.kind === 'float') return floatToIntLines(to);
    if (isValueSubset(from, to)) return [`return ${toReg}(v);`];
    return [`return ${wrapInt('v', to, fromReg)};`];
  }
  // to float
  if (from.kind === 'float') return roundFloatLines(to, 'v', true);
  if (isValueSubset(from, to)) return ['return f32(v); // exact'];
  if (from.bits < 32) {
    return ['let f = f32(v); // exact: |v| < 2^24', ...roundFloatLines(to, 'f', false)];
  }
  const lines = bigIntToFloatLines(from, to);
  if (isF32(to)) return [...lines, `return ${from.signed ? 'select(m, -m, neg)' : 'm'};`];
  if (from.signed) return [...lines, 'let f = select(m, -m, neg);', ...roundFloatLines(to, 'f', false)];
  return [...lines, ...roundFloatLines(to, 'm', false)];
}

/**
 * Lines defining `m`: |v| of the 32-bit integer `v` (and `neg` for signed `v`) as an f32, rounded (ties
 * to even) to the target's precision of `min(24, M + 1)` significant bits straight from the integer, so
 * that the target's rounding that follows does not round a second time.
 */
function bigIntToFloatLines(from: IntDType, to: FloatDType): string[] {
  const P = Math.min(24, to.mantissaBits + 1);
  const n = from.signed ? 'n' : 'v';
  const lines: string[] = [];
  if (from.signed) {
    lines.push(
      'let neg = v < 0i;',
      'let n = select(bitcast<u32>(v), 0u - bitcast<u32>(v), neg); // |v|, 2^31 too',
    );
  }
  lines.push(
    `var m = f32(${n}); // exact below 2^24`,
    `if ${n} >= 0x1000000u {`,
    `  // keep the top ${P} significant bits (rounded to nearest even) and scale back by 2^cut`,
    `  let cut = firstLeadingBit(${n}) - ${uint(P - 1)};`,
    `  let top = ${n} >> cut;`,
    `  let rest = ${n} & ((1u << cut) - 1u);`,
    '  let mid = 1u << (cut - 1u);',
    '  let up = rest > mid || (rest == mid && (top & 1u) == 1u);',
    '  m = bitcast<f32>(bitcast<u32>(f32(top + select(0u, 1u, up))) + (cut << 23u));',
    '}',
  );
  return lines;
}

/** Lines of a float-to-integer cast: NaN -> 0, truncate toward zero, saturate to the range of `to`. */
function floatToIntLines(to: IntDType): string[] {
  const reg = registerType(to);
  const lines = [
    'if (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u { // NaN',
    `  return ${literal(reg, 0)};`,
    '}',
  ];
  if (to.bits === 32) {
    // The top of the range is not an f32: anything at or above 2^(bits - signed) saturates.
    const top = to.max + 1;
    lines.push(
      `if v >= ${floatInt(top)} {`,
      `  return ${to.signed ? int(to.max) : hex(to.max)};`,
      '}',
      `return ${reg}(max(v, ${floatInt(to.min)})); // truncates toward zero`,
    );
  } else {
    lines.push(`return ${reg}(clamp(v, ${floatInt(to.min)}, ${floatInt(to.max)})); // truncates toward zero`);
  }
  return lines;
}
