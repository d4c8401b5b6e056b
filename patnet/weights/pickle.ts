// A minimal, safe unpickler: enough of the pickle virtual machine (protocols 2-5) to read what
// `torch.save` writes for state_dicts and training checkpoints. It never runs code: GLOBAL /
// STACK_GLOBAL resolve through a caller-supplied table, and any other class becomes an inert
// `PyObject` record (its constructor arguments and state kept), so a checkpoint that also pickles an
// optimizer or a config object still reads. Tensors come from the caller's `persistentLoad` and
// `globals` hooks (see pth.ts).

/** A Python value as read from a pickle. Tuples and lists are both arrays; dicts keep key order. */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | PyDict
  | PyObject
  | PyGlobal
  | object;

export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
  /** State given by BUILD (e.g. an OrderedDict's `_metadata`); kept, not interpreted. */
  state: PyValue = null;
}

/** Map keys: strings and small numbers compare by value; anything else by identity. */
export type PyKey = string | number | bigint | boolean | null | object;

/** A class or function named by GLOBAL that the caller did not map to a constructor. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An instance of an unknown class: `cls(*args)` followed by BUILD(state). */
export class PyObject {
  state: PyValue = null;
  readonly items: PyValue[] = [];
  constructor(
    readonly cls: PyGlobal,
    readonly args: readonly PyValue[],
  ) {}
}

/** A GLOBAL the caller maps to a function; REDUCE calls it with the argument tuple. */
export interface PyCallable {
  readonly call: (args: readonly PyValue[]) => PyValue;
}

export interface UnpickleHooks {
  /** `module.name` -> a callable, or any value to stand for that global. */
  readonly globals?: (module: string, name: string) => PyCallable | PyValue | undefined;
  /** BINPERSID / PERSID: turns a persistent id into the object it stands for. */
  readonly persistentLoad?: (pid: PyValue) => PyValue;
}

export class PickleError extends Error {
  override name = 'PickleError';
}

function isCallable(v: unknown): v is PyCallable {
  return typeof v === 'object' && v !== null && typeof (v as PyCallable).call === 'function';
}

