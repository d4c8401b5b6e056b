// Hosts onnxruntime-web (wasm backend) in a worker thread so that each thread count gets its own
// runtime instance (ort.env.wasm.numThreads is fixed once the runtime has initialized).
// Messages: { op: 'init', threads } | { op: 'load', id, model } |
// { op: 'run', id, input, dims, wantOutput?, inputName?, outputName? }.
import { parentPort } from 'node:worker_threads';
import * as ort from 'onnxruntime-web';

const sessions = new Map();
// Idle pool threads sleep instead of spinning, so they do not steal the cores of the variants
// measured in between.
const NO_SPIN = { extra: { session: { intra_op: { allow_spinning: '0' } } } };

parentPort.on('message', async (msg) => {
  try {
    if (msg.op === 'init') {
      ort.env.wasm.numThreads = msg.threads;
      parentPort.postMessage({ ok: true });
    } else if (msg.op === 'load') {
      sessions.set(msg.id, await ort.InferenceSession.create(msg.model, NO_SPIN));
      parentPort.postMessage({ ok: true });
    } else if (msg.op === 'run') {
      const a = new ort.Tensor('float32', msg.input, msg.dims);
      // Graph input/output names default to the generated benches' 'A' -> 'Y'.
      const r = await sessions.get(msg.id).run({ [msg.inputName ?? 'A']: a });
      parentPort.postMessage({ ok: true, y: msg.wantOutput ? r[msg.outputName ?? 'Y'].data : undefined });
    }
  } catch (e) {
    parentPort.postMessage({ ok: false, error: String(e?.stack ?? e) });
  }
});
