// Reading just enough of a WebAssembly binary to run it on this device: where the memory import's
// limits are (to flip its shared flag when the device's memory is not shared), whether the module
// defines a memory of its own, and whether it has active data segments (which would overwrite
// tensors in the one shared memory every time a thread instantiates the module). Section layout per
// the core spec: magic, version, then (id: u8, size: u32 LEB128, contents) sections.

/** The module is not a well-formed WebAssembly binary (the message gives the byte offset). */
export class WasmBinaryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WasmBinaryError';
  }
}

/** A memory import and the position of its limits flags byte. */
export interface MemoryImport {
  readonly module: string;
  readonly name: string;
  /** Byte offset of the limits flags (bit 0: has maximum, bit 1: shared, bit 2: memory64). */
  readonly flagsOffset: number;
  readonly shared: boolean;
  readonly memory64: boolean;
  /** Minimum and maximum size in 64 KiB pages (maximum undefined when absent). */
  readonly minPages: number;
  readonly maxPages: number | undefined;
}

export interface ModuleLayout {
  readonly memoryImports: readonly MemoryImport[];
  /** Whether the module defines memories itself (a memory section). */
  readonly definesMemory: boolean;
  /** Whether some data segment is active (copied into memory at instantiation). */
  readonly activeData: boolean;
}

const MAGIC = [0x00, 0x61, 0x73, 0x6d];
const SECTION_IMPORT = 2;
const SECTION_MEMORY = 5;
const SECTION_DATA = 11;
const LIMITS_HAS_MAX = 0x01;
const LIMITS_SHARED = 0x02;
const LIMITS_64 = 0x04;
/** Reference types that carry a heap type (GC proposal): (ref null ht), (ref ht). */
const REF_NULL = 0x63;
const REF = 0x64;

class Reader {
  pos: number;
  readonly end: number;
  constructor(
    readonly bytes: Uint8Array,
    start: number,
    end: number,
  ) {
    this.pos = start;
    this.end = end;
  }

  fail(why: string): never {
    throw new WasmBinaryError(`malformed WebAssembly module at byte ${this.pos}: ${why}`);
  }

  u8(): number {
    if (this.pos >= this.end) this.fail('unexpected end');
    return this.bytes[this.pos++];
  }

  /** An unsigned LEB128 (u32 or u64; exact up to 2^53). */
  uleb(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.u8();
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    return this.fail('LEB128 number too long');
  }

  /** Skips a signed LEB128 (s33 heap types and the like). */
  skipLeb(): void {
    for (let i = 0; i < 10; i++) if ((this.u8() & 0x80) === 0) return;
    this.fail('LEB128 number too long');
  }

  skip(n: number): void {
    if (n > this.end - this.pos) this.fail(`${n} bytes expected, ${this.end - this.pos} left`);
    this.pos += n;
  }

  name(): string {
    const n = this.uleb();
    const start = this.pos;
    this.skip(n);
    return new TextDecoder().decode(this.bytes.subarray(start, start + n));
  }

  valueType(): void {
    const t = this.u8();
    if (t === REF_NULL || t === REF) this.skipLeb();
  }

  limits(): { flagsOffset: number; flags: number; min: number; max: number | undefined } {
    const flagsOffset = this.pos;
    const flags = this.u8();
    if (flags > 0x07) this.fail(`unknown limits flags 0x${flags.toString(16)}`);
    const min = this.uleb();
    const max = flags & LIMITS_HAS_MAX ? this.uleb() : undefined;
    return { flagsOffset, flags, min, max };
  }
}

/** Reads the sections this device cares about; throws a WasmBinaryError on a malformed binary. */
export function readModuleLayout(bytes: Uint8Array): ModuleLayout {
  const r = new Reader(bytes, 0, bytes.length);
  if (bytes.length < 8 || MAGIC.some((b, i) => bytes[i] !== b)) {
    r.fail('no \\0asm magic number; this is not a WebAssembly binary');
  }
  if (bytes[4] !== 1 || bytes[5] !== 0 || bytes[6] !== 0 || bytes[7] !== 0) {
    r.pos = 4;
    r.fail('unsupported binary version (expected 1)');
  }
  r.pos = 8;
  const memoryImports: MemoryImport[] = [];
  let definesMemory = false;
  let activeData = false;
  while (r.pos < r.end) {
    const id = r.u8();
    const size = r.uleb();
    const start = r.pos;
    r.skip(size);
    const s = new Reader(bytes, start, start + size);
    if (id === SECTION_IMPORT) readImports(s, memoryImports);
    else if (id === SECTION_MEMORY) definesMemory = s.uleb() > 0;
    else if (id === SECTION_DATA) activeData = hasActiveSegment(s);
  }
  return { memoryImports, definesMemory, activeData };
}

function readImports(r: Reader, out: MemoryImport[]): void {
  const count = r.uleb();
  for (let i = 0; i < count; i++) {
    const module = r.name();
    const name = r.name();
    const kind = r.u8();
    switch (kind) {
      case 0x00: // function: type index
        r.uleb();
        break;
      case 0x01: // table: reference type, limits
        r.valueType();
        r.limits();
        break;
      case 0x02: {
        const { flagsOffset, flags, min, max } = r.limits();
        out.push({
          module,
          name,
          flagsOffset,
          shared: (flags & LIMITS_SHARED) !== 0,
          memory64: (flags & LIMITS_64) !== 0,
          minPages: min,
          maxPages: max,
        });
        break;
      }
      case 0x03: // global: value type, mutability
        r.valueType();
        r.u8();
        break;
      case 0x04: // tag: attribute, type index
        r.u8();
        r.uleb();
        break;
      default:
        r.pos--;
        r.fail(`unknown import kind 0x${kind.toString(16)} for '${module}.${name}'`);
    }
  }
}

/** Whether a data section holds an active segment (flags 0 or 2); passive ones (1) are fine. */
function hasActiveSegment(r: Reader): boolean {
  const count = r.uleb();
  for (let i = 0; i < count; i++) {
    const flags = r.uleb();
    if (flags !== 1) return true; // active: the first one settles it, no need to read its offset
    r.skip(r.uleb());
  }
  return false;
}

/** A copy of `bytes` whose memory import `memory` has its shared flag set to `shared`. */
export function withSharedFlag(bytes: Uint8Array, memory: MemoryImport, shared: boolean): Uint8Array {
  const copy = bytes.slice();
  const flags = copy[memory.flagsOffset];
  if (shared && (flags & LIMITS_HAS_MAX) === 0) {
    throw new WasmBinaryError(
      `memory import '${memory.module}.${memory.name}' has no maximum, so it cannot be shared`,
    );
  }
  copy[memory.flagsOffset] = shared ? flags | LIMITS_SHARED : flags & ~LIMITS_SHARED;
  return copy;
}

/** Decodes base64 (standard alphabet, padding optional) without Node's Buffer. */
export function decodeBase64(text: string): Uint8Array {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
