// The .pth reader against checkpoints written byte for byte like torch.save (test/patnet/pth-writer.ts
// documents the opcodes), the safetensors writer round trip, and the errors for bad files.
import { unzipSync, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { type PyDict, PyObject, unpickle } from '../../patnet/weights/pickle.js';
import { PthError, readPth } from '../../patnet/weights/pth.js';
import { readSafetensors } from '../../patnet/weights/safetensors.js';
import { writeSafetensors } from '../../patnet/weights/safetensors-writer.js';
import { type WeightMap, WeightsError } from '../../patnet/weights/types.js';
import { rng } from '../helpers/random.js';
import {
  bf16Storage,
  f32Storage,
  f64Storage,
  halfStorage,
  i64Storage,
  PyInstance,
  type PyLike,
  pickleOnly,
  stateDict,
  TorchStorage,
  TorchTensor,
  Tuple,
  torchSave,
} from './pth-writer.js';

function randomF32(n: number, seed: number): Float32Array {
  const r = rng(seed);
  return Float32Array.from({ length: n }, () => r() * 4 - 2);
}

function tensor(shape: number[], seed: number): { t: TorchTensor; data: Float32Array } {
  const data = randomF32(
    shape.reduce((a, b) => a * b, 1),
    seed,
  );
  return { t: new TorchTensor(f32Storage(data), shape), data };
}

/** A small conv/BN/linear state_dict like a PATNet block's, with BN's int64 counter. */
function sampleStateDict() {
  const conv = tensor([8, 3, 4, 4], 1);
  const bnW = tensor([8], 2);
  const bnB = tensor([8], 3);
  const head = tensor([10, 8], 4);
  const scalar = tensor([], 5);
  const sd = stateDict([
    ['patch_embed.proj.weight', conv.t],
    ['patch_embed.norm.weight', bnW.t],
    ['patch_embed.norm.bias', bnB.t],
    ['patch_embed.norm.num_batches_tracked', new TorchTensor(i64Storage([12345]), [])],
    ['head.weight', head.t],
    ['temperature', scalar.t],
  ]);
  const expected = new Map<string, { shape: number[]; data: Float32Array }>([
    ['patch_embed.proj.weight', { shape: [8, 3, 4, 4], data: conv.data }],
    ['patch_embed.norm.weight', { shape: [8], data: bnW.data }],
    ['patch_embed.norm.bias', { shape: [8], data: bnB.data }],
    ['head.weight', { shape: [10, 8], data: head.data }],
    ['temperature', { shape: [], data: scalar.data }],
  ]);
  return { sd, expected };
}

function expectWeights(got: WeightMap, expected: Map<string, { shape: number[]; data: Float32Array }>) {
  expect([...got.keys()]).toEqual([...expected.keys()]);
  for (const [name, e] of expected) {
    const g = got.get(name)!;
    expect(g.dtype, name).toBe('f32');
    expect(g.shape, name).toEqual(e.shape);
    expect(g.data, name).toEqual(e.data);
  }
}

describe('readPth: torch.save archives', () => {
  it('reads a protocol-2 state_dict (OrderedDict + _metadata, BINPUT/BINGET, BINPERSID) exactly', () => {
    const { sd, expected } = sampleStateDict();
    const r = readPth(torchSave(sd, { archiveName: 'patnet_t0' }));
    expectWeights(r.weights, expected);
    expect(r.skipped).toEqual([{ name: 'patch_embed.norm.num_batches_tracked', dtype: 'int64' }]);
    expect(r.container).toBe('');
    expect(r.converted).toEqual([]);
  });

  it('reads the protocol-4 form (FRAME, SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE)', () => {
    const { sd, expected } = sampleStateDict();
    expectWeights(readPth(torchSave(sd, { protocol: 4 })).weights, expected);
  });

  it('more than 1000 entries: several SETITEMS batches and LONG_BINPUT/LONG_BINGET memo keys', () => {
    const entries: [string, TorchTensor][] = [];
    const expected = new Map<string, { shape: number[]; data: Float32Array }>();
    for (let i = 0; i < 1100; i++) {
      const t = tensor([3], 100 + i);
      entries.push([`blocks.${i}.scale`, t.t]);
      expected.set(`blocks.${i}.scale`, { shape: [3], data: t.data });
    }
    const bytes = torchSave(stateDict(entries));
    const pkl = unzipSync(bytes)['archive/data.pkl']!;
    expect(pkl.includes(0x72)).toBe(true); // LONG_BINPUT occurs
    expectWeights(readPth(bytes).weights, expected);
  });

  it('strided views: a transposed tensor, a storage offset, two tensors sharing one storage', () => {
    const base = randomF32(24, 7);
    const storage = f32Storage(base);
    // t1: base[0:12] viewed as [3, 4]; t2: the transpose of base[12:24] as [4, 3] -> stride [1, 4]
    const t1 = new TorchTensor(storage, [3, 4], [4, 1], 0);
    const t2 = new TorchTensor(storage, [4, 3], [1, 4], 12);
    const t3 = new TorchTensor(storage, [2, 2], [2, 1], 5); // contiguous, at an offset
    const sd = stateDict([
      ['a', t1],
      ['b', t2],
      ['c', t3],
    ]);
    const r = readPth(torchSave(sd));
    expect(r.weights.get('a')!.data).toEqual(base.slice(0, 12));
    expect(r.weights.get('c')!.data).toEqual(base.slice(5, 9));
    const b = r.weights.get('b')!.data;
    for (let i = 0; i < 4; i++) {
      for (let j = 0; j < 3; j++) expect(b[i * 3 + j]).toBe(base[12 + j * 4 + i]);
    }
    // One storage file for both tensors.
    expect(
      Object.keys(
        unzipSync(
          torchSave(
            stateDict([
              ['a', t1],
              ['b', t2],
            ]),
          ),
        ),
      ).filter((n) => n.includes('/data/')),
    ).toEqual(['archive/data/0']);
  });

  it("a big-endian archive (byteorder 'big') is byte-swapped", () => {
    const data = randomF32(6, 9);
    const files = unzipSync(torchSave(stateDict([['w', new TorchTensor(f32Storage(data), [2, 3])]])));
    files['archive/byteorder'] = new TextEncoder().encode('big');
    const swapped = files['archive/data/0']!.slice();
    for (let i = 0; i < swapped.length; i += 4) swapped.subarray(i, i + 4).reverse();
    files['archive/data/0'] = swapped;
    expect(readPth(zipSync(files, { level: 0 })).weights.get('w')!.data).toEqual(data);
  });

  it('converts float64, float16 and bfloat16 tensors to float32 and says so', () => {
    const f64 = Float64Array.from([0.1, -2.5, 3.25e-3, 1e10]);
    const halves = [0.5, -1.25, 65504, 6.103515625e-5];
    const bf = [1.5, -3, 0.0078125, 2 ** 100];
    const sd = stateDict([
      ['d', new TorchTensor(f64Storage(f64), [2, 2])],
      ['h', new TorchTensor(halfStorage(halves), [4])],
      ['b', new TorchTensor(bf16Storage(bf), [4])],
    ]);
    const r = readPth(torchSave(sd));
    expect(r.weights.get('d')!.data).toEqual(Float32Array.from(f64));
    expect(r.weights.get('h')!.data).toEqual(Float32Array.from(halves));
    expect(r.weights.get('b')!.data).toEqual(Float32Array.from(bf));
    expect(r.converted.map((c) => c.dtype)).toEqual(['float64', 'float16', 'bfloat16']);
  });

  it("unwraps {'model': sd, 'optimizer': ..., 'epoch': n} and {'state_dict': {'module.*'}} checkpoints", () => {
    const { sd, expected } = sampleStateDict();
    const ckpt: PyLike = {
      model: sd,
      optimizer: {
        state: {},
        param_groups: [{ lr: 0.001, betas: new Tuple([0.9, 0.999]), params: [0, 1, 2] }],
      },
      lr_scheduler: new PyInstance('timm.scheduler.cosine_lr', 'CosineLRScheduler', [], { t_initial: 300 }),
      epoch: 299,
      max_accuracy: 71.918,
      config: new PyInstance('yacs.config', 'CfgNode', [{ MODEL: { NAME: 'patnet_t0' } }]),
    };
    const r = readPth(torchSave(ckpt));
    expect(r.container).toBe("['model']");
    expectWeights(r.weights, expected);

    const wrapped = new Map<string, PyLike>([...sd].map(([k, v]) => [`module.${k}`, v]));
    const r2 = readPth(torchSave({ state_dict: wrapped, epoch: 3 }));
    expect(r2.container).toBe("['state_dict']");
    expect(r2.strippedPrefix).toBe('module.');
    expectWeights(r2.weights, expected);
    expect([...readPth(torchSave({ state_dict: wrapped }), { stripPrefix: false }).weights.keys()][0]).toBe(
      'module.patch_embed.proj.weight',
    );
  });
});

describe('readPth: bad files give clear errors', () => {
  const good = () => torchSave(sampleStateDict().sd);

  it('not a zip, a legacy torch.save file, an empty file', () => {
    expect(() => readPth(new TextEncoder().encode('hello world'), { source: 'x.pth' })).toThrow(
      /x\.pth: not a PyTorch checkpoint/,
    );
    expect(() => readPth(Uint8Array.from([0x80, 0x02, 0x8a, 0x0a]))).toThrow(/legacy \(pre-1\.6/);
    expect(() => readPth(new Uint8Array(0))).toThrow(/empty file/);
  });

  it('a truncated zip (central directory cut off) is reported as corrupt or truncated', () => {
    const b = good();
    for (const keep of [0.5, 0.9, 0.99]) {
      expect(() => readPth(b.subarray(0, Math.floor(b.length * keep)), { source: 'cut.pth' })).toThrow(
        /cut\.pth: the zip archive is corrupt or truncated/,
      );
    }
  });

  it('a zip without data.pkl', () => {
    const z = zipSync({ 'a/readme.txt': new TextEncoder().encode('hi') });
    expect(() => readPth(z)).toThrow(/no data\.pkl/);
  });

  /** Rebuilds the archive with one entry replaced. */
  function patched(name: string, f: (b: Uint8Array) => Uint8Array): Uint8Array {
    const files = unzipSync(good());
    files[name] = f(files[name]!).slice();
    return zipSync(files, { level: 0 });
  }

  it('a truncated or garbled pickle names data.pkl and the byte offset', () => {
    const cut = patched('archive/data.pkl', (b) => b.subarray(0, b.length - 40));
    expect(() => readPth(cut, { source: 'm.pth' })).toThrow(/m\.pth: data\.pkl: truncated.*at byte \d+/);
    const garbled = patched('archive/data.pkl', (b) => {
      const c = b.slice();
      c[2] = 0xff; // the first opcode after PROTO
      return c;
    });
    expect(() => readPth(garbled)).toThrow(/unknown opcode 0xff \(at byte 2/);
  });

  it('a storage file shorter than its tensors needs names the tensor', () => {
    const short = patched('archive/data/0', (b) => b.subarray(0, b.length - 4));
    expect(() => readPth(short)).toThrow(
      /tensor 'patch_embed\.proj\.weight' \[8, 3, 4, 4\] needs 1536 bytes .* has 1532/,
    );
    const missing = unzipSync(good());
    delete missing['archive/data/4']; // head.weight (3 is the int64 counter)
    expect(() => readPth(zipSync(missing, { level: 0 }))).toThrow(
      /tensor 'head\.weight': storage file data\/4 is missing/,
    );
  });

  it('unsupported dtypes (complex, quantized) name the tensor', () => {
    const c = new TorchTensor(new TorchStorage('ComplexFloatStorage', new Uint8Array(16), 2), [2]);
    expect(() =>
      readPth(
        torchSave(
          stateDict([
            ['ok', tensor([2], 1).t],
            ['freq', c],
          ]),
        ),
      ),
    ).toThrow(/tensor 'freq' is stored as torch\.ComplexFloatStorage, which is not supported/);
    const q = new TorchTensor(new TorchStorage('QInt8Storage', new Uint8Array(4), 4), [4]);
    expect(() => readPth(torchSave(stateDict([['q', q]])))).toThrow(/'q' is stored as torch\.QInt8Storage/);
  });

  it('a pickled whole model, a checkpoint without a state_dict, a state_dict without floats', () => {
    const model = new PyInstance('models.partialnet', 'PartialNet', [], { training: false });
    expect(() => readPth(torchSave(model))).toThrow(/pickles a whole models\.partialnet\.PartialNet object/);
    expect(() => readPth(torchSave({ epoch: 3, lr: 0.1 }))).toThrow(/no state_dict found; .* 'epoch', 'lr'/);
    const ints = stateDict([['bn.num_batches_tracked', new TorchTensor(i64Storage([1]), [])]]);
    expect(() => readPth(torchSave(ints))).toThrow(/holds no floating-point tensors/);
  });

  it('errors are WeightsErrors (one class for every weights loader)', () => {
    try {
      readPth(new Uint8Array(3));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(PthError);
      expect(e).toBeInstanceOf(WeightsError);
    }
  });
});

describe('unpickle: the generic opcodes', () => {
  it('lists, nested dicts, floats, big ints, None/True/False and unknown classes', () => {
    const v = unpickle(
      pickleOnly({
        a: [1, -7, 70000, -(2 ** 31), 2 ** 40, -(2 ** 40), 0.25, null, true, false, 'é'],
        b: new Tuple([1, 2, 3, 4]),
        c: new PyInstance('argparse', 'Namespace', [], { lr: 0.5 }),
      }),
    ) as PyDict;
    expect(v.map.get('a')).toEqual([
      1,
      -7,
      70000,
      -(2 ** 31),
      2 ** 40,
      -(2 ** 40),
      0.25,
      null,
      true,
      false,
      'é',
    ]);
    expect(v.map.get('b')).toEqual([1, 2, 3, 4]);
    const c = v.map.get('c') as PyObject;
    expect(c).toBeInstanceOf(PyObject);
    expect(c.cls.qualified).toBe('argparse.Namespace');
    expect((c.state as PyDict).map.get('lr')).toBe(0.5);
  });

  it('the same program in protocol 4 gives the same values', () => {
    const obj: PyLike = { x: [1, 2, { y: 'z' }], t: new Tuple([0.5]) };
    const a = unpickle(pickleOnly(obj, 2)) as PyDict;
    const b = unpickle(pickleOnly(obj, 4)) as PyDict;
    expect(b.map.get('x')).toEqual(a.map.get('x'));
    expect(b.map.get('t')).toEqual([0.5]);
  });

  it('rejects a stack underflow, a missing memo entry and a missing STOP', () => {
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x52, 0x2e]))).toThrow(/stack underflow/);
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x68, 9, 0x2e]))).toThrow(/memo key 9 was never stored/);
    expect(() => unpickle(Uint8Array.from([0x80, 2, 0x4e]))).toThrow(/ended without STOP/);
  });
});

