// The worker script, as text: Node runs it from a data: URL (worker_threads, as an ES module), browsers
// from a blob: URL (a classic Web Worker), so no separate file has to be shipped or resolved. Messages
// (runtime/wasm/pool.ts): in { op: 'init', memory } once, { op: 'load', key, module } before the first
// run of each kernel, { op: 'run', key, desc, begin, end, scratch }; out { op: 'ready' } once, then
// { op: 'done' } or { op: 'trap', name, message } for each run, in order.

const BODY = `
let memory;
const kernels = new Map();
function describe(e) {
  return e && typeof e === 'object' ? { name: String(e.name), message: String(e.message) } : { name: 'Error', message: String(e) };
}
function onMessage(m) {
  switch (m.op) {
    case 'init':
      memory = m.memory;
      post({ op: 'ready' });
      break;
    case 'load':
      try {
        kernels.set(m.key, new WebAssembly.Instance(m.module, { env: { memory } }).exports.main);
      } catch (e) {
        kernels.set(m.key, describe(e));
      }
      break;
    case 'unload':
      kernels.delete(m.key);
      break;
    case 'run': {
      const main = kernels.get(m.key);
      if (typeof main !== 'function') {
        const why = main ? main.name + ': ' + main.message : 'it was never loaded';
        post({ op: 'trap', name: 'LinkError', message: 'the module could not be instantiated on this worker: ' + why });
        break;
      }
      try {
        main(m.desc, m.begin, m.end, m.scratch);
        post({ op: 'done' });
      } catch (e) {
        post({ op: 'trap', ...describe(e) });
      }
      break;
    }
  }
}
`;

/** The worker as a Node ES module (worker_threads). */
export const NODE_WORKER_SOURCE = `import { parentPort } from 'node:worker_threads';
const post = (m) => parentPort.postMessage(m);
parentPort.on('message', (m) => onMessage(m));
${BODY}`;

/** The worker as a classic browser Web Worker script. */
export const BROWSER_WORKER_SOURCE = `'use strict';
const post = (m) => self.postMessage(m);
self.onmessage = (e) => onMessage(e.data);
${BODY}`;
