// ONNX MatMulNBits import/export (llm/onnx-matmulnbits.ts; docs/llm-formats.md, "ONNX MatMulNBits").
import { describe, expect, it } from 'vitest';
import { decode, dtypeByName, encode, f16, type IntDType, i4, u4 } from '../../dsl/dtype.js';
import { dequantize } from '../../llm/dequantize.js';
import { fromMatMulNBits, type MatMulNBitsWeights, toMatMulNBits } from '../../llm/onnx-matmulnbits.js';
import { quantize } from '../../llm/quantize.js';
import { rng } from '../helpers/random.js';

const r = rng(777);
const int = (d: string) => dtypeByName(d) as IntDType;

/** Random MatMulNBits inputs: random blobs, scales and (optionally) zero points of the given kind. */
function randomWeights(
  n: number,
  k: number,
  bits: number,
  blockSize: number,
  zp: 'none' | 'uint8' | 'float',
  scale: 'f32' | 'f16',
): MatMulNBitsWeights {
  const blocks = Math.ceil(k / blockSize);
  const b = Uint8Array.from({ length: (n * blocks * blockSize * bits) / 8 }, () => Math.floor(r() * 256));
  const s = Array.from({ length: n * blocks }, () => (r() - 0.5) * 0.1);
  const scales = scale === 'f16' ? Uint16Array.from(s, (v) => encode(f16, v)) : Float32Array.from(s);
  const z = Array.from({ length: n * blocks }, () => Math.floor(r() * 2 ** bits));
  let zeroPoints: MatMulNBitsWeights['zeroPoints'];
  if (zp === 'uint8') {
    const rowBytes = Math.ceil((blocks * bits) / 8);
    zeroPoints = new Uint8Array(n * rowBytes);
    // Packed low bits first, each row starting on a byte (written bit by bit, independently of packBits).
    for (let row = 0; row < n; row++) {
      for (let j = 0; j < blocks; j++) {
        for (let t = 0; t < bits; t++) {
          const bit = row * rowBytes * 8 + j * bits + t;
          if ((z[row * blocks + j] >> t) & 1) zeroPoints[bit >> 3] |= 1 << (bit & 7);
        }
      }
    }
  } else if (zp === 'float') {
    zeroPoints = scale === 'f16' ? Uint16Array.from(z, (v) => encode(f16, v)) : Float32Array.from(z);
  }
  return { n, k, bits, blockSize, b, scales, zeroPoints };
}

/** onnx's reference dequantization (matmulnbits_dequantize_B), bit by bit, as float64 then f32. */
function referenceDequant(w: MatMulNBitsWeights): Float32Array {
  const { n, k, bits, blockSize } = w;
  const blocks = Math.ceil(k / blockSize);
  const blob = (blockSize * bits) / 8;
  const bitAt = (bytes: Uint8Array, bit: number) => (bytes[bit >> 3] >> (bit & 7)) & 1;
  const scaleOf = (i: number) => (w.scales instanceof Uint16Array ? decode(f16, w.scales[i]) : w.scales[i]);
  const out = new Float32Array(n * k);
  for (let row = 0; row < n; row++) {
    for (let c = 0; c < k; c++) {
      const j = Math.floor(c / blockSize);
      const base = (row * blocks + j) * blob * 8 + (c % blockSize) * bits;
      let q = 0;
      for (let t = 0; t < bits; t++) q |= bitAt(w.b, base + t) << t;
      let z = 2 ** (bits - 1);
      const zp = w.zeroPoints;
      if (zp instanceof Uint8Array) {
        const rowBytes = Math.ceil((blocks * bits) / 8);
        z = 0;
        for (let t = 0; t < bits; t++) z |= bitAt(zp, row * rowBytes * 8 + j * bits + t) << t;
      } else if (zp) z = zp instanceof Uint16Array ? decode(f16, zp[row * blocks + j]) : zp[row * blocks + j];
      out[row * k + c] = (q - z) * scaleOf(row * blocks + j);
    }
  }
  return out;
}