describe('writeSafetensors', () => {
  it('round-trips through readSafetensors with 8-byte header padding and aligned offsets', () => {
    const w: WeightMap = new Map();
    w.set('a.weight', { dtype: 'f32', shape: [3, 5], data: randomF32(15, 1) });
    w.set('b', { dtype: 'f32', shape: [], data: randomF32(1, 2) });
    w.set('c.bias', { dtype: 'f32', shape: [7], data: randomF32(7, 3) });
    const bytes = writeSafetensors(w, { format: 'pt', source: 'test' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const back = readSafetensors(bytes);
    expect(back.metadata).toEqual({ format: 'pt', source: 'test' });
    expect([...back.tensors.keys()]).toEqual(['a.weight', 'b', 'c.bias']);
    for (const [k, t] of w) {
      expect(back.tensors.get(k)!.shape).toEqual(t.shape);
      expect(back.tensors.get(k)!.data).toEqual(t.data);
    }
  });

  it('pth -> safetensors keeps every tensor bit for bit', () => {
    const { sd, expected } = sampleStateDict();
    const back = readSafetensors(writeSafetensors(readPth(torchSave(sd)).weights)).tensors;
    expectWeights(back, expected);
  });

  it('refuses a tensor whose data does not match its shape', () => {
    const w: WeightMap = new Map([['x', { dtype: 'f32', shape: [2, 3], data: new Float32Array(5) }]]);
    expect(() => writeSafetensors(w)).toThrow(/tensor 'x': shape \[2, 3\] has 6 elements but its data has 5/);
  });
});
