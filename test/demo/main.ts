// `npm run demo`: a u4 GEMV with f16 group scales, written as a VM program, run by the reference
// interpreter, printed next to a plain TypeScript loop computing the same thing.
import { binary, f16, f32, interpret, ProgramBuilder, printProgram, Tensor, u4 } from '../../dsl/index.js';

const [N, K, G, BN, BK] = [40, 1000, 128, 8, 256];

function gemvU4() {
  const b = new ProgramBuilder('gemv_u4', { BN, BK, G });
  b.global('x', f32, ['K']);
  b.global('w', u4, ['N', 'K']);
  b.global('s', f16, ['N', 'cdiv(K, 128)']);
  b.global('y', f32, ['N'], 'write');
  b.grid(binary('cdiv', b.sym('N'), BN));
  b.threads(64);
  const row = binary('mul', b.blockIdx.x, BN);
  const acc = b.zeros(f32, [BN, BK], 'acc');
  b.for('k', 0, b.sym('K'), BK, (k) => {
    const wt = b.cast(b.load('w', [row, k], [BN, BK]), f32);
    const st = b.cast(b.load('s', [row, binary('div', k, G)], [BN, BK / G]), f32);
    const xt = b.load('x', [k], [BK]);
    b.assign(acc, b.add(acc, b.mul(b.mul(wt, b.repeat(st, [1, G])), b.unsqueeze(xt, 0))));
  });
  b.store('y', [row], b.reduce('sum', acc, 1));
  return b.build();
}

// A small deterministic generator, so every run prints the same numbers.
let seed = 20261128;
const random = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32;
};

const program = gemvU4();
console.log(printProgram(program));
const x = Tensor.fromArray(
  f32,
  [K],
  Array.from({ length: K }, () => random() * 2 - 1),
);
const w = Tensor.fromArray(
  u4,
  [N, K],
  Array.from({ length: N * K }, () => Math.floor(random() * 16)),
);
const s = Tensor.fromArray(
  f16,
  [N, Math.ceil(K / G)],
  Array.from({ length: N * Math.ceil(K / G) }, () => 0.01 + random() * 0.02),
);
const y = Tensor.zeros(f32, [N]).fill(Number.NaN);

const t0 = performance.now();
interpret(program, { x, w, s, y });
const ms = performance.now() - t0;

const reference = Array.from({ length: N }, (_, n) => {
  let sum = 0;
  for (let k = 0; k < K; k++) sum += x.get(k) * w.get([n, k]) * s.get([n, Math.floor(k / G)]);
  return sum;
});

console.log(
  `\ny = W(u4, f16 scales per ${G}) · x   with N=${N}, K=${K}, tiles ${BN}x${BK} (edge tiles in N and K)\n`,
);
console.log('   n   interpreter (f32)   TypeScript (f64)   abs error');
const got = y.toArray();
let maxErr = 0;
for (let n = 0; n < N; n++) {
  const err = Math.abs(got[n] - reference[n]);
  maxErr = Math.max(maxErr, err);
  if (n < 8 || n === N - 1) {
    console.log(
      `${String(n).padStart(4)}   ${got[n].toFixed(7).padStart(17)}   ${reference[n].toFixed(7).padStart(16)}   ${err.toExponential(1)}`,
    );
  } else if (n === 8) console.log('   …');
}
console.log(
  `\nmax abs error ${maxErr.toExponential(2)} over ${N} outputs; interpreter ran ${Math.ceil(N / BN)} blocks in ${ms.toFixed(0)} ms`,
);
if (!(maxErr < 1e-4)) {
  console.error('the interpreter disagrees with the reference');
  process.exit(1);
}
