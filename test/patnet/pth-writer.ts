// Test helper: writes `.pth` files byte for byte the way `torch.save` does, so the reader is tested
// without PyTorch. What torch.save(obj, f) produces (torch >= 1.6, default pickle_protocol=2):
//
//   a zip archive, entries stored uncompressed, all under one folder (`archive/` when saving to a
//   buffer, the file's stem when saving to a path):
//     <p>/data.pkl      the pickle of `obj`, tensors replaced by persistent ids
//     <p>/byteorder     'little' (torch >= 2.1)
//     <p>/data/<key>    one raw storage per key ('0', '1', ...), little-endian, no header
//     <p>/version       '3\n'
//
//   data.pkl, for a state_dict (an OrderedDict with a `_metadata` attribute), protocol 2:
//     80 02                          PROTO 2
//     c collections\nOrderedDict\n   GLOBAL          (memoized: BINPUT n after every new object)
//     )  R                           EMPTY_TUPLE, REDUCE  -> OrderedDict()
//     (  key value key value ... u   MARK ... SETITEMS   (batches of 1000; one item: SETITEM 's')
//   each value (a tensor) is torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
//   requires_grad, backward_hooks):
//     c torch._utils\n_rebuild_tensor_v2\n    GLOBAL (BINGET after its first use)
//     (                                       MARK of the argument tuple
//       ( X'storage' c torch\nFloatStorage\n X'<key>' X'cpu' <numel> t   the persistent id tuple
//       Q                                     BINPERSID
//       K<offset>                             BININT1 / BININT2 'M' / BININT 'J'
//       <size tuple> <stride tuple>           EMPTY_TUPLE ')', TUPLE1-3 (85-87), or MARK ... TUPLE 't'
//       89                                    NEWFALSE (requires_grad)
//       h<OrderedDict> ) R                    BINGET, EMPTY_TUPLE, REDUCE -> OrderedDict() (hooks)
//     t R                                     TUPLE, REDUCE
//   then the `_metadata` state: } X'_metadata' <OrderedDict of {'version': 1} dicts> s b
//   (EMPTY_DICT, SETITEM, BUILD) and STOP '.'. Strings are BINUNICODE 'X' (4-byte length);
//   a str object pickled twice (e.g. 'cpu') is fetched from the memo with BINGET 'h'.
//
// With pickle_protocol=4 the same program uses FRAME (95), SHORT_BINUNICODE (8c), STACK_GLOBAL (93)
// instead of GLOBAL, and MEMOIZE (94) instead of BINPUT; `protocol: 4` emits that form.
import { zipSync } from 'fflate';

export type StorageClass =
  | 'FloatStorage'
  | 'DoubleStorage'
  | 'HalfStorage'
  | 'BFloat16Storage'
  | 'LongStorage'
  | 'ComplexFloatStorage'
  | 'QInt8Storage';

/** A tensor to pickle: a strided view of a storage. */
export class TorchTensor {
  constructor(
    readonly storage: TorchStorage,
    readonly shape: number[],
    readonly stride: number[] = contiguousStride(shape),
    readonly offset = 0,
  ) {}
}

/** Raw storage bytes with their torch storage class. */
export class TorchStorage {
  constructor(
    readonly cls: StorageClass,
    readonly bytes: Uint8Array,
    readonly numel: number,
  ) {}
}

/** A Python object the writer pickles as cls(*args) via REDUCE, e.g. an optimizer or config class. */
export class PyInstance {
  constructor(
    readonly module: string,
    readonly name: string,
    readonly args: PyLike[] = [],
    readonly state: PyLike | undefined = undefined,
  ) {}
}

export class Tuple {
  constructor(readonly items: PyLike[]) {}
}

/** Values the writer can pickle: a Map is an OrderedDict (state_dicts), a plain object a dict. */
export type PyLike =
  | null
  | boolean
  | number
  | string
  | PyLike[]
  | Tuple
  | Map<string, PyLike>
  | { [k: string]: PyLike }
  | TorchTensor
  | PyInstance;

export function contiguousStride(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function f32Storage(data: Float32Array): TorchStorage {
  return new TorchStorage('FloatStorage', new Uint8Array(data.slice().buffer), data.length);
}

export function f64Storage(data: Float64Array): TorchStorage {
  return new TorchStorage('DoubleStorage', new Uint8Array(data.slice().buffer), data.length);
}

export function i64Storage(values: readonly number[]): TorchStorage {
  const a = new BigInt64Array(values.map((v) => BigInt(v)));
  return new TorchStorage('LongStorage', new Uint8Array(a.buffer), values.length);
}

/** float16 bits (round-to-nearest-even) of each value. */
export function halfStorage(values: readonly number[]): TorchStorage {
  const out = new Uint16Array(values.length);
  values.forEach((v, i) => {
    out[i] = floatToHalf(v);
  });
  return new TorchStorage('HalfStorage', new Uint8Array(out.buffer), values.length);
}

/** bfloat16: the top 16 bits of the float32 (the test values are exact in bf16). */
export function bf16Storage(values: readonly number[]): TorchStorage {
  const f = new Float32Array(values);
  const u = new Uint32Array(f.buffer);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < out.length; i++) out[i] = u[i]! >>> 16;
  return new TorchStorage('BFloat16Storage', new Uint8Array(out.buffer), values.length);
}