describe('MatMulNBits import', () => {
  const cases: [number, number, 'none' | 'uint8' | 'float', 'f32' | 'f16'][] = [];
  for (let bits = 2; bits <= 8; bits++) {
    for (const zp of ['none', 'uint8', 'float'] as const)
      cases.push([bits, bits % 2 ? 16 : 32, zp, bits > 5 ? 'f16' : 'f32']);
  }
  it.each(cases)(
    'bits %i, block %i, zero points %s, %s scales: matches the reference dequantization',
    (bits, bs, zp, scale) => {
      const [n, k] = [5, 3 * bs + 7]; // a partial last block
      const w = randomWeights(n, k, bits, bs, zp, scale);
      const m = fromMatMulNBits(w);
      expect(m.format).toEqual({ weight: int(`${zp === 'none' ? 'i' : 'u'}${bits}`), group: bs, scale });
      expect(Array.from(dequantize(m))).toEqual(Array.from(referenceDequant(w)));
      // Exported again it is the same layout (padding codes of the last block become 0).
      const back = toMatMulNBits(m);
      expect(back.scales).toEqual(w.scales);
      expect(Array.from(dequantize(fromMatMulNBits(back)))).toEqual(Array.from(dequantize(m)));
      if (zp === 'uint8') expect(back.zeroPoints).toEqual(w.zeroPoints);
    },
  );

  it.each([2, 3, 4, 5, 6, 7, 8])('round-trips quantizer output of %i bits bit for bit', (bits) => {
    const [n, k] = [4, 200];
    const weights = Float32Array.from({ length: n * k }, () => (r() - 0.5) * 0.3);
    for (const signed of [true, false]) {
      for (const group of [16, 64, 128]) {
        const weight = int(`${signed ? 'i' : 'u'}${bits}`);
        const { matrix } = quantize(weights, n, k, { weight, group, scale: group === 64 ? 'f16' : 'f32' });
        const w = toMatMulNBits(matrix);
        expect(w.b.length).toBe((n * Math.ceil(k / group) * group * bits) / 8);
        expect(w.zeroPoints === undefined).toBe(signed);
        const back = fromMatMulNBits(w);
        expect(back.format).toEqual(matrix.format);
        expect(back.weights.data).toEqual(matrix.weights.data);
        expect(back.scales.data).toEqual(matrix.scales.data);
        expect(back.zeros?.data).toEqual(matrix.zeros?.data);
      }
    }
  });

  it('writes a K that is a multiple of the block as our packing, byte for byte', () => {
    const { matrix } = quantize(
      Float32Array.from({ length: 3 * 64 }, () => r() - 0.5),
      3,
      64,
      {
        weight: u4,
        group: 32,
        scale: 'f32',
      },
    );
    expect(toMatMulNBits(matrix).b).toEqual(matrix.weights.data.subarray(0, (3 * 64) / 2));
  });

  it('names what is wrong', () => {
    const ok = randomWeights(2, 32, 4, 16, 'uint8', 'f32');
    expect(() => fromMatMulNBits({ ...ok, bits: 1 })).toThrow(/MatMulNBits: bits must be 2..8, got 1/);
    expect(() => fromMatMulNBits({ ...ok, blockSize: 24 })).toThrow(
      /block_size must be a power of two >= 16, got 24/,
    );
    expect(() => fromMatMulNBits({ ...ok, b: ok.b.subarray(1) })).toThrow(
      /B has 31 elements; N = 2 x n_blocks 2 x blob_size 8 needs 32/,
    );
    expect(() => fromMatMulNBits({ ...ok, scales: new Float32Array(3) })).toThrow(/scales has 3 elements/);
    expect(() => fromMatMulNBits({ ...ok, zeroPoints: new Uint8Array(3) })).toThrow(
      /zero_points \(uint8\) has 3 elements; N = 2 x ceil\(n_blocks 2 \* bits 4 \/ 8\) needs 2/,
    );
    expect(() => fromMatMulNBits({ ...ok, zeroPoints: Float32Array.of(1, 2, 7.5, 3) })).toThrow(
      /zero_points\[2\] \(row 1, block 0\) is 7.5, not an integer in \[0, 15\]/,
    );
    expect(() => fromMatMulNBits({ ...ok, zeroPoints: Uint16Array.of(1, 2, 3, 4) })).toThrow(
      /float zero_points must have the type of scales/,
    );
    const f4 = quantize(new Float32Array(32).fill(1), 1, 32, {
      weight: dtypeByName('f4e2m1') as never,
      group: 32,
      scale: 'f16',
    }).matrix;
    expect(() => toMatMulNBits(f4)).toThrow(/f4e2m1\/g32\/f16 has no MatMulNBits layout/);
    const g48 = quantize(new Float32Array(96).fill(1), 1, 96, { weight: i4, group: 48, scale: 'f16' }).matrix;
    expect(() => toMatMulNBits(g48)).toThrow(/i4\/g48\/f16 has no MatMulNBits layout/);
    const min = quantize(new Float32Array(32).fill(1), 1, 32, {
      weight: u4,
      group: 32,
      scale: 'f16',
      offset: 'min',
    });
    expect(() => toMatMulNBits(min.matrix)).toThrow(/u4\/g32\/f16\/min has no MatMulNBits layout/);
  });
});

