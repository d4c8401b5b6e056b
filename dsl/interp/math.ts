// Float64 reference math for the ops JavaScript's Math lacks. Accuracy is far beyond f32's, so
// rounding the result to the tile's dtype gives the correctly rounded value in practice.

const TWO_OVER_SQRT_PI = 1.1283791670955126;

/**
 * erf(x) from the everywhere-convergent series with positive terms (no cancellation):
 *   erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n x (2x^2)^n / (1*3*...*(2n+1)).
 * Beyond |x| = 6, erf is 1 to within 2e-17.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x === 0) return x;
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x);
  const twoX2 = 2 * ax * ax;
  let term = ax;
  let sum = ax;
  for (let n = 1; n < 500; n++) {
    term *= twoX2 / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  const r = TWO_OVER_SQRT_PI * Math.exp(-ax * ax) * sum;
  return x < 0 ? -Math.min(r, 1) : Math.min(r, 1);
}

/** Round to the nearest integer, ties to even (IEEE roundTiesToEven, WGSL round()). */
export function roundHalfEven(x: number): number {
  if (!Number.isFinite(x)) return x;
  const f = Math.floor(x);
  const diff = x - f;
  const r = diff < 0.5 ? f : diff > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
  // A negative input that rounds to zero keeps its sign, as IEEE rounding does.
  return r === 0 && (x < 0 || Object.is(x, -0)) ? -0 : r;
}
