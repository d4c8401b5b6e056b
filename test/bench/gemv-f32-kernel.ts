// Our f32 GEMV kernel, y = W x with W stored N x K: on its own so that browser bundles
// (browser-llm-page.ts) can take it without gemv-f32.ts's Node-only peers.
import { f32, global, kernel } from '../../dsl/index.js';

export const gemvF32 = kernel({
  name: 'gemv_f32',
  params: { x: global(f32, ['K']), w: global(f32, ['N', 'K']), y: global(f32, ['N'], 'write') },
  // An [8, 4] accumulator: the WASM backend keeps it in 8 v128 locals across the K loop
  // (dsl/backend/wasm/carry.ts); measured ~10% faster than [8, 128] (docs/wasm-backend.md).
  consts: { BN: 8, BK: 4 },
})`
  grid(cdiv(N, BN));
  threads(64);
  const n0 = blockIdx.x * BN;
  let acc = zeros(f32, [BN, BK]);
  for (let k = 0; k < K; k += BK) {
    acc += load(w, [n0, k], [BN, BK]) * load(x, [k], [BK]).unsqueeze(0);
  }
  store(y, [n0], acc.sum(1));
`;
