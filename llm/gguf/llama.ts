/**
 * A synthetic llama-architecture GGUF model with random weights, for timing peers such as llama.cpp
 * (node-llama-cpp) on matmuls of a chosen shape: a decode step costs about
 * nLayer * (2 nEmbd^2 + 2 nEmbd kvDim + 3 nEmbd nFf) + nEmbd nVocab multiply-adds (kvDim = nEmbd nHeadKv / nHead). The weights are random blocks (random codes, one small scale), not
 * a trained model, so its output is meaningless but its cost is real. The tokenizer is a minimal
 * SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then filler tokens.
 */
import { encode, f16 } from '../../dsl/dtype.js';
import { ggmlByteLength, ggmlTypeByName } from './ggml-types.js';
import { type GgufValue, gguf } from './types.js';
import { type GgufTensorInput, writeGguf } from './write.js';

export interface SyntheticLlamaOptions {
  /** Hidden size; a multiple of 32 and of nHead. */
  readonly nEmbd: number;
  /** Feed-forward size; a multiple of 32. */
  readonly nFf: number;
  readonly nHead: number;
  /** Key/value heads (grouped-query attention); divides nHead. Default nHead. */
  readonly nHeadKv?: number;
  readonly nLayer?: number;
  /** Vocabulary size, at least 259 (3 special + 256 byte tokens). Default 320. */
  readonly nVocab?: number;
  readonly contextLength?: number;
  /** Type of every matrix (norm weights are always F32). Default Q4_0. */
  readonly weightType?: 'Q4_0' | 'Q4_1' | 'Q8_0' | 'F16' | 'F32';
  readonly seed?: number;
}

/** llama.cpp's LLAMA_FTYPE for a model whose matrices are all of one type. */
const FILE_TYPE = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 7 } as const;

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** Random matrix bytes of `type` for ne = [cols, rows], with every scale set to `scale`. */
function randomMatrix(
  type: string,
  cols: number,
  rows: number,
  next: () => number,
  scale: number,
): Uint8Array {
  const t = ggmlTypeByName(type)!;
  const data = new Uint8Array(ggmlByteLength(t, [cols, rows]));
  if (type === 'F32' || type === 'F16') {
    const v = new DataView(data.buffer);
    for (let i = 0; i < cols * rows; i++) {
      const x = ((next() / 2 ** 32) * 2 - 1) * scale * 8;
      if (type === 'F32') v.setFloat32(i * 4, x, true);
      else v.setUint16(i * 2, encode(f16, x), true);
    }
    return data;
  }
  for (let i = 0; i < data.length; i += 4) {
    const r = next();
    data[i] = r;
    data[i + 1] = r >>> 8;
    data[i + 2] = r >>> 16;
    data[i + 3] = r >>> 24;
  }
  const d = encode(f16, scale);
  const m = encode(f16, -8 * scale);
  for (let o = 0; o < data.length; o += t.typeSize) {
    data[o] = d & 0xff;
    data[o + 1] = d >> 8;
    if (type === 'Q4_1') {
      data[o + 2] = m & 0xff;
      data[o + 3] = m >> 8;
    }
  }
  return data;
}

function ones(n: number): Uint8Array {
  const data = new Uint8Array(n * 4);
  new Float32Array(data.buffer).fill(1);
  return data;
}

function vocabulary(nVocab: number): Record<string, GgufValue> {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3]; // llama.cpp token types: 1 normal, 2 unknown, 3 control, 6 byte
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(6);
  }
  while (tokens.length < nVocab) {
    tokens.push(`tok${tokens.length}`);
    types.push(1);
  }
  return {
    'tokenizer.ggml.model': gguf.str('llama'),
    'tokenizer.ggml.tokens': gguf.array('string', tokens),
    'tokenizer.ggml.scores': gguf.array(
      'f32',
      tokens.map((_, i) => -i),
    ),
    'tokenizer.ggml.token_type': gguf.array('i32', types),
    'tokenizer.ggml.bos_token_id': gguf.u32(1),
    'tokenizer.ggml.eos_token_id': gguf.u32(2),
    'tokenizer.ggml.unknown_token_id': gguf.u32(0),
  };
}

