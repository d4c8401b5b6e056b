// Native f16 (device feature 'shader-f16', `enable f16;`), taken when the compilation may
// (features.ts). f16 tiles keep f32 registers either way: every f16 value is exact in f32, and the
// staging through the u32 scratch array, reductions and casts stay one code path. What changes:
//
// - storage: loads and stores of f16 tensors convert normal numbers with one native conversion
//   (codec.ts tv_decode_f16_native / tv_encode_f16_native); zeros, subnormals, Inf, NaN and anything that
//   would round take the integer path. Exact.
// - `+ - * /` on f16 operands are computed in f16: f32(f16(a) op f16(b)). The operands convert exactly
//   (they are f16 values). WGSL's f16 `+ - *` are correctly rounded, so the result equals the
//   fallback's f32 op followed by round-to-nearest-even, except where the device flushes f16
//   subnormals or the result overflows f16 (WGSL leaves an overflowing result indeterminate); `/` is
//   within 2.5 ulp of f16. docs/wgsl-backend.md, "Native f16", states this tolerance.
//
// The fallback (no 'shader-f16', or nativeF16: 'off') is f32 arithmetic with exact integer rounding
// to f16 after each op, and integer encode/decode (codec.ts).
import type { DType } from '../../dtype.js';
import type { BinaryOp } from '../../ir/ops.js';
import { isIeeeF16, wgslDecode, wgslDecodeNativeF16, wgslEncode, wgslEncodeNativeF16 } from './codec.js';
import { featureChoices, SHADER_F16, useFeature } from './features.js';
import type { Helpers } from './writer.js';

function native(h: Helpers, d: DType): boolean {
  return featureChoices(h).nativeF16 && isIeeeF16(d);
}

/** The name of the function that decodes a storage pattern of `d` into its register. */
export function decoder(h: Helpers, d: DType): string {
  if (native(h, d) && d.kind === 'float') {
    useFeature(h, SHADER_F16);
    return h.use(wgslDecodeNativeF16(d));
  }
  return h.use(wgslDecode(d));
}

/** The name of the function that encodes a register value of `d` as its storage pattern. */
export function encoder(h: Helpers, d: DType): string {
  if (native(h, d) && d.kind === 'float') {
    useFeature(h, SHADER_F16);
    return h.use(wgslEncodeNativeF16(d));
  }
  return h.use(wgslEncode(d));
}

const NATIVE_OPS: Partial<Record<BinaryOp, string>> = { add: '+', sub: '-', mul: '*', div: '/' };

/** `a op b` computed in native f16 (as an f32 register value), or undefined where the fallback applies. */
export function nativeF16Binary(
  h: Helpers,
  op: BinaryOp,
  d: DType,
  a: string,
  b: string,
): string | undefined {
  const infix = NATIVE_OPS[op];
  if (infix === undefined || !native(h, d)) return undefined;
  useFeature(h, SHADER_F16);
  return `f32(f16(${a}) ${infix} f16(${b}))`;
}
