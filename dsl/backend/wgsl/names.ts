// Identifiers of the generated WGSL. IR names (tile variables, scalars, params) are kept where they
// can be, so the shader reads like the program; a name that is a WGSL keyword, reserved word or
// predeclared function, or that collides with a name the backend uses itself, gets a numeric suffix.
import { ALL_DTYPES } from '../../dtype.js';

/** WGSL keywords and reserved words (WGSL spec §15.1-15.2), plus predeclared types and functions. */
const WGSL_WORDS = `
alias break case const const_assert continue continuing default diagnostic discard else enable false fn
for if let loop override requires return struct switch true var while
NULL Self abstract active alignas alignof as asm asm_fragment async attribute auto await become cast
catch class co_await co_return co_yield coherent column_major common compile compile_fragment concept
const_cast consteval constexpr constinit crate debugger decltype delete demote demote_to_helper do
dynamic_cast enum explicit export extends extern external fallthrough filter final finally friend from
fxgroup get goto groupshared highp impl implements import inline instanceof interface layout lowp macro
macro_rules match mediump meta mod module move mut mutable namespace new nil noexcept noinline
nointerpolation non_coherent noncoherent noperspective null nullptr of operator package packoffset
partition pass patch pixelfragment precise precision premerge priv protected pub public readonly ref
regardless register reinterpret_cast require resource restrict self set shared sizeof smooth snorm
static static_assert static_cast std subroutine super target template this thread_local throw trait
try type typedef typeid typename typeof union unless unorm unsafe unsized use using varying virtual
volatile wgsl where with writeonly yield
bool f16 f32 i32 u32 vec2 vec3 vec4 mat2x2 mat2x3 mat2x4 mat3x2 mat3x3 mat3x4 mat4x2 mat4x3 mat4x4
array atomic ptr sampler sampler_comparison texture_1d texture_2d texture_2d_array texture_3d
texture_cube texture_cube_array texture_multisampled_2d texture_depth_2d texture_external
vec2i vec3i vec4i vec2u vec3u vec4u vec2f vec3f vec4f vec2h vec3h vec4h
read write read_write function private workgroup uniform storage
abs acos acosh all any arrayLength asin asinh atan atan2 atanh atomicAdd atomicAnd atomicLoad atomicMax
atomicMin atomicOr atomicStore atomicSub atomicXor atomicExchange atomicCompareExchangeWeak bitcast
ceil clamp cos cosh countLeadingZeros countOneBits countTrailingZeros cross degrees determinant distance
dot exp exp2 extractBits faceForward firstLeadingBit firstTrailingBit floor fma fract frexp insertBits
inverseSqrt ldexp length log log2 max min mix modf normalize pow quantizeToF16 radians reflect refract
reverseBits round saturate select sign sin sinh smoothstep sqrt step tan tanh transpose trunc
storageBarrier workgroupBarrier textureBarrier workgroupUniformLoad
pack4x8snorm pack4x8unorm pack2x16snorm pack2x16unorm pack2x16float unpack4x8snorm unpack4x8unorm
unpack2x16snorm unpack2x16unorm unpack2x16float dot4I8Packed dot4U8Packed
`;

/**
 * Names the generated code uses itself: entry point and builtins, the uniform struct, the scratch
 * array, and the locals of the per-element loops. IR names never take these.
 */
export const INTERNAL_NAMES = [
  'main',
  'Params',
  'params',
  'scratch',
  'wg',
  'tid',
  'block',
  'block_x',
  'block_y',
  'block_z',
  'slot',
  'el',
  'src',
  'base',
  'acc',
  'red',
  'kk',
  'val',
  'flat',
  'bits',
  'start',
  'first',
  'q',
  'lo',
  'word',
  'pat',
  'other',
  'sg_lane',
  'sg_id',
  'sg_count',
  'sg_before',
  'sg_flag',
  'sg_part',
  'sg_res',
  'sg_row',
  'sg_lo',
  'sg_hi',
  'sg_acc',
  'subgroupAdd',
  'subgroupMax',
  'subgroupMin',
] as const;

/** Our helper functions start with `tv_`; IR names starting with it are renamed. */
const RESERVED_PREFIX = 'tv_';

/** The codec's helper functions: `decode_f16`, `round_u4`, `cast_f32_to_i8`, .... */
const DTYPE = `(${ALL_DTYPES.map((d) => d.name).join('|')})`;
const CODEC_NAME = new RegExp(`^((decode|encode|round)_${DTYPE}|cast_${DTYPE}_to_${DTYPE})$`);

/** Per-dim locals of the generated code: offsets `o0`, indices `i0`, dims `d0`, .... */
const RESERVED_PATTERN = /^[oid]\d+$/;

const RESERVED: ReadonlySet<string> = new Set([
  ...WGSL_WORDS.split(/\s+/).filter(Boolean),
  ...INTERNAL_NAMES,
]);

/** A valid WGSL identifier close to `name`: invalid characters become `_`, and it never starts with `__`. */
export function sanitize(name: string): string {
  let s = name.replace(/[^A-Za-z0-9_]/g, '_');
  if (s === '' || /^[0-9]/.test(s)) s = `v${s}`;
  if (s.startsWith('__')) s = `v${s}`;
  if (s === '_') s = 'v_';
  return s;
}

/** Hands out unique identifiers: the wanted name when it is free, else `name_2`, `name_3`, .... */
export class Namer {
  private readonly taken = new Set<string>();

  /** A fresh identifier for `wanted` (sanitized), never a reserved word or an earlier result. */
  take(wanted: string): string {
    let base = sanitize(wanted);
    // Names shaped like the backend's own get a prefix (so suffixes cannot keep them reserved).
    if (base.startsWith(RESERVED_PREFIX) || CODEC_NAME.test(base) || RESERVED_PATTERN.test(base))
      base = `v_${base}`;
    if (this.free(base)) return this.claim(base);
    for (let i = 2; ; i++) {
      const candidate = `${base}_${i}`;
      if (this.free(candidate)) return this.claim(candidate);
    }
  }

  private free(name: string): boolean {
    return !this.taken.has(name) && !RESERVED.has(name) && !CODEC_NAME.test(name);
  }

  private claim(name: string): string {
    this.taken.add(name);
    return name;
  }
}
