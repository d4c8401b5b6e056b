// Reads PyTorch checkpoints (`torch.save`, zip format of torch >= 1.6) without Python: the zip
// holds `<archive>/data.pkl` (a pickle whose tensors refer to storages by persistent id) and one raw
// little-endian file per storage, `<archive>/data/<key>`. This is what official model releases ship
// as `.pth` / `.pt`. Only tensors are taken; everything else in the pickle (optimizer state, configs,
// epoch counters) is read as inert data and ignored.
import { unzipSync } from 'fflate';
import {
  describe,
  PickleError,
  type PyCallable,
  PyDict,
  PyGlobal,
  PyObject,
  type PyValue,
  unpickle,
} from './pickle.js';
import { type WeightMap, WeightsError } from './types.js';

/** A .pth file that cannot be read; the message names the file part or the tensor at fault. */
export class PthError extends WeightsError {
  override name = 'PthError';
}

/** Storage classes torch pickles (`torch.FloatStorage`, ...) and their element types. */
const STORAGE_DTYPES: Readonly<Record<string, TorchDtype>> = {
  FloatStorage: 'float32',
  DoubleStorage: 'float64',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
};

type TorchDtype =
  | 'float32'
  | 'float64'
  | 'float16'
  | 'bfloat16'
  | 'int64'
  | 'int32'
  | 'int16'
  | 'int8'
  | 'uint8'
  | 'bool';

const DTYPE_BYTES: Readonly<Record<TorchDtype, number>> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
};

const FLOAT_DTYPES = new Set<TorchDtype>(['float32', 'float64', 'float16', 'bfloat16']);

/** `torch.FloatStorage` and friends as read from GLOBAL; `dtype` is undefined for unsupported ones. */
class StorageType {
  constructor(
    readonly name: string,
    readonly dtype: TorchDtype | undefined,
  ) {}
}

/** `torch.float32` etc. (used by `_rebuild_tensor_v3`). */
class DtypeGlobal {
  constructor(readonly name: string) {}
}

class StorageRef {
  constructor(
    readonly type: StorageType,
    readonly key: string,
    readonly numel: number,
  ) {}
}

/** A tensor as pickled: a strided view of a storage. Materialised only when it is kept. */
class TensorRef {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
    readonly dtypeOverride?: TorchDtype,
  ) {}
  get dtype(): TorchDtype | undefined {
    return this.dtypeOverride ?? this.storage.type.dtype;
  }
}

export interface PthReadResult {
  readonly weights: WeightMap;
  /** Non-float tensors (e.g. BatchNorm's int64 `num_batches_tracked`), which inference does not use. */
  readonly skipped: readonly { name: string; dtype: string }[];
  /** Tensors stored as float64 / float16 / bfloat16 and converted to float32. */
  readonly converted: readonly { name: string; dtype: string }[];
  /** Where the state_dict sat: '' for a bare state_dict, else e.g. "['model']". */
  readonly container: string;
  /** A prefix removed from every name ('module.' from DataParallel, 'model.' from Lightning), or ''. */
  readonly strippedPrefix: string;
}

export interface PthReadOptions {
  /** Names the file in error messages. */
  readonly source?: string;
  /** Remove a 'module.' / 'model.' prefix shared by every tensor name (default true). */
  readonly stripPrefix?: boolean;
}

const int = (v: PyValue, what: string): number => {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw new PickleError(`${what} is a ${describe(v)}, expected an integer`);
};
const intList = (v: PyValue, what: string): number[] => {
  if (!Array.isArray(v)) throw new PickleError(`${what} is a ${describe(v)}, expected a tuple of integers`);
  return v.map((x, i) => int(x, `${what}[${i}]`));
};

function tensorFrom(args: readonly PyValue[], fn: string, dtype?: TorchDtype): TensorRef {
  const [storage, offset, size, stride] = args;
  if (!(storage instanceof StorageRef)) {
    throw new PickleError(`${fn}: first argument is a ${describe(storage)}, not a tensor storage`);
  }
  const shape = intList(size!, `${fn} size`);
  const strides = intList(stride!, `${fn} stride`);
  if (strides.length !== shape.length) throw new PickleError(`${fn}: size and stride differ in length`);
  return new TensorRef(storage, int(offset!, `${fn} storage_offset`), shape, strides, dtype);
}

