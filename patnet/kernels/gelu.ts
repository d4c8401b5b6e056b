// GELU (the erf form PyTorch's nn.GELU() computes) with erf as a rational function of f32
// operations only: Eigen's/XLA's fast erf, x·P(x²)/Q(x²) on x clamped to [-4, 4] (beyond, erf rounds
// to ±1 in f32). The language's `gelu` lowers erf to an exact f64 series with an exp on WASM
// (scalar, ~60 ns an element), which made the GELU epilogues more than half of a T0 forward; this form
// fuses into the GEMM's vector epilogue. Max error against the exact erf: 4.2e-7 absolute over
// [-8, 8], so GELU is within 1.1e-6 · max(1, |gelu(x)|), two orders of magnitude inside the
// fixtures' 1e-4 bound (docs/patnet.md, "Exactness").
import { f32, fn } from '../../dsl/index.js';

const erfFast = fn({ name: 'patnet_erf', params: { a: f32 }, returns: f32 })`
  const x = clamp(a, -4.0, 4.0);
  const x2 = x * x;
  let p = x2 * -2.72614225801306e-10 + 2.77068142495902e-8;
  p = x2 * p + -2.10102402082508e-6;
  p = x2 * p + -5.69250639462346e-5;
  p = x2 * p + -7.34990630326855e-4;
  p = x2 * p + -2.95459980854025e-3;
  p = x2 * p + -1.60960333262415e-2;
  let q = x2 * -1.45660718464996e-5 + -2.13374055278905e-4;
  q = x2 * q + -1.68282697438203e-3;
  q = x2 * q + -7.37332916720468e-3;
  q = x2 * q + -1.42647390514189e-2;
  return x * p / q;
`;

/** gelu(x) = x/2 · (1 + erf(x/√2)), erf as above. */
export const fastGelu = fn({ name: 'patnet_gelu', params: { v: f32 }, returns: f32 })`
  return 0.5 * v * (1.0 + ${erfFast}(v * 0.7071067811865476));
`;
