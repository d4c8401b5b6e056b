/**
 * Small deterministic PRNG helpers for tests (mulberry32 core).
 *
 * `rng(seed)` returns a generator of uniform doubles in [0, 1) with 53 random bits each
 * (two 32-bit mulberry32 outputs combined), so it is also usable for wide integer ranges.
 */

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Uniform [0, 1) generator with 53 bits of randomness, fully determined by `seed`. */
export function rng(seed: number): () => number {
  const next = mulberry32(seed);
  return () => {
    const hi = next() >>> 5; // 27 bits
    const lo = next() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  };
}

/** Uniform integer in [lo, hi] (both inclusive). Requires hi - lo < 2^53. */
export function randomInt(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

/** Uniform unsigned 32-bit integer in [0, 2^32). */
export function randomU32(r: () => number): number {
  return Math.floor(r() * 4294967296);
}
