// FNV-1a 64 over the UTF-8 bytes of a string: a stable, dependency-free hash that runs in browsers
// and Node alike (pipeline cache keys, not security).

const OFFSET = 0xcbf29ce484222325n;
const PRIME = 0x100000001b3n;
const MASK = 0xffffffffffffffffn;

/** The FNV-1a 64 hash of `text` as 16 hex digits. */
export function fnv1a64(text: string): string {
  let h = OFFSET;
  for (const byte of new TextEncoder().encode(text)) {
    h ^= BigInt(byte);
    h = (h * PRIME) & MASK;
  }
  return h.toString(16).padStart(16, '0');
}
