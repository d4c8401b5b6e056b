// What this engine's WebAssembly supports, probed with WebAssembly.validate on tiny modules:
// 'simd128' (every artifact needs it) and 'relaxed-simd' (artifacts built for it say so; Node 20
// lacks it unless started with --experimental-wasm-relaxed-simd).

/** A module with one function () -> v128 returning `op` applied to two v128.const 0. */
function probe(op: readonly number[]): Uint8Array<ArrayBuffer> {
  const zero = new Array<number>(16).fill(0);
  const body = [0x00, 0xfd, 0x0c, ...zero, 0xfd, 0x0c, ...zero, ...op, 0x0b];
  // biome-ignore format: one section a line
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type section: [] -> [v128]
    0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
    0x0a, body.length + 2, 0x01, body.length, ...body, // code section
  ]);
}

/** i8x16.swizzle (0xfd 14): valid wherever SIMD128 is. */
export const SIMD128_PROBE = probe([0xfd, 0x0e]);
/** i8x16.relaxed_swizzle (0xfd 256): valid only with relaxed SIMD. */
export const RELAXED_SIMD_PROBE = probe([0xfd, 0x80, 0x02]);

let detected: ReadonlySet<string> | undefined;

/** The WebAssembly features this engine validates (probed once). */
export function wasmFeatures(): ReadonlySet<string> {
  if (detected) return detected;
  const features = new Set<string>();
  const valid = (bytes: Uint8Array<ArrayBuffer>): boolean => {
    try {
      return WebAssembly.validate(bytes);
    } catch {
      return false;
    }
  };
  if (valid(SIMD128_PROBE)) features.add('simd128');
  if (valid(RELAXED_SIMD_PROBE)) features.add('relaxed-simd');
  detected = features;
  return features;
}