function checkOptions(o: SyntheticLlamaOptions): Required<SyntheticLlamaOptions> {
  const r: Required<SyntheticLlamaOptions> = {
    nHeadKv: o.nHead,
    nLayer: 1,
    nVocab: 320,
    contextLength: 512,
    weightType: 'Q4_0',
    seed: 1,
    ...o,
  };
  const positive = ['nEmbd', 'nFf', 'nHead', 'nHeadKv', 'nLayer', 'nVocab', 'contextLength'] as const;
  for (const key of positive) {
    if (!Number.isSafeInteger(r[key]) || r[key] < 1) {
      throw new RangeError(`writeSyntheticLlama: ${key} must be a positive integer, got ${r[key]}`);
    }
  }
  if (r.nEmbd % 32 !== 0 || r.nFf % 32 !== 0) {
    throw new RangeError(
      `writeSyntheticLlama: nEmbd (${r.nEmbd}) and nFf (${r.nFf}) must be multiples of 32`,
    );
  }
  if (r.nEmbd % r.nHead !== 0 || (r.nEmbd / r.nHead) % 2 !== 0 || r.nHead % r.nHeadKv !== 0) {
    throw new RangeError(
      `writeSyntheticLlama: nHead (${r.nHead}) must divide nEmbd (${r.nEmbd}) into an even head size, and nHeadKv (${r.nHeadKv}) must divide nHead`,
    );
  }
  if (r.nVocab < 259)
    throw new RangeError(`writeSyntheticLlama: nVocab must be at least 259, got ${r.nVocab}`);
  if (!(r.weightType in FILE_TYPE)) {
    throw new RangeError(
      `writeSyntheticLlama: weightType must be Q4_0, Q4_1, Q8_0, F16 or F32, got ${r.weightType}`,
    );
  }
  return r;
}

/** Builds the model file in memory. */
export function writeSyntheticLlama(options: SyntheticLlamaOptions): Uint8Array {
  const o = checkOptions(options);
  const next = xorshift(o.seed);
  const kvDim = (o.nEmbd / o.nHead) * o.nHeadKv;
  const scale = 1 / (8 * Math.sqrt(o.nEmbd));
  const tensors: GgufTensorInput[] = [];
  const matrix = (name: string, cols: number, rows: number) =>
    tensors.push({
      name,
      type: o.weightType,
      ne: [cols, rows],
      data: randomMatrix(o.weightType, cols, rows, next, scale),
    });
  const norm = (name: string) => tensors.push({ name, type: 'F32', ne: [o.nEmbd], data: ones(o.nEmbd) });

  matrix('token_embd.weight', o.nEmbd, o.nVocab);
  norm('output_norm.weight');
  matrix('output.weight', o.nEmbd, o.nVocab);
  for (let l = 0; l < o.nLayer; l++) {
    norm(`blk.${l}.attn_norm.weight`);
    matrix(`blk.${l}.attn_q.weight`, o.nEmbd, o.nEmbd);
    matrix(`blk.${l}.attn_k.weight`, o.nEmbd, kvDim);
    matrix(`blk.${l}.attn_v.weight`, o.nEmbd, kvDim);
    matrix(`blk.${l}.attn_output.weight`, o.nEmbd, o.nEmbd);
    norm(`blk.${l}.ffn_norm.weight`);
    matrix(`blk.${l}.ffn_gate.weight`, o.nEmbd, o.nFf);
    matrix(`blk.${l}.ffn_down.weight`, o.nFf, o.nEmbd);
    matrix(`blk.${l}.ffn_up.weight`, o.nEmbd, o.nFf);
  }
  const metadata: Record<string, GgufValue> = {
    'general.architecture': gguf.str('llama'),
    'general.name': gguf.str('tilevm synthetic llama'),
    'general.file_type': gguf.u32(FILE_TYPE[o.weightType]),
    'llama.context_length': gguf.u32(o.contextLength),
    'llama.embedding_length': gguf.u32(o.nEmbd),
    'llama.block_count': gguf.u32(o.nLayer),
    'llama.feed_forward_length': gguf.u32(o.nFf),
    'llama.attention.head_count': gguf.u32(o.nHead),
    'llama.attention.head_count_kv': gguf.u32(o.nHeadKv),
    'llama.rope.dimension_count': gguf.u32(o.nEmbd / o.nHead),
    'llama.rope.freq_base': gguf.f32(10000),
    'llama.attention.layer_norm_rms_epsilon': gguf.f32(1e-5),
    'llama.vocab_size': gguf.u32(o.nVocab),
    ...vocabulary(o.nVocab),
  };
  return writeGguf({ metadata, tensors });
}