/** The globals a state_dict pickle names, mapped to safe constructors. */
function torchGlobals(module: string, name: string): PyCallable | PyValue | undefined {
  const q = `${module}.${name}`;
  if (module === 'torch' && name.endsWith('Storage')) return new StorageType(name, STORAGE_DTYPES[name]);
  if (module === 'torch' && (Object.keys(DTYPE_BYTES) as string[]).includes(name))
    return new DtypeGlobal(name);
  switch (q) {
    case 'collections.OrderedDict':
    case 'builtins.dict':
    case '__builtin__.dict':
      return { call: () => new PyDict() };
    case 'torch._utils._rebuild_tensor':
    case 'torch._utils._rebuild_tensor_v2':
      return { call: (a) => tensorFrom(a, name) };
    case 'torch._utils._rebuild_tensor_v3': {
      // (storage, offset, size, stride, requires_grad, backward_hooks, dtype, metadata?)
      return {
        call: (a) => {
          const d = a[6];
          const dtype = d instanceof DtypeGlobal ? (d.name as TorchDtype) : undefined;
          return tensorFrom(a, name, dtype);
        },
      };
    }
    case 'torch._utils._rebuild_parameter':
    case 'torch._utils._rebuild_parameter_with_state':
      return { call: (a) => a[0]! };
    case 'torch._tensor._rebuild_from_type_v2':
    case 'torch._tensor._rebuild_from_type':
      // (func, type, args, state): the tensor is func(*args).
      return {
        call: (a) => {
          const [fn, , args] = a;
          if (fn && typeof (fn as PyCallable).call === 'function' && Array.isArray(args)) {
            return (fn as PyCallable).call(args);
          }
          return new PyObject(new PyGlobal(module, name), a);
        },
      };
    case 'torch._utils._rebuild_qtensor':
    case 'torch._utils._rebuild_sparse_tensor':
    case 'torch._utils._rebuild_sparse_csr':
    case 'torch._utils._rebuild_meta_tensor_no_storage':
    case 'torch._utils._rebuild_wrapper_subclass':
    case 'torch._utils._rebuild_device_tensor_from_numpy':
      return {
        call: () => {
          throw new PickleError(`${q}: quantized, sparse, meta and subclass tensors are not supported`);
        },
      };
    default:
      return undefined;
  }
}

/** Pickle and storage files of a torch zip checkpoint. */
interface Archive {
  readonly pickle: Uint8Array;
  readonly prefix: string;
  readonly files: Record<string, Uint8Array>;
  readonly littleEndian: boolean;
}

function openArchive(bytes: Uint8Array, source: string): Archive {
  const isZip =
    bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4;
  if (!isZip) {
    if (bytes.length >= 2 && bytes[0] === 0x80 && bytes[1] <= 5) {
      throw new PthError(
        `${source}: this is a legacy (pre-1.6, non-zip) torch.save file, which is not supported; ` +
          're-save it with torch >= 1.6 (torch.save(torch.load(f), g)) or convert it to safetensors',
      );
    }
    throw new PthError(
      `${source}: not a PyTorch checkpoint (a .pth/.pt file is a zip archive starting with 'PK'; ` +
        `this starts with ${hex(bytes.subarray(0, 4))})`,
    );
  }
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes);
  } catch (e) {
    throw new PthError(
      `${source}: the zip archive is corrupt or truncated (${(e as Error).message}); download the file again`,
    );
  }
  const pickles = Object.keys(files).filter((n) => n === 'data.pkl' || n.endsWith('/data.pkl'));
  if (pickles.length !== 1) {
    throw new PthError(
      pickles.length === 0
        ? `${source}: a zip, but not a torch.save archive (no data.pkl among ${Object.keys(files).length} entries)`
        : `${source}: several data.pkl entries (${pickles.join(', ')}); expected one torch.save archive`,
    );
  }
  const prefix = pickles[0]!.slice(0, -'data.pkl'.length);
  const order = files[`${prefix}byteorder`];
  const orderText = order ? new TextDecoder().decode(order).trim() : 'little';
  if (orderText !== 'little' && orderText !== 'big') {
    throw new PthError(`${source}: unknown byteorder record '${orderText}'`);
  }
  return { pickle: files[pickles[0]!]!, prefix, files, littleEndian: orderText === 'little' };
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ') || '(empty file)';
}

