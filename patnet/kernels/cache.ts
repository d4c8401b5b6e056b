// Kernels are specialised on tile sizes and fused epilogues by interpolation; each specialisation is
// built once per process and shared by every model (a Kernel caches its own compiled artifacts).
const built = new Map<string, unknown>();

/** The kernel for `key`, built by `make` on first use. */
export function memo<K>(key: string, make: () => K): K {
  let k = built.get(key) as K | undefined;
  if (k === undefined) {
    k = make();
    built.set(key, k);
  }
  return k;
}

/** Fused activations: 0 none, 1 GELU (erf), 2 ReLU, 3 Hardsigmoid. */
export type ActCode = 0 | 1 | 2 | 3;
export const ACT = { none: 0, gelu: 1, relu: 2, hardsigmoid: 3 } as const;

/** The smallest power of two >= n (tile dims padded past a tensor edge read 0 and are not stored). */
export function pow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