function floatToHalf(v: number): number {
  const f = new Float32Array([v]);
  const x = new Uint32Array(f.buffer)[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  const mant = x & 0x7fffff;
  if (exp <= 0 || exp >= 31) throw new Error(`test value ${v} is not a normal float16`);
  let h = sign | (exp << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return h;
}

/** Emits pickle opcodes, memoizing objects like CPython's Pickler. */
class PickleWriter {
  private readonly out: number[] = [];
  private readonly memo = new Map<unknown, number>();
  private readonly storageKeys = new Map<TorchStorage, string>();
  readonly storages: TorchStorage[] = [];

  constructor(private readonly protocol: 2 | 4) {}

  private byte(...b: number[]): void {
    this.out.push(...b);
  }
  private u32(n: number): void {
    this.byte(n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255);
  }
  private utf8(s: string): void {
    this.out.push(...new TextEncoder().encode(s));
  }

  private memoize(obj: unknown): void {
    const i = this.memo.size;
    this.memo.set(obj, i);
    if (this.protocol >= 4) this.byte(0x94);
    else if (i < 256) this.byte(0x71, i);
    else {
      this.byte(0x72);
      this.u32(i);
    }
  }
  /** Writes BINGET for an object already pickled; true when it was. */
  private get(obj: unknown): boolean {
    const i = this.memo.get(obj);
    if (i === undefined) return false;
    if (i < 256) this.byte(0x68, i);
    else {
      this.byte(0x6a);
      this.u32(i);
    }
    return true;
  }

  private str(s: string, memoKey: unknown = `str:${s}`): void {
    if (this.get(memoKey)) return;
    const b = new TextEncoder().encode(s);
    if (this.protocol >= 4 && b.length < 256) this.byte(0x8c, b.length);
    else {
      this.byte(0x58);
      this.u32(b.length);
    }
    this.out.push(...b);
    this.memoize(memoKey);
  }

  private global(module: string, name: string): void {
    const key = `global:${module}.${name}`;
    if (this.get(key)) return;
    if (this.protocol >= 4) {
      this.str(module);
      this.str(name);
      this.byte(0x93);
    } else {
      this.byte(0x63);
      this.utf8(`${module}\n${name}\n`);
    }
    this.memoize(key);
  }

  private int(n: number): void {
    if (n >= 0 && n < 256) this.byte(0x4b, n);
    else if (n >= 0 && n < 65536) this.byte(0x4d, n & 255, n >>> 8);
    else if (n >= -(2 ** 31) && n < 2 ** 31) {
      this.byte(0x4a);
      this.u32(n >>> 0);
    } else {
      // LONG1 with a little-endian two's-complement payload
      let v = BigInt(n);
      const bytes: number[] = [];
      do {
        bytes.push(Number(v & 255n));
        v >>= 8n;
      } while (v !== 0n && v !== -1n);
      if (
        (v === 0n && bytes[bytes.length - 1]! & 0x80) ||
        (v === -1n && !(bytes[bytes.length - 1]! & 0x80))
      ) {
        bytes.push(v === 0n ? 0 : 255);
      }
      this.byte(0x8a, bytes.length, ...bytes);
    }
  }

  private tuple(items: PyLike[], memoKey: unknown): void {
    if (items.length === 0) {
      this.byte(0x29);
      return;
    }
    if (items.length <= 3) {
      for (const x of items) this.save(x);
      this.byte(0x84 + items.length); // TUPLE1 85, TUPLE2 86, TUPLE3 87
    } else {
      this.byte(0x28);
      for (const x of items) this.save(x);
      this.byte(0x74);
    }
    this.memoize(memoKey);
  }

  private setItems(entries: [string, PyLike][]): void {
    for (let i = 0; i < entries.length; i += 1000) {
      const batch = entries.slice(i, i + 1000);
      if (batch.length === 1) {
        this.str(batch[0]![0]);
        this.save(batch[0]![1]);
        this.byte(0x73);
      } else {
        this.byte(0x28);
        for (const [k, v] of batch) {
          this.str(k);
          this.save(v);
        }
        this.byte(0x75);
      }
    }
  }

  private orderedDict(m: Map<string, PyLike>, metadata?: Map<string, PyLike>): void {
    this.global('collections', 'OrderedDict');
    this.byte(0x29, 0x52); // EMPTY_TUPLE REDUCE
    this.memoize(m);
    this.setItems([...m]);
    if (metadata) {
      // state = {'_metadata': metadata}, applied with BUILD
      const state = { _metadata: metadata };
      this.byte(0x7d);
      this.memoize(state);
      this.setItems([['_metadata', metadata]]);
      this.byte(0x62);
    }
  }

  private tensor(t: TorchTensor): void {
    if (this.get(t)) return;
    this.global('torch._utils', '_rebuild_tensor_v2');
    this.byte(0x28); // MARK of the argument tuple
    // persistent id: ('storage', torch.<cls>, key, 'cpu', numel)
    let key = this.storageKeys.get(t.storage);
    if (key === undefined) {
      key = String(this.storageKeys.size);
      this.storageKeys.set(t.storage, key);
      this.storages.push(t.storage);
    }
    this.byte(0x28);
    this.str('storage');
    this.global('torch', t.storage.cls);
    this.str(key);
    this.str('cpu');
    this.int(t.storage.numel);
    this.byte(0x74);
    this.memoize({ pid: t });
    this.byte(0x51); // BINPERSID
    this.int(t.offset);
    this.tuple(t.shape, { size: t });
    this.tuple(t.stride, { stride: t });
    this.byte(0x89); // requires_grad=False
    this.global('collections', 'OrderedDict');
    this.byte(0x29, 0x52);
    this.memoize({ hooks: t });
    this.byte(0x74); // TUPLE
    this.memoize({ args: t });
    this.byte(0x52); // REDUCE
    this.memoize(t);
  }

  save(v: PyLike): void {
    if (v === null) this.byte(0x4e);
    else if (v === true) this.byte(0x88);
    else if (v === false) this.byte(0x89);
    else if (typeof v === 'number') {
      if (Number.isInteger(v)) this.int(v);
      else {
        const b = new Uint8Array(8);
        new DataView(b.buffer).setFloat64(0, v, false);
        this.byte(0x47, ...b);
      }
    } else if (typeof v === 'string') this.str(v);
    else if (v instanceof TorchTensor) this.tensor(v);
    else if (v instanceof Tuple) this.tuple(v.items, v);
    else if (Array.isArray(v)) {
      this.byte(0x5d);
      this.memoize(v);
      if (v.length === 1) {
        this.save(v[0]!);
        this.byte(0x61);
      } else if (v.length > 1) {
        this.byte(0x28);
        for (const x of v) this.save(x);
        this.byte(0x65);
      }
    } else if (v instanceof Map) {
      if (!this.get(v)) this.orderedDict(v);
    } else if (v instanceof PyInstance) {
      this.global(v.module, v.name);
      this.tuple(v.args, { args: v });
      this.byte(0x52);
      this.memoize(v);
      if (v.state !== undefined) {
        this.save(v.state);
        this.byte(0x62);
      }
    } else {
      if (this.get(v)) return;
      this.byte(0x7d);
      this.memoize(v);
      this.setItems(Object.entries(v));
    }
  }

  /** A whole pickle of `root`; a Map root is a state_dict and gets torch's `_metadata`. */
  finish(root: PyLike, stateDictMetadata: boolean): Uint8Array {
    this.byte(0x80, this.protocol);
    const body = this.out.length;
    if (root instanceof Map && stateDictMetadata) {
      const meta = new Map<string, PyLike>();
      meta.set('', { version: 1 });
      for (const name of root.keys()) {
        const module = name.split('.').slice(0, -1).join('.');
        if (!meta.has(module)) meta.set(module, { version: 1 });
      }
      this.orderedDict(root, meta);
    } else this.save(root);
    this.byte(0x2e);
    if (this.protocol >= 4) {
      // One FRAME around the body, as CPython's framer writes for small pickles.
      const len = this.out.length - body;
      const frame = [0x95, len & 255, (len >>> 8) & 255, (len >>> 16) & 255, (len >>> 24) & 255, 0, 0, 0, 0];
      this.out.splice(body, 0, ...frame);
    }
    return Uint8Array.from(this.out);
  }
}

export interface TorchSaveOptions {
  readonly protocol?: 2 | 4;
  /** Folder inside the zip: 'archive' (saving to a buffer) or the file's stem. */
  readonly archiveName?: string;
  /** Give a Map root torch's `_metadata` attribute (default true). */
  readonly stateDictMetadata?: boolean;
}

/** The bytes torch.save(obj) would write (see the header comment). */
export function torchSave(obj: PyLike, options: TorchSaveOptions = {}): Uint8Array {
  const w = new PickleWriter(options.protocol ?? 2);
  const pickle = w.finish(obj, options.stateDictMetadata ?? true);
  const p = `${options.archiveName ?? 'archive'}/`;
  const files: Record<string, Uint8Array> = {
    [`${p}data.pkl`]: pickle,
    [`${p}byteorder`]: bytesOf('little'),
  };
  w.storages.forEach((s, i) => {
    files[`${p}data/${i}`] = s.bytes;
  });
  files[`${p}version`] = bytesOf('3\n');
  return zipSync(files, { level: 0 });
}

/** Just the pickle program for `obj` (for unpickler tests). */
export function pickleOnly(obj: PyLike, protocol: 2 | 4 = 2): Uint8Array {
  return new PickleWriter(protocol).finish(obj, false);
}

function bytesOf(s: string): Uint8Array {
  return new TextEncoder().encode(s);
}

/** A state_dict (Map) from name -> [shape, data]. */
export function stateDict(entries: [string, TorchTensor][]): Map<string, PyLike> {
  return new Map(entries);
}