/** Reads a torch.save checkpoint into float32 weights named as in the state_dict. */
export function readPth(bytes: Uint8Array, options: PthReadOptions = {}): PthReadResult {
  const source = options.source ?? 'checkpoint';
  const archive = openArchive(bytes, source);
  const storages = new Map<string, StorageRef>();
  let root: PyValue;
  try {
    root = unpickle(
      archive.pickle,
      {
        globals: torchGlobals,
        persistentLoad: (pid) => {
          // ('storage', storage_type, key, location, numel)
          if (!Array.isArray(pid) || pid[0] !== 'storage' || pid.length < 5) {
            throw new PickleError(`unknown persistent id ${describe(pid)}`);
          }
          const [, type, key, , numel] = pid;
          if (!(type instanceof StorageType)) {
            throw new PickleError(`persistent id names a ${describe(type)}, not a torch storage class`);
          }
          const k = String(key);
          let ref = storages.get(k);
          if (!ref) storages.set(k, (ref = new StorageRef(type, k, int(numel!, 'storage numel'))));
          return ref;
        },
      },
      `${source}: data.pkl`,
    );
  } catch (e) {
    if (e instanceof PickleError)
      throw new PthError(`${e.message}; the checkpoint is corrupt or not a state_dict`);
    throw e;
  }
  const { dict, container } = findStateDict(root, source);
  let entries = [...dict.map.entries()].map(([k, v]) => [String(k), v] as const);
  let strippedPrefix = '';
  if (options.stripPrefix ?? true) {
    for (const p of ['module.', 'model.']) {
      if (entries.length > 0 && entries.every(([k]) => k.startsWith(p))) {
        entries = entries.map(([k, v]) => [k.slice(p.length), v] as const);
        strippedPrefix += p;
      }
    }
  }
  const weights: WeightMap = new Map();
  const skipped: { name: string; dtype: string }[] = [];
  const converted: { name: string; dtype: string }[] = [];
  for (const [name, value] of entries) {
    if (!(value instanceof TensorRef)) continue; // e.g. `_extra_state` objects
    const dtype = value.dtype;
    if (!dtype) {
      throw new PthError(
        `${source}: tensor '${name}' is stored as torch.${value.storage.type.name}, which is not supported ` +
          '(float32/64/16 and bfloat16 are read; quantized and complex tensors are not)',
      );
    }
    if (!FLOAT_DTYPES.has(dtype)) {
      skipped.push({ name, dtype });
      continue;
    }
    if (dtype !== 'float32') converted.push({ name, dtype });
    weights.set(name, {
      dtype: 'f32',
      shape: [...value.shape],
      data: materialize(value, dtype, archive, name, source),
    });
  }
  if (weights.size === 0) {
    throw new PthError(`${source}: the state_dict${container} holds no floating-point tensors`);
  }
  return { weights, skipped, converted, container, strippedPrefix };
}

const WRAPPER_KEYS = ['state_dict', 'model', 'model_state_dict', 'model_state', 'net', 'network', 'params'];

function isStateDict(v: PyValue): v is PyDict {
  if (!(v instanceof PyDict) || v.map.size === 0) return false;
  let tensors = 0;
  for (const [k, x] of v.map) {
    if (typeof k !== 'string') return false;
    if (x instanceof TensorRef) tensors++;
    else if (!(x instanceof PyObject || x === null)) return false;
  }
  return tensors > 0;
}

