// The safetensors reader and the weight checks: the fixture file reads as 225 f32 tensors, and
// truncated/corrupt files, missing, extra and misshapen tensors give errors naming the tensor.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PATNET_CONFIGS } from '../../patnet/config.js';
import { checkWeights, expectedWeights, randomWeights } from '../../patnet/params.js';
import { readSafetensors } from '../../patnet/weights/safetensors.js';
import { WeightsError } from '../../patnet/weights/types.js';

const FILE = new URL('../../../shared/fixtures/patnet/patnet_t0.weights.safetensors', import.meta.url);

/** A safetensors file from a header object and a data section. */
function build(header: object, data: Uint8Array): Uint8Array {
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += ' ';
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors reader', () => {
  const bytes = new Uint8Array(readFileSync(FILE));

  it('reads the T0 fixture: 225 tensors that match the T0 config', () => {
    const { tensors, metadata } = readSafetensors(bytes);
    expect(tensors.size).toBe(225);
    expect(metadata.format).toBe('pt');
    expect(tensors.get('patch_embed.proj.weight')!.shape).toEqual([32, 3, 4, 4]);
    expect(() => checkWeights(PATNET_CONFIGS.t0, tensors)).not.toThrow();
  });

  it('converts F16, BF16 and F64 to f32', () => {
    const data = new Uint8Array(2 + 2 + 8);
    const v = new DataView(data.buffer);
    v.setUint16(0, 0x3e00, true); // f16 1.5
    v.setUint16(2, 0xc040, true); // bf16 -3
    v.setFloat64(4, 0.25, true);
    const { tensors } = readSafetensors(
      build(
        {
          a: { dtype: 'F16', shape: [1], data_offsets: [0, 2] },
          b: { dtype: 'BF16', shape: [1], data_offsets: [2, 4] },
          c: { dtype: 'F64', shape: [1], data_offsets: [4, 12] },
        },
        data,
      ),
    );
    expect([tensors.get('a')!.data[0], tensors.get('b')!.data[0], tensors.get('c')!.data[0]]).toEqual([
      1.5, -3, 0.25,
    ]);
  });

  it('rejects a truncated file, naming the tensor', () => {
    expect(() => readSafetensors(bytes.subarray(0, bytes.length - 100))).toThrow(/tensor '.*'.*truncated/);
    expect(() => readSafetensors(bytes.subarray(0, 4))).toThrow(WeightsError);
    expect(() => readSafetensors(bytes.subarray(0, 1000))).toThrow(/header claims/);
  });

  it('rejects corrupt headers and entries', () => {
    expect(() => readSafetensors(build({ x: 1 } as object, new Uint8Array(0)))).toThrow(/tensor 'x'/);
    expect(() =>
      readSafetensors(build({ w: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8))),
    ).toThrow(/tensor 'w': dtype "I64" is not supported/);
    expect(() =>
      readSafetensors(build({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8))),
    ).toThrow(/tensor 'w'.*needs 12/);
    const bad = build({ w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4));
    bad[10] = 0xff;
    expect(() => readSafetensors(bad)).toThrow(/not valid UTF-8 JSON/);
  });
});

describe('weight checks', () => {
  const cfg = PATNET_CONFIGS.t0;

  it('name a missing, an extra and a misshapen tensor', () => {
    const w = randomWeights(cfg, 1);
    w.delete('head.bias');
    w.set('head.extra', { dtype: 'f32', shape: [1], data: new Float32Array(1) });
    w.set('stages.2.blocks.1.mlp.0.weight', {
      dtype: 'f32',
      shape: [128, 32, 1, 1],
      data: new Float32Array(4096),
    });
    let message = '';
    try {
      checkWeights(cfg, w);
    } catch (e) {
      expect(e).toBeInstanceOf(WeightsError);
      message = (e as Error).message;
    }
    expect(message).toMatch(/missing tensor 'head.bias'/);
    expect(message).toMatch(/unexpected tensor 'head.extra'/);
    expect(message).toMatch(
      /'stages.2.blocks.1.mlp.0.weight' has shape \[128, 32, 1, 1\], expected \[128, 64, 1, 1\]/,
    );
  });

  it('T1/T2 expect what its random weights provide; PAT_sp adds the mlp.4 tensors', () => {
    // The small variants (random init of M/L's ~60M values is slow on a shared CI core).
    for (const c of [PATNET_CONFIGS.t1, PATNET_CONFIGS.t2])
      expect(() => checkWeights(c, randomWeights(c, 2))).not.toThrow();
    const sp = expectedWeights({ ...cfg, spatialAttn: true });
    expect(sp.size - expectedWeights(cfg).size).toBe(13 * 10);
    const patsp = readSafetensors(
      new Uint8Array(readFileSync(new URL('patnet_t0_patsp.weights.safetensors', FILE))),
    ).tensors;
    expect(() => checkWeights({ ...cfg, spatialAttn: true }, patsp)).not.toThrow();
  });
});