// A minimal ONNX ModelProto writer for one com.microsoft MatMulNBits node (protobuf wire format).
class Pb {
  private readonly parts: number[] = [];
  private varint(v: number): void {
    for (; v >= 0x80; v = Math.floor(v / 128)) this.parts.push((v & 0x7f) | 0x80);
    this.parts.push(v);
  }
  int(field: number, v: number): this {
    this.varint(field << 3);
    this.varint(v);
    return this;
  }
  bytes(field: number, data: Uint8Array | Pb): this {
    const b = data instanceof Pb ? data.finish() : data;
    this.varint((field << 3) | 2);
    this.varint(b.length);
    for (const x of b) this.parts.push(x);
    return this;
  }
  str(field: number, s: string): this {
    return this.bytes(field, new TextEncoder().encode(s));
  }
  finish(): Uint8Array {
    return Uint8Array.from(this.parts);
  }
}

const FLOAT = 1;
const UINT8 = 2;

function matMulNBitsModel(m: number, w: MatMulNBitsWeights): Uint8Array {
  const blocks = Math.ceil(w.k / w.blockSize);
  const raw = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const tensor = (name: string, type: number, dims: number[], data: Uint8Array) => {
    const t = new Pb();
    for (const d of dims) t.int(1, d);
    return t.int(2, type).str(8, name).bytes(9, data);
  };
  const valueInfo = (name: string, dims: number[]) => {
    const shape = new Pb();
    for (const d of dims) shape.bytes(1, new Pb().int(1, d));
    return new Pb().str(1, name).bytes(2, new Pb().bytes(1, new Pb().int(1, FLOAT).bytes(2, shape)));
  };
  const node = new Pb().str(1, 'A').str(1, 'B').str(1, 'scales');
  if (w.zeroPoints) node.str(1, 'zero_points');
  node.str(2, 'Y').str(3, 'mmnb').str(4, 'MatMulNBits');
  const attrs = { K: w.k, N: w.n, bits: w.bits, block_size: w.blockSize };
  for (const [name, v] of Object.entries(attrs)) node.bytes(5, new Pb().str(1, name).int(3, v).int(20, 2));
  node.str(7, 'com.microsoft');
  const graph = new Pb().bytes(1, node).str(2, 'g');
  graph.bytes(5, tensor('B', UINT8, [w.n, blocks, (w.blockSize * w.bits) / 8], w.b));
  graph.bytes(5, tensor('scales', FLOAT, [w.n, blocks], raw(w.scales)));
  if (w.zeroPoints) graph.bytes(5, tensor('zero_points', UINT8, [w.zeroPoints.length], raw(w.zeroPoints)));
  graph.bytes(11, valueInfo('A', [m, w.k])).bytes(12, valueInfo('Y', [m, w.n]));
  const model = new Pb().int(1, 8).str(2, 'tilevm-test').bytes(7, graph);
  model.bytes(8, new Pb().str(1, '').int(2, 17)).bytes(8, new Pb().str(1, 'com.microsoft').int(2, 1));
  return model.finish();
}

describe('MatMulNBits against onnxruntime-node', () => {
  // bits 2, 4 and 8 are the widths onnxruntime 1.30's CPU kernel implements (others fail at session
  // creation: "Only 2b, 4b and 8b quantization is supported"); 3, 5, 6, 7 are checked against onnx's
  // reference dequantization above.
  it.each([
    [4, 32, true],
    [4, 16, false],
    [8, 32, true],
    [2, 64, true],
  ])('bits %i, block %i, zero points %s: ORT computes A @ dequantize(W)^T', async (bits, bs, withZeros) => {
    const ort = await import('onnxruntime-node');
    const [m, n, k] = [3, 13, 2 * bs + 11];
    const weights = Float32Array.from({ length: n * k }, () => (r() - 0.5) * 0.2);
    const weight = int(`${withZeros ? 'u' : 'i'}${bits}`);
    const { matrix } = quantize(weights, n, k, { weight, group: bs, scale: 'f32' });
    const w = toMatMulNBits(matrix);
    const session = await ort.InferenceSession.create(matMulNBitsModel(m, w));
    const a = Float32Array.from({ length: m * k }, () => r() * 2 - 1);
    const { Y } = await session.run({ A: new ort.Tensor('float32', a, [m, k]) });
    const y = Y.data as Float32Array;
    const deq = dequantize(matrix);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let ref = 0;
        let mag = 0;
        for (let c = 0; c < k; c++) {
          ref += a[i * k + c] * deq[j * k + c];
          mag += Math.abs(a[i * k + c] * deq[j * k + c]);
        }
        // f32 accumulation over k terms: |error| <= k * 2^-24 * sum |a w| (loose, order independent).
        expect(Math.abs(y[i * n + j] - ref), `Y[${i}, ${j}]`).toBeLessThanOrEqual(k * 2 ** -24 * mag + 1e-7);
      }
    }
    await session.release();
  });
});
