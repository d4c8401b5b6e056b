// GGUF reader/writer, Q4_0/Q4_1/Q8_0 block mapping and the synthetic llama model (docs/llm-formats.md, "GGUF").
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Token } from 'node-llama-cpp';
import { describe, expect, it } from 'vitest';
import { decode, encode, f16, i4, i8, u3, u4 } from '../../dsl/dtype.js';
import { dequantize } from '../../llm/dequantize.js';
import {
  decodeGgufBlocks,
  encodeGgufBlocks,
  ggufMatrix,
  ggufTensorF32,
  ggufTensorFromMatrix,
  ggufTypeFor,
} from '../../llm/gguf/blocks.js';
import { writeSyntheticLlama } from '../../llm/gguf/llama.js';
import { ggufTensor, ggufTensorData, readGguf } from '../../llm/gguf/read.js';
import { GgufError, type GgufValue, gguf, plainValue } from '../../llm/gguf/types.js';
import { type GgufTensorInput, writeGguf } from '../../llm/gguf/write.js';
import { quantize } from '../../llm/quantize.js';
import { rng } from '../helpers/random.js';

const r = rng(20261128);
const randByte = () => Math.floor(r() * 256);

/** An f16 bit pattern of a random normal value with |v| in [2^-10, 2^-2), either sign. */
function randomF16(): number {
  const v = (r() < 0.5 ? -1 : 1) * 2 ** (-10 + r() * 8);
  return encode(f16, v);
}

/** Random Q4_0 / Q4_1 / Q8_0 blocks for a [rows, cols] matrix, with valid f16 scales. */
function randomBlocks(type: 'Q4_0' | 'Q4_1' | 'Q8_0', rows: number, cols: number): Uint8Array {
  const size = type === 'Q4_0' ? 18 : type === 'Q4_1' ? 20 : 34;
  const data = new Uint8Array((rows * cols * size) / 32);
  for (let o = 0; o < data.length; o += size) {
    const d = randomF16();
    data[o] = d & 0xff;
    data[o + 1] = d >> 8;
    const head = type === 'Q4_1' ? 4 : 2;
    if (type === 'Q4_1') {
      const m = randomF16();
      data[o + 2] = m & 0xff;
      data[o + 3] = m >> 8;
    }
    for (let j = head; j < size; j++) data[o + j] = randByte();
  }
  return data;
}

/** llama.cpp's dequantize_row_q4_0 / q4_1 / q8_0, written out independently of llm/gguf/blocks.ts. */
function referenceDequant(type: 'Q4_0' | 'Q4_1' | 'Q8_0', data: Uint8Array, count: number): Float32Array {
  const out = new Float32Array(count);
  const size = type === 'Q4_0' ? 18 : type === 'Q4_1' ? 20 : 34;
  for (let b = 0; b < count / 32; b++) {
    const o = b * size;
    const d = decode(f16, data[o] | (data[o + 1] << 8));
    if (type === 'Q8_0') {
      for (let j = 0; j < 32; j++) out[b * 32 + j] = ((data[o + 2 + j] << 24) >> 24) * d;
      continue;
    }
    const m = type === 'Q4_1' ? decode(f16, data[o + 2] | (data[o + 3] << 8)) : 0;
    const qs = o + (type === 'Q4_1' ? 4 : 2);
    for (let j = 0; j < 16; j++) {
      const lo = data[qs + j] & 15;
      const hi = data[qs + j] >> 4;
      out[b * 32 + j] = type === 'Q4_0' ? (lo - 8) * d : lo * d + m;
      out[b * 32 + j + 16] = type === 'Q4_0' ? (hi - 8) * d : hi * d + m;
    }
  }
  return out;
}

function f32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