/** Runs the pickle program in `data` and returns the value STOP leaves on the stack. */
export function unpickle(data: Uint8Array, hooks: UnpickleHooks = {}, what = 'pickle'): PyValue {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const text = new TextDecoder('utf-8', { fatal: false });
  const latin1 = new TextDecoder('latin1');
  const stack: PyValue[] = [];
  // Stack heights at each open MARK (pickle's "metastack").
  const marks: number[] = [];
  const memo = new Map<number, PyValue>();
  let pos = 0;

  const fail = (msg: string, at = pos): never => {
    throw new PickleError(`${what}: ${msg} (at byte ${at} of ${data.length})`);
  };
  const need = (n: number): number => {
    if (n < 0 || pos + n > data.length) fail(`truncated: needs ${n} more byte(s)`);
    const at = pos;
    pos += n;
    return at;
  };
  const u8 = () => data[need(1)]!;
  const u16 = () => view.getUint16(need(2), true);
  const i32 = () => view.getInt32(need(4), true);
  const u32 = () => view.getUint32(need(4), true);
  const u64 = (): number => {
    const at = need(8);
    const hi = view.getUint32(at + 4, true);
    if (hi > 0x1fffff) fail('length does not fit in 53 bits');
    return hi * 2 ** 32 + view.getUint32(at, true);
  };
  const bytes = (n: number) => {
    const at = need(n);
    return data.subarray(at, at + n);
  };
  const line = (): string => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) fail('truncated: a text argument has no terminating newline');
    const s = latin1.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const base = () => (marks.length > 0 ? marks[marks.length - 1]! : 0);
  const pop = (): PyValue => {
    if (stack.length <= base()) fail('stack underflow');
    return stack.pop()!;
  };
  const top = (): PyValue => {
    if (stack.length <= base()) fail('stack underflow');
    return stack[stack.length - 1]!;
  };
  const popMark = (): PyValue[] => {
    const m = marks.pop();
    if (m === undefined) fail('no MARK to pop to');
    return stack.splice(m!);
  };
  const memoGet = (i: number): PyValue => {
    if (!memo.has(i)) fail(`memo key ${i} was never stored`);
    return memo.get(i)!;
  };
  const setItems = (target: PyValue, kv: PyValue[]) => {
    if (!(target instanceof PyDict)) {
      if (target instanceof PyObject) {
        // e.g. a dict subclass we do not know: keep the pairs as items.
        target.items.push(...kv);
        return;
      }
      fail(`SETITEM(S) on a ${describe(target)}`);
    }
    const d = target as PyDict;
    for (let i = 0; i + 1 < kv.length; i += 2) d.map.set(kv[i] as PyKey, kv[i + 1]!);
  };
  const appendItems = (target: PyValue, items: PyValue[]) => {
    if (Array.isArray(target)) target.push(...items);
    else if (target instanceof PyObject) target.items.push(...items);
    else fail(`APPEND(S) on a ${describe(target)}`);
  };
  const resolveGlobal = (module: string, name: string): PyValue =>
    (hooks.globals?.(module, name) as PyValue | undefined) ?? new PyGlobal(module, name);
  const call = (fn: PyValue, args: PyValue): PyValue => {
    if (!Array.isArray(args)) fail(`REDUCE arguments are a ${describe(args)}, not a tuple`);
    const list = args as PyValue[];
    if (isCallable(fn)) {
      try {
        return fn.call(list);
      } catch (e) {
        if (e instanceof PickleError) throw e;
        return fail((e as Error).message);
      }
    }
    if (fn instanceof PyGlobal) return new PyObject(fn, list);
    return fail(`REDUCE on a ${describe(fn)}, which is not callable`);
  };

  for (;;) {
    const opAt = pos;
    if (pos >= data.length) fail('truncated: ended without STOP');
    const op = data[pos++]!;
    switch (op) {
      case 0x80: // PROTO n
        if (u8() > 5) fail('pickle protocol above 5', opAt);
        break;
      case 0x95: // FRAME len (a hint for buffered readers; we hold the whole pickle)
        need(8);
        break;
      case 0x2e: // STOP
        if (stack.length !== 1 || marks.length !== 0) fail('STOP with a malformed stack', opAt);
        return stack[0]!;
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP: the top item, or an open MARK with nothing after it
        if (marks.length > 0 && stack.length === base()) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;
      // --- constructors of containers
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x5d: // EMPTY_LIST
        stack.push([]);
        break;
      case 0x29: // EMPTY_TUPLE
        stack.push([]);
        break;
      case 0x8f: // EMPTY_SET
        stack.push([]);
        break;
      case 0x74: // TUPLE
      case 0x6c: // LIST
      case 0x91: {
        // FROZENSET
        stack.push(popMark());
        break;
      }
      case 0x64: {
        // DICT
        const kv = popMark();
        const d = new PyDict();
        setItems(d, kv);
        stack.push(d);
        break;
      }
      case 0x85: // TUPLE1
        stack.push([pop()]);
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        stack.push([pop(), b]);
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        stack.push([pop(), b, c]);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        appendItems(top(), [v]);
        break;
      }
      case 0x65: // APPENDS
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        appendItems(top(), items);
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        if (kv.length % 2 !== 0) fail('SETITEMS with an odd number of items', opAt);
        setItems(top(), kv);
        break;
      }
      // --- scalars
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(littleEndianSigned(bytes(u8())));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) fail('negative LONG4 length', opAt);
        stack.push(littleEndianSigned(bytes(n)));
        break;
      }
      case 0x49: {
        // INT (text): also encodes True/False as 01/00 in protocol 0
        const s = line();
        if (s === '01') stack.push(true);
        else if (s === '00') stack.push(false);
        else stack.push(parseIntText(s, fail));
        break;
      }
      case 0x4c: // LONG (text)
        stack.push(parseIntText(line().replace(/L$/, ''), fail));
        break;
      case 0x47: {
        // BINFLOAT (big-endian double)
        const at = need(8);
        stack.push(view.getFloat64(at, false));
        break;
      }
      case 0x46: // FLOAT (text)
        stack.push(Number.parseFloat(line()));
        break;
      // --- strings and bytes
      case 0x58: // BINUNICODE
        stack.push(text.decode(bytes(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(text.decode(bytes(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(text.decode(bytes(u64())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape text; ASCII in practice)
        stack.push(line());
        break;
      case 0x54: // BINSTRING (Python 2 str)
        stack.push(latin1.decode(bytes(i32())));
        break;
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(bytes(u8())));
        break;
      case 0x53: {
        // STRING (quoted text)
        const s = line();
        stack.push(s.length >= 2 ? s.slice(1, -1) : s);
        break;
      }
      case 0x42: // BINBYTES
        stack.push(bytes(u32()).slice());
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bytes(u8()).slice());
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(bytes(u64()).slice());
        break;
      // --- memo
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x70: // PUT
        memo.set(Number(line()), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x67: // GET
        stack.push(memoGet(Number(line())));
        break;
      // --- classes, calls, persistent ids
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        stack.push(resolveGlobal(module, line()));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string')
          fail('STACK_GLOBAL needs two strings', opAt);
        stack.push(resolveGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const fn = pop();
        stack.push(call(fn, args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX: cls.__new__(cls, *args, **kwargs)
        pop(); // kwargs: no class we construct takes any
        const args = pop();
        const cls = pop();
        stack.push(call(cls, args));
        break;
      }
      case 0x62: {
        // BUILD: obj.__setstate__(state) or obj.__dict__.update(state)
        const state = pop();
        const obj = top();
        if (obj instanceof PyDict || obj instanceof PyObject) obj.state = state;
        else if (typeof obj === 'object' && obj !== null && 'setState' in obj) {
          (obj as { setState: (s: PyValue) => void }).setState(state);
        }
        // Other built objects (tensors, whose state holds only hooks/metadata) ignore their state.
        break;
      }
      case 0x51: {
        // BINPERSID
        const pid = pop();
        if (!hooks.persistentLoad) fail('persistent id found, but this reader has no storage table', opAt);
        stack.push(hooks.persistentLoad!(pid));
        break;
      }
      case 0x50: {
        // PERSID (text)
        const pid = line();
        if (!hooks.persistentLoad) fail('persistent id found, but this reader has no storage table', opAt);
        stack.push(hooks.persistentLoad!(pid));
        break;
      }
      case 0x82: // EXT1
      case 0x83: // EXT2
      case 0x84: // EXT4
        fail('extension-registry opcodes (EXT1/2/4) are not supported', opAt);
        break;
      case 0x97: // NEXT_BUFFER
      case 0x98: // READONLY_BUFFER
        fail('out-of-band buffers (pickle protocol 5) are not supported', opAt);
        break;
      case 0x69: // INST
      case 0x6f: // OBJ
        fail('protocol-0 class instances (INST/OBJ) are not supported', opAt);
        break;
      default:
        fail(`unknown opcode 0x${op.toString(16).padStart(2, '0')}`, opAt);
    }
  }
}

/** Two's-complement little-endian integer; a number when it is exact, else a bigint. */
function littleEndianSigned(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
  if (b[b.length - 1]! & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

function parseIntText(s: string, fail: (msg: string) => never): number | bigint {
  if (!/^[-+]?\d+$/.test(s.trim())) fail(`bad integer literal '${s}'`);
  const v = BigInt(s.trim());
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** A short description of a value for error messages. */
export function describe(v: unknown): string {
  if (v === null) return 'None';
  if (Array.isArray(v)) return `tuple/list of ${v.length}`;
  if (v instanceof PyDict) return `dict of ${v.map.size}`;
  if (v instanceof PyObject) return `${v.cls.qualified} object`;
  if (v instanceof PyGlobal) return `global ${v.qualified}`;
  if (v instanceof Uint8Array) return `bytes of ${v.length}`;
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}
