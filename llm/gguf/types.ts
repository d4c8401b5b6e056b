// The GGUF data model shared by the reader and the writer (docs/llm-formats.md, "GGUF").
import type { GgmlType } from './ggml-types.js';

/** "GGUF" read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** Metadata value types, indexed by their GGUF code. */
export const GGUF_VALUE_TYPES = [
  'u8',
  'i8',
  'u16',
  'i16',
  'u32',
  'i32',
  'f32',
  'bool',
  'string',
  'array',
  'u64',
  'i64',
  'f64',
] as const;

export type GgufValueType = (typeof GGUF_VALUE_TYPES)[number];
export type GgufNumberType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64';

/** A typed metadata value: the type is kept so a file round-trips bit for bit. */
export type GgufValue =
  | { readonly type: GgufNumberType; readonly value: number }
  | { readonly type: 'u64' | 'i64'; readonly value: bigint }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'string'; readonly value: string }
  | { readonly type: 'array'; readonly itemType: GgufValueType; readonly value: readonly GgufValue[] };

export interface GgufTensorInfo {
  readonly name: string;
  /** Dimensions in GGUF order: ne[0] is the innermost (contiguous) one. A [rows, cols] matrix is [cols, rows]. */
  readonly ne: readonly number[];
  readonly type: GgmlType;
  /** Byte offset of the data from the file's data section (a multiple of the alignment). */
  readonly offset: number;
  readonly byteLength: number;
}

export interface GgufFile {
  readonly version: number;
  readonly metadata: ReadonlyMap<string, GgufValue>;
  readonly tensors: readonly GgufTensorInfo[];
  readonly alignment: number;
  /** Absolute byte offset of the data section. */
  readonly dataOffset: number;
  /** Length of the whole file (more than bytes.length when only its start was read). */
  readonly fileLength: number;
  /** The bytes given to readGguf (tensor data are views into them). */
  readonly bytes: Uint8Array;
}

/** A malformed, truncated or unsupported GGUF file; the message names the field and the byte offset. */
export class GgufError extends Error {
  override readonly name = 'GgufError';
}

/** Metadata value constructors for writeGguf: `gguf.u32(4096)`, `gguf.str('llama')`, `gguf.array('f32', [...])`. */
export const gguf = {
  u8: (value: number): GgufValue => ({ type: 'u8', value }),
  i8: (value: number): GgufValue => ({ type: 'i8', value }),
  u16: (value: number): GgufValue => ({ type: 'u16', value }),
  i16: (value: number): GgufValue => ({ type: 'i16', value }),
  u32: (value: number): GgufValue => ({ type: 'u32', value }),
  i32: (value: number): GgufValue => ({ type: 'i32', value }),
  f32: (value: number): GgufValue => ({ type: 'f32', value }),
  f64: (value: number): GgufValue => ({ type: 'f64', value }),
  u64: (value: bigint | number): GgufValue => ({ type: 'u64', value: BigInt(value) }),
  i64: (value: bigint | number): GgufValue => ({ type: 'i64', value: BigInt(value) }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  str: (value: string): GgufValue => ({ type: 'string', value }),
  /** An array of plain values of one scalar type, or of GgufValues (for nested arrays). */
  array(
    itemType: GgufValueType,
    items: readonly (number | bigint | boolean | string | GgufValue)[],
  ): GgufValue {
    const value = items.map((v) =>
      typeof v === 'object'
        ? v
        : ({
            type: itemType,
            value: itemType.endsWith('64') && itemType !== 'f64' ? BigInt(v as number) : v,
          } as GgufValue),
    );
    return { type: 'array', itemType, value };
  },
};

/** The plain JS value of a metadata entry (arrays become arrays of plain values). */
export function plainValue(v: GgufValue): unknown {
  return v.type === 'array' ? v.value.map(plainValue) : v.value;
}