/** Metadata exercising every value type, nested and empty arrays, and non-ASCII text. */
const METADATA: Record<string, GgufValue> = {
  'general.architecture': gguf.str('llama'),
  'test.u8': gguf.u8(255),
  'test.i8': gguf.i8(-128),
  'test.u16': gguf.u16(65535),
  'test.i16': gguf.i16(-32768),
  'test.u32': gguf.u32(4294967295),
  'test.i32': gguf.i32(-2147483648),
  'test.f32': gguf.f32(Math.fround(0.1)),
  'test.f64': gguf.f64(0.1),
  'test.u64': gguf.u64(2n ** 64n - 1n),
  'test.i64': gguf.i64(-(2n ** 63n)),
  'test.bool': gguf.bool(true),
  'test.string': gguf.str('grüße, 世界 🦙'),
  'test.empty': gguf.str(''),
  'test.array.u8': gguf.array('u8', [0, 1, 255]),
  'test.array.i64': gguf.array('i64', [-1n, 5n]),
  'test.array.f32': gguf.array('f32', [1.5, -2]),
  'test.array.string': gguf.array('string', ['a', '', 'ü']),
  'test.array.bool': gguf.array('bool', [true, false]),
  'test.array.empty': gguf.array('u32', []),
  'test.array.nested': gguf.array('array', [gguf.array('i16', [1, -1]), gguf.array('i16', [])]),
};

function sampleTensors(): GgufTensorInput[] {
  return [
    { name: 'norm', type: 'F32', ne: [5], data: f32Bytes([1, -2, 3.5, 0, 1e-3]) },
    { name: 'half', type: 'F16', ne: [3, 1], data: new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38]) },
    { name: 'q40', type: 'Q4_0', ne: [64, 3], data: randomBlocks('Q4_0', 3, 64) },
    { name: 'q41', type: 'Q4_1', ne: [32, 5], data: randomBlocks('Q4_1', 5, 32) },
    { name: 'q80', type: 'Q8_0', ne: [96, 2], data: randomBlocks('Q8_0', 2, 96) },
  ];
}

