// Tiny ONNX models built in memory with a minimal protobuf encoder: a MatMul graph (f32 weights as
// an initializer) and a com.microsoft MatMulNBits graph (4-bit weights, f32 group scales). Only the
// ModelProto fields these graphs need are written.

/** Protobuf writer: varints, length-delimited fields, nested messages. */
class Pb {
  private readonly parts: Uint8Array[] = [];

  private varint(v: number | bigint): void {
    let x = BigInt(v);
    if (x < 0n) x += 1n << 64n;
    const out: number[] = [];
    do {
      let b = Number(x & 0x7fn);
      x >>= 7n;
      if (x > 0n) b |= 0x80;
      out.push(b);
    } while (x > 0n);
    this.parts.push(Uint8Array.from(out));
  }

  int(field: number, v: number | bigint): this {
    this.varint(field << 3);
    this.varint(v);
    return this;
  }

  bytes(field: number, data: Uint8Array): this {
    this.varint((field << 3) | 2);
    this.varint(data.length);
    this.parts.push(data);
    return this;
  }

  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }

  msg(field: number, m: Pb): this {
    return this.bytes(field, m.finish());
  }

  finish(): Uint8Array {
    const n = this.parts.reduce((a, p) => a + p.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of this.parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

/** TensorProto.DataType values. */
export const ONNX_FLOAT = 1;
export const ONNX_UINT8 = 2;

function tensor(name: string, dataType: number, dims: readonly number[], raw: Uint8Array): Pb {
  const t = new Pb();
  for (const d of dims) t.int(1, d);
  return t.int(2, dataType).str(8, name).bytes(9, raw);
}

function valueInfo(name: string, elemType: number, dims: readonly number[]): Pb {
  const shape = new Pb();
  for (const d of dims) shape.msg(1, new Pb().int(1, d));
  const tensorType = new Pb().int(1, elemType).msg(2, shape);
  return new Pb().str(1, name).msg(2, new Pb().msg(1, tensorType));
}

interface NodeSpec {
  readonly op: string;
  readonly domain?: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly intAttrs?: Readonly<Record<string, number>>;
}

function node(spec: NodeSpec): Pb {
  const n = new Pb();
  for (const i of spec.inputs) n.str(1, i);
  for (const o of spec.outputs) n.str(2, o);
  n.str(3, `${spec.op}_0`).str(4, spec.op);
  for (const [name, v] of Object.entries(spec.intAttrs ?? {})) {
    n.msg(5, new Pb().str(1, name).int(3, v).int(20, 2)); // AttributeProto.INT = 2
  }
  if (spec.domain) n.str(7, spec.domain);
  return n;
}

interface GraphSpec {
  readonly node: NodeSpec;
  readonly initializers: readonly Pb[];
  readonly inputs: readonly Pb[];
  readonly outputs: readonly Pb[];
  readonly opsets: Readonly<Record<string, number>>;
}

function model(g: GraphSpec): Uint8Array {
  const graph = new Pb().msg(1, node(g.node)).str(2, 'bench');
  for (const t of g.initializers) graph.msg(5, t);
  for (const i of g.inputs) graph.msg(11, i);
  for (const o of g.outputs) graph.msg(12, o);
  const m = new Pb().int(1, 8).str(2, 'tilevm-bench').msg(7, graph); // ir_version 8
  for (const [domain, version] of Object.entries(g.opsets)) {
    m.msg(8, new Pb().str(1, domain).int(2, version));
  }
  return m.finish();
}

function f32Bytes(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** Y[M, N] = A[M, K] @ B[K, N], B an f32 initializer (row-major K x N). */
export function matmulModel(M: number, K: number, N: number, b: Float32Array): Uint8Array {
  return model({
    node: { op: 'MatMul', inputs: ['A', 'B'], outputs: ['Y'] },
    initializers: [tensor('B', ONNX_FLOAT, [K, N], f32Bytes(b))],
    inputs: [valueInfo('A', ONNX_FLOAT, [M, K])],
    outputs: [valueInfo('Y', ONNX_FLOAT, [M, N])],
    opsets: { '': 17 },
  });
}

/**
 * com.microsoft MatMulNBits, bits = 4: Y[M, N] = A[M, K] @ dequant(B)^T where B is N x K nibbles
 * packed two per byte, low nibble first (shape [N, K / block, block / 2]), scales f32 [N, K / block],
 * and the default zero point 8.
 */
export function matmulNBitsModel(
  M: number,
  K: number,
  N: number,
  block: number,
  packed: Uint8Array,
  scales: Float32Array,
): Uint8Array {
  const blocks = K / block;
  return model({
    node: {
      op: 'MatMulNBits',
      domain: 'com.microsoft',
      inputs: ['A', 'B', 'scales'],
      outputs: ['Y'],
      intAttrs: { K, N, bits: 4, block_size: block },
    },
    initializers: [
      tensor('B', ONNX_UINT8, [N, blocks, block / 2], packed),
      tensor('scales', ONNX_FLOAT, [N, blocks], f32Bytes(scales)),
    ],
    inputs: [valueInfo('A', ONNX_FLOAT, [M, K])],
    outputs: [valueInfo('Y', ONNX_FLOAT, [M, N])],
    opsets: { '': 17, 'com.microsoft': 1 },
  });
}