/** The state_dict itself, or the one inside a `{'model': ...}` / `{'state_dict': ...}` checkpoint. */
function findStateDict(root: PyValue, source: string): { dict: PyDict; container: string } {
  if (isStateDict(root)) return { dict: root, container: '' };
  if (root instanceof PyDict) {
    for (const key of WRAPPER_KEYS) {
      const v = root.map.get(key);
      if (isStateDict(v ?? null)) return { dict: v as PyDict, container: `['${key}']` };
    }
    const candidates = [...root.map].filter(([, v]) => isStateDict(v));
    if (candidates.length === 1)
      return { dict: candidates[0]![1] as PyDict, container: `['${String(candidates[0]![0])}']` };
    const keys = [...root.map.keys()].map((k) => `'${String(k)}'`).join(', ');
    throw new PthError(
      candidates.length > 1
        ? `${source}: several state_dicts in the checkpoint (${candidates.map(([k]) => `'${String(k)}'`).join(', ')}); ` +
            'extract the one you want in Python'
        : `${source}: no state_dict found; the checkpoint's top-level keys are ${keys || '(none)'}`,
    );
  }
  if (root instanceof PyObject) {
    throw new PthError(
      `${source}: the file pickles a whole ${root.cls.qualified} object, not a state_dict; ` +
        'save it with torch.save(model.state_dict(), path)',
    );
  }
  throw new PthError(`${source}: the pickle holds a ${describe(root)}, not a state_dict`);
}

/** Copies a strided tensor out of its storage file into a contiguous Float32Array. */
function materialize(
  t: TensorRef,
  dtype: TorchDtype,
  archive: Archive,
  name: string,
  source: string,
): Float32Array {
  const file = archive.files[`${archive.prefix}data/${t.storage.key}`];
  if (!file) {
    throw new PthError(
      `${source}: tensor '${name}': storage file data/${t.storage.key} is missing from the archive`,
    );
  }
  const size = DTYPE_BYTES[dtype];
  const numel = t.shape.reduce((a, b) => a * b, 1);
  if (t.shape.some((d) => d < 0) || t.stride.some((s) => s < 0) || t.offset < 0) {
    throw new PthError(`${source}: tensor '${name}' has a negative size, stride or offset`);
  }
  let last = t.offset;
  for (let i = 0; i < t.shape.length; i++) last += (t.shape[i]! - 1) * t.stride[i]!;
  const elements = numel === 0 ? 0 : last + 1;
  if (elements * size > file.length) {
    throw new PthError(
      `${source}: tensor '${name}' [${t.shape.join(', ')}] needs ${elements * size} bytes of storage ` +
        `data/${t.storage.key}, which has ${file.length}: the file is truncated or corrupt`,
    );
  }
  const le = archive.littleEndian;
  if (dtype === 'float32' && le === HOST_LITTLE_ENDIAN && isContiguous(t)) {
    // The common case: copy the bytes (a copy, so the result owns aligned memory).
    const start = file.byteOffset + t.offset * 4;
    return new Float32Array(file.buffer.slice(start, start + numel * 4));
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const read = reader(dtype, view, le);
  const out = new Float32Array(numel);
  // Walk the index space in row-major order, tracking the storage offset with an odometer.
  const rank = t.shape.length;
  const idx = new Array<number>(rank).fill(0);
  let off = t.offset;
  for (let i = 0; i < numel; i++) {
    out[i] = read(off);
    for (let d = rank - 1; d >= 0; d--) {
      idx[d]!++;
      off += t.stride[d]!;
      if (idx[d]! < t.shape[d]!) break;
      off -= t.stride[d]! * t.shape[d]!;
      idx[d] = 0;
    }
  }
  return out;
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function isContiguous(t: TensorRef): boolean {
  let expected = 1;
  for (let d = t.shape.length - 1; d >= 0; d--) {
    if (t.shape[d] !== 1 && t.stride[d] !== expected) return false;
    expected *= t.shape[d]!;
  }
  return true;
}

function reader(dtype: TorchDtype, view: DataView, le: boolean): (element: number) => number {
  switch (dtype) {
    case 'float32':
      return (e) => view.getFloat32(e * 4, le);
    case 'float64':
      return (e) => view.getFloat64(e * 8, le);
    case 'float16':
      return (e) => halfToFloat(view.getUint16(e * 2, le));
    case 'bfloat16': {
      const f = new Float32Array(1);
      const u = new Uint32Array(f.buffer);
      return (e) => {
        u[0] = view.getUint16(e * 2, le) << 16;
        return f[0]!;
      };
    }
    default:
      throw new PthError(`no float reader for ${dtype}`);
  }
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