describe('GGUF reader and writer', () => {
  it.each([32, 64, 1])('round-trips metadata of every type and tensors (alignment %i)', (alignment) => {
    const tensors = sampleTensors();
    const bytes = writeGguf({ metadata: METADATA, tensors, alignment });
    const file = readGguf(bytes);
    expect(file.version).toBe(3);
    expect(file.alignment).toBe(alignment);
    expect(file.dataOffset % alignment).toBe(0);
    const expected = new Map(Object.entries(METADATA));
    if (alignment !== 32) expected.set('general.alignment', gguf.u32(alignment));
    expect(file.metadata).toEqual(expected);
    expect(plainValue(file.metadata.get('test.array.nested')!)).toEqual([[1, -1], []]);
    expect(file.tensors.map((t) => [t.name, t.type.name, t.ne])).toEqual(
      tensors.map((t) => [t.name, t.type, t.ne]),
    );
    for (const t of tensors) {
      expect(ggufTensorData(file, t.name)).toEqual(t.data);
      expect(ggufTensor(file, t.name).offset % alignment).toBe(0);
    }
    expect(Array.from(ggufTensorF32(file, 'norm'))).toEqual(
      Array.from(new Float32Array([1, -2, 3.5, 0, 1e-3])),
    );
    expect(Array.from(ggufTensorF32(file, 'half'))).toEqual([1, -2, 0.5]);
    // Writing what was read gives the same bytes.
    const again = writeGguf({
      metadata: Object.fromEntries(file.metadata),
      tensors: file.tensors.map((t) => ({
        name: t.name,
        type: t.type.name,
        ne: t.ne,
        data: ggufTensorData(file, t.name),
      })),
      alignment,
    });
    expect(again).toEqual(bytes);
  });

  it('reads version 2 files (same layout with 64-bit counts)', () => {
    const bytes = writeGguf({ metadata: { a: gguf.u32(7) }, tensors: sampleTensors().slice(0, 1) });
    new DataView(bytes.buffer).setUint32(4, 2, true);
    const file = readGguf(bytes);
    expect(file.version).toBe(2);
    expect(file.metadata.get('a')).toEqual(gguf.u32(7));
  });

  it('reads the tensor infos from the start of a file (large models need not be loaded whole)', () => {
    const bytes = writeGguf({ metadata: METADATA, tensors: sampleTensors() });
    const full = readGguf(bytes);
    const head = bytes.subarray(0, full.dataOffset + 32); // the header and the first tensor ('norm')
    const file = readGguf(head, { fileLength: bytes.length });
    expect(file.tensors).toEqual(full.tensors);
    expect(file.fileLength).toBe(bytes.length);
    expect(ggufTensorData(file, 'norm')).toEqual(ggufTensorData(full, 'norm'));
    expect(() => ggufTensorData(file, 'q40')).toThrow(
      /tensor 'q40' lies at bytes \[\d+, \d+\) of the file, beyond the \d+ bytes given/,
    );
    expect(() => readGguf(bytes.subarray(0, 100), { fileLength: bytes.length })).toThrow(
      /GGUF header longer than the bytes given: .* only 100 were passed; pass more of the file/,
    );
    expect(() => readGguf(head, { fileLength: full.dataOffset + 40 })).toThrow(
      /needs bytes .* but the file ends at byte/,
    );
    expect(() => readGguf(head, { fileLength: 10 })).toThrow(/fileLength 10 must be an integer >= the/);
  });

  it('rejects bad writer input with the field named', () => {
    expect(() => writeGguf({ metadata: { x: gguf.u8(256) } })).toThrow(
      /metadata 'x' = 256 is not a valid u8/,
    );
    expect(() => writeGguf({ metadata: { x: gguf.array('u8', [1, gguf.i8(1)]) } })).toThrow(
      /metadata 'x'\[1\] is i8 in an array of u8/,
    );
    expect(() =>
      writeGguf({ tensors: [{ name: 't', type: 'Q4_0', ne: [32, 2], data: new Uint8Array(35) }] }),
    ).toThrow(/tensor 't' \(Q4_0 \[32,2\]\) has 35 data bytes; it needs 36/);
    expect(() =>
      writeGguf({ tensors: [{ name: 't', type: 'Q4_0', ne: [16], data: new Uint8Array(9) }] }),
    ).toThrow(/ne\[0\] = 16 is not a multiple of Q4_0's block size 32/);
    expect(() =>
      writeGguf({ tensors: [{ name: 't', type: 'Q9', ne: [1], data: new Uint8Array(1) }] }),
    ).toThrow(/unknown ggml type 'Q9'/);
    expect(() => writeGguf({ alignment: 24 })).toThrow(/alignment must be a power of two, got 24/);
  });
});

describe('GGUF blocks onto QuantizedMatrix', () => {
  it.each(['Q4_0', 'Q4_1', 'Q8_0'] as const)('%s decodes exactly as llama.cpp dequantizes', (type) => {
    const [rows, cols] = [7, 160];
    const data = randomBlocks(type, rows, cols);
    const file = readGguf(writeGguf({ tensors: [{ name: 'w', type, ne: [cols, rows], data }] }));
    const m = ggufMatrix(file, 'w');
    expect([m.n, m.k, m.format.group, m.format.scale]).toEqual([rows, cols, 32, 'f16']);
    expect(m.format.weight).toBe(type === 'Q4_0' ? i4 : type === 'Q4_1' ? u4 : i8);
    expect(m.format.offset).toBe(type === 'Q4_1' ? 'min' : undefined);
    expect(Array.from(dequantize(m))).toEqual(Array.from(referenceDequant(type, data, rows * cols)));
    // And back to the same bytes.
    expect(ggufTypeFor(m)).toBe(type);
    expect(encodeGgufBlocks(m)).toEqual({ type, data });
  });

  it('reads a 3-d tensor as a matrix of ne[1] * ne[2] rows', () => {
    const data = randomBlocks('Q8_0', 6, 32);
    const file = readGguf(writeGguf({ tensors: [{ name: 'w', type: 'Q8_0', ne: [32, 3, 2], data }] }));
    expect([ggufMatrix(file, 'w').n, ggufMatrix(file, 'w').k]).toEqual([6, 32]);
  });

  it('writes quantizer output as GGUF and reads it back bit for bit', () => {
    const [n, k] = [5, 96];
    const w = Float32Array.from({ length: n * k }, () => (r() - 0.5) * 0.2);
    for (const format of [
      { weight: i4, group: 32, scale: 'f16' as const },
      { weight: u4, group: 32, scale: 'f16' as const, offset: 'min' as const },
      { weight: i8, group: 32, scale: 'f16' as const },
    ]) {
      const { matrix } = quantize(w, n, k, format, { method: 'clip' });
      const file = readGguf(writeGguf({ tensors: [ggufTensorFromMatrix('w', matrix)] }));
      const back = ggufMatrix(file, 'w');
      expect(back.format).toEqual(matrix.format);
      expect(back.weights.data).toEqual(matrix.weights.data);
      expect(back.scales.data).toEqual(matrix.scales.data);
      expect(back.mins?.data).toEqual(matrix.mins?.data);
    }
  });

  it('writes u4 with every zero point 8 as Q4_0 (read back as i4, same values)', () => {
    // Skewed weights: the quantizer's zero points are about 3, not 8.
    const w = Float32Array.from({ length: 64 }, () => r() - 0.2);
    const { matrix } = quantize(w, 1, 64, { weight: u4, group: 32, scale: 'f16' });
    const centred = { ...matrix, zeros: matrix.zeros!.clone().fill(8) };
    expect(ggufTypeFor(centred)).toBe('Q4_0');
    const back = ggufMatrix(readGguf(writeGguf({ tensors: [ggufTensorFromMatrix('w', centred)] })), 'w');
    expect(back.format.weight).toBe(i4);
    expect(dequantize(back)).toEqual(dequantize(centred));
    expect(ggufTypeFor(matrix)).toBeUndefined(); // its zero points are not all 8
  });

  it('names the formats GGUF can take when a matrix has none', () => {
    const { matrix } = quantize(new Float32Array(64).fill(0.5), 2, 32, {
      weight: u3,
      group: 32,
      scale: 'f16',
    });
    expect(() => encodeGgufBlocks(matrix)).toThrow(/u3\/g32\/f16 with k = 32 has no exact GGUF block type/);
    const g64 = quantize(new Float32Array(64).fill(0.5), 1, 64, {
      weight: i4,
      group: 64,
      scale: 'f16',
    }).matrix;
    expect(() => encodeGgufBlocks(g64)).toThrow(/i4\/g64\/f16/);
    const file = readGguf(writeGguf({ tensors: sampleTensors() }));
    expect(() => ggufMatrix(file, 'norm')).toThrow(/tensor 'norm' is F32; only Q4_0, Q4_1 and Q8_0/);
    expect(() => ggufMatrix(file, 'nope')).toThrow(
      /no tensor 'nope'; the file has 5: norm, half, q40, q41, q80/,
    );
    expect(() => decodeGgufBlocks('Q4_0', new Uint8Array(10), 1, 32)).toThrow(/needs 18 bytes, got 10/);
  });
});

describe('corrupt and truncated GGUF', () => {
  const good = writeGguf({ metadata: METADATA, tensors: sampleTensors() });

  function patched(at: number, bytes: number[] | ((v: DataView) => void)): Uint8Array {
    const b = good.slice();
    if (Array.isArray(bytes)) b.set(bytes, at);
    else bytes(new DataView(b.buffer));
    return b;
  }

  /** Bytes of a file with one metadata key 'k' (value written by `value`) and no tensors. */
  function oneKey(type: number, value: number[]): Uint8Array {
    const head = writeGguf({ metadata: { k: gguf.u8(0) } }).slice(0, 24 + 8 + 1);
    const b = new Uint8Array(head.length + 4 + value.length);
    b.set(head);
    new DataView(b.buffer).setUint32(head.length, type, true);
    b.set(value, head.length + 4);
    return b;
  }

  it('says what is wrong with the header', () => {
    expect(() => readGguf(new Uint8Array([0x50, 0x4b, 3, 4, 0, 0, 0, 0]))).toThrow(
      /not a GGUF file: it starts with 'PK..', expected 'GGUF'/,
    );
    expect(() => readGguf(patched(4, [1, 0, 0, 0]))).toThrow(
      /version 1; this reader handles versions 2 and 3 \(version 1 used 32-bit/,
    );
    expect(() => readGguf(patched(4, [9, 0, 0, 0]))).toThrow(/version 9/);
    expect(() => readGguf(patched(4, [0, 0, 0, 3]))).toThrow(/big-endian/);
    expect(() => readGguf(patched(8, (v) => v.setBigUint64(8, 2n ** 40n, true)))).toThrow(
      /tensor count at byte 8 is 1099511627776, more tensors than the file can hold/,
    );
    expect(() => readGguf(patched(16, (v) => v.setBigUint64(16, 2n ** 63n, true)))).toThrow(
      /metadata count at byte 16 is 9223372036854775808, more key\/values than the file can hold/,
    );
  });

  it('says what is wrong with metadata', () => {
    expect(() => readGguf(oneKey(13, [0]))).toThrow(
      /metadata 'k' type at byte 33 is 13; value types are 0..12/,
    );
    expect(() => readGguf(oneKey(7, [2]))).toThrow(/metadata 'k' at byte 37 is a bool of value 2/);
    expect(() => readGguf(oneKey(9, [4, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0]))).toThrow(
      /metadata 'k' length at byte 41 is 4294967295, more u32 items than/,
    );
    expect(() => readGguf(oneKey(8, [2, 0, 0, 0, 0, 0, 0, 0, 0xc3, 0x28]))).toThrow(
      /metadata 'k' at byte 37 is not valid UTF-8/,
    );
    expect(() => readGguf(oneKey(6, [0, 0]))).toThrow(
      /GGUF truncated: reading metadata 'k' at byte 37 needs 4 bytes but the file ends at byte 39/,
    );
    const twice = writeGguf({ metadata: { ab: gguf.u8(1), ac: gguf.u8(2) } });
    twice[48] = 'b'.charCodeAt(0); // the second key, 'ac', at byte 39 becomes 'ab'
    expect(() => readGguf(twice)).toThrow(/metadata key 'ab' at byte 39 appears twice/);
    const align = writeGguf({ metadata: { 'general.alignment': gguf.u32(32) } });
    new DataView(align.buffer).setUint32(24 + 8 + 'general.alignment'.length + 4, 3, true);
    expect(() => readGguf(align)).toThrow(/general.alignment must be a u32 power of two, got u32 3/);
  });

  it('says what is wrong with tensor infos and data', () => {
    const one = (t: GgufTensorInput) => writeGguf({ tensors: [t] });
    const base = one({ name: 'w', type: 'Q4_0', ne: [32, 2], data: new Uint8Array(36) });
    // Layout: 24 header bytes, name (8 + 1), n_dims at 33, ne at 37 and 45, type at 53, offset at 57.
    const patch = (f: (v: DataView) => void) => {
      const b = base.slice();
      f(new DataView(b.buffer));
      return b;
    };
    expect(() => readGguf(patch((v) => v.setUint32(33, 5, true)))).toThrow(
      /tensor 'w' \(#0, at byte 24\) has 5 dimensions at byte 33; ggml allows 1..4/,
    );
    expect(() => readGguf(patch((v) => v.setUint32(53, 99, true)))).toThrow(
      /has ggml type code 99 at byte 53, unknown to this reader/,
    );
    expect(() => readGguf(patch((v) => v.setBigUint64(37, 48n, true)))).toThrow(
      /is Q4_0 with ne\[0\] = 48, not a multiple of its block size 32/,
    );
    expect(() => readGguf(patch((v) => v.setBigUint64(57, 8n, true)))).toThrow(
      /tensor 'w' data offset 8 is not a multiple of the alignment 32/,
    );
    expect(() => readGguf(patch((v) => v.setBigUint64(45, 5n, true)))).toThrow(
      /GGUF truncated: tensor 'w' \(Q4_0 \[32,5\]\) needs bytes \[96, 186\) but the file ends at byte 160/,
    );
    const two = writeGguf({
      tensors: [
        { name: 'a', type: 'F32', ne: [8], data: new Uint8Array(32) },
        { name: 'b', type: 'F32', ne: [8], data: new Uint8Array(32) },
      ],
    });
    const dv = new DataView(two.buffer);
    // Second tensor info: name at 57 (8 + 1), n_dims 66, ne 70, type 78, offset 82.
    dv.setBigUint64(82, 0n, true);
    expect(() => readGguf(two)).toThrow(/tensors 'a' and 'b' overlap/);
    two[65] = 'a'.charCodeAt(0);
    expect(() => readGguf(two)).toThrow(/tensor name 'a' appears twice/);
  });

  it('reports every truncation of a valid file as a GgufError', () => {
    // Up to the end of the last tensor's data (the padding after it is optional).
    const file = readGguf(good);
    const end = file.dataOffset + Math.max(...file.tensors.map((t) => t.offset + t.byteLength));
    for (let len = 0; len < end; len++) {
      let error: unknown;
      try {
        readGguf(good.subarray(0, len));
      } catch (e) {
        error = e;
      }
      expect(error, `prefix of ${len} bytes`).toBeInstanceOf(GgufError);
      expect((error as Error).message).toMatch(/^(GGUF truncated|not a GGUF file)/);
      expect((error as Error).message).toMatch(/byte \d+/);
    }
    // The same prefixes passed as the start of the whole file: the header is cut short, until the
    // prefix reaches the alignment padding before the data, from where it parses in full.
    for (let len = 4; len < file.dataOffset; len++) {
      const read = () => readGguf(good.subarray(0, len), { fileLength: good.length });
      if (len > file.dataOffset - file.alignment) {
        try {
          expect(read().tensors, `${len} bytes`).toEqual(file.tensors);
          continue;
        } catch (e) {
          if (!(e instanceof GgufError)) throw e;
        }
      }
      expect(read, `${len} bytes`).toThrow(
        /GGUF header longer than the bytes given: reading .* at byte \d+ needs \d+ bytes but only \d+ were passed/,
      );
    }
  });

  it('never crashes or hangs on random corruption: a GgufError or a parsed file', () => {
    const c = rng(99);
    const header = readGguf(good).dataOffset; // the bytes the reader interprets
    for (let trial = 0; trial < 300; trial++) {
      const b = good.slice();
      const flips = 1 + Math.floor(c() * 4);
      for (let f = 0; f < flips; f++) b[Math.floor(c() * header)] = Math.floor(c() * 256);
      try {
        readGguf(b);
      } catch (e) {
        expect(e, `trial ${trial}`).toBeInstanceOf(GgufError);
      }
    }
  });
});

describe('synthetic llama model', () => {
  const options = { nEmbd: 128, nFf: 256, nHead: 4, nHeadKv: 2, nLayer: 2, nVocab: 300 };

  it('has the llama tensors and metadata', () => {
    const file = readGguf(writeSyntheticLlama(options));
    expect(plainValue(file.metadata.get('general.architecture')!)).toBe('llama');
    expect(plainValue(file.metadata.get('llama.block_count')!)).toBe(2);
    expect((plainValue(file.metadata.get('tokenizer.ggml.tokens')!) as string[]).length).toBe(300);
    expect(ggufTensor(file, 'blk.1.attn_k.weight').ne).toEqual([128, 64]);
    expect(ggufTensor(file, 'blk.0.ffn_down.weight').ne).toEqual([256, 128]);
    expect(ggufTensor(file, 'output.weight').type.name).toBe('Q4_0');
    expect(file.tensors.length).toBe(3 + 2 * 9);
    expect(() => writeSyntheticLlama({ ...options, nEmbd: 100 })).toThrow(/multiples of 32/);
  });

  it('loads and decodes in llama.cpp (node-llama-cpp)', async () => {
    const path = join(tmpdir(), `tilevm-synthetic-${process.pid}.gguf`);
    writeFileSync(path, writeSyntheticLlama(options));
    const { getLlama } = await import('node-llama-cpp');
    const llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' as never });
    try {
      const model = await llama.loadModel({ modelPath: path });
      expect(model.trainContextSize).toBe(512);
      const context = await model.createContext({ contextSize: 32, threads: 1 });
      const seq = context.getSequence();
      const out: number[] = [];
      for await (const token of seq.evaluate([1, 299, 260] as Token[])) {
        out.push(token);
        if (out.length === 2) break;
      }
      expect(out.every((t) => Number.isInteger(t) && t >= 0 && t < 300)).toBe(true);
      await context.dispose();
      await model.dispose();
    } finally {
      await llama.dispose();
      rmSync(path, { force: true });
    }
  });
});
