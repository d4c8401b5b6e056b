// ggml tensor types as GGUF stores them: the type code, elements per block and bytes per block (ggml.c's
// type_traits). Only sizes are needed to locate tensors; block decoding exists for Q4_0, Q4_1, Q8_0 and
// the plain float types (blocks.ts).

export interface GgmlType {
  readonly name: string;
  readonly code: number;
  /** Elements per block (1 for plain types). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
}

// biome-ignore format: one row per type
const TYPES: readonly GgmlType[] = [
  ['F32', 0, 1, 4], ['F16', 1, 1, 2], ['Q4_0', 2, 32, 18], ['Q4_1', 3, 32, 20],
  ['Q5_0', 6, 32, 22], ['Q5_1', 7, 32, 24], ['Q8_0', 8, 32, 34], ['Q8_1', 9, 32, 36],
  ['Q2_K', 10, 256, 84], ['Q3_K', 11, 256, 110], ['Q4_K', 12, 256, 144], ['Q5_K', 13, 256, 176],
  ['Q6_K', 14, 256, 210], ['Q8_K', 15, 256, 292], ['IQ2_XXS', 16, 256, 66], ['IQ2_XS', 17, 256, 74],
  ['IQ3_XXS', 18, 256, 98], ['IQ1_S', 19, 256, 50], ['IQ4_NL', 20, 32, 18], ['IQ3_S', 21, 256, 110],
  ['IQ2_S', 22, 256, 82], ['IQ4_XS', 23, 256, 136], ['I8', 24, 1, 1], ['I16', 25, 1, 2],
  ['I32', 26, 1, 4], ['I64', 27, 1, 8], ['F64', 28, 1, 8], ['IQ1_M', 29, 256, 56],
  ['BF16', 30, 1, 2], ['TQ1_0', 34, 256, 54], ['TQ2_0', 35, 256, 66], ['MXFP4', 39, 32, 17],
].map(([name, code, blockSize, typeSize]) =>
  Object.freeze({ name, code, blockSize, typeSize } as GgmlType),
);

const BY_CODE = new Map(TYPES.map((t) => [t.code, t]));
const BY_NAME = new Map(TYPES.map((t) => [t.name, t]));

export type GgmlTypeName = 'F32' | 'F16' | 'BF16' | 'Q4_0' | 'Q4_1' | 'Q8_0' | (string & {});

export function ggmlTypeByCode(code: number): GgmlType | undefined {
  return BY_CODE.get(code);
}

export function ggmlTypeByName(name: string): GgmlType | undefined {
  return BY_NAME.get(name);
}

/** Bytes of a tensor of `type` with dims `ne` (ne[0] innermost); ne[0] must be a multiple of the block size. */
export function ggmlByteLength(type: GgmlType, ne: readonly number[]): number {
  const elements = ne.reduce((a, b) => a * b, 1);
  return (elements / type.blockSize) * type.typeSize;
}
