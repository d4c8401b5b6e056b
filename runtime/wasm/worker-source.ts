// The worker script, as text: Node runs it from a data: URL (worker_threads, as an ES module), browsers
// from a blob: URL (a classic Web Worker), so no separate file has to be shipped or resolved.
//
// Protocol (runtime/wasm/pool.ts; control words in runtime/wasm/schedule.ts): in { op: 'init', memory,
// control, index, loads } once (loads: Node's port for modules), answered by { op: 'ready' }, and
// { op: 'load', key, module } once per kernel, before the first job that uses it. The launcher writes
// a job into the control words and wakes workers; each claims chunks until none is left, runs them
// and adds the count to FINISHED (the add that completes the job notifies). A trap ends the claiming
// (the chunks left count as finished) and is posted as { op: 'trap', epoch, worker, begin, end, name,
// message } before the chunk is counted.
//
// Node: the worker blocks in Atomics.wait on its wake word and takes module loads from the `loads`
// port with receiveMessageOnPort, so a launch sends no message at all. Browsers (where a blocked
// worker could not receive its modules), and Node without Atomics.waitAsync: the worker wakes on
// { op: 'run' } and answers { op: 'done' }; a chunk whose module is still in the queue waits for it.
import { CONTROL } from './schedule.js';

const C = CONTROL;

const BODY = `
let memory, control, index, line;
const kernels = new Map();
/** Chunks claimed before their kernel's module arrived (message mode): run when it does. */
let deferred = [];
function describe(e) {
  return e && typeof e === 'object' ? { name: String(e.name), message: String(e.message) } : { name: 'Error', message: String(e) };
}
function load(m) {
  try {
    kernels.set(m.key, new WebAssembly.Instance(m.module, { env: { memory } }).exports.main);
  } catch (e) {
    kernels.set(m.key, describe(e));
  }
}
/** Claims and runs chunks of the current job until none is left; counts them finished in one add. */
function work() {
  let finished = 0;
  let chunks = 0;
  for (;;) {
    const left = Atomics.sub(control, ${C.NEXT}, 1);
    if (left <= 0) break;
    // The job cannot change before this chunk is counted finished: its fields are stable now.
    chunks = Atomics.load(control, ${C.CHUNKS});
    const chunk = Atomics.load(control, ${C.CHUNK}) >>> 0;
    const begin = (chunks - left) * chunk;
    const job = {
      key: Atomics.load(control, ${C.KEY}),
      desc: Atomics.load(control, ${C.DESC}),
      begin,
      end: Math.min(begin + chunk, Atomics.load(control, ${C.TOTAL}) >>> 0),
      scratch: Atomics.load(control, line + ${C.SCRATCH}),
      epoch: Atomics.load(control, ${C.EPOCH}),
      chunks,
    };
    if (!kernels.has(job.key)) takeLoads();
    if (!kernels.has(job.key) && DEFER) {
      deferred.push(job);
      continue;
    }
    finished += execute(job);
  }
  if (finished > 0) finish(finished, chunks);
}
/** Runs one chunk; returns the chunks it accounts for (itself, and those a trap skipped). */
function execute(job) {
  const main = kernels.get(job.key);
  let failure;
  if (typeof main !== 'function') {
    const why = main ? main.name + ': ' + main.message : 'it was never loaded';
    failure = { name: 'LinkError', message: 'the module could not be instantiated on this worker: ' + why };
  } else {
    try {
      main(job.desc, job.begin, job.end, job.scratch);
    } catch (e) {
      failure = describe(e);
    }
  }
  if (!failure) return 1;
  // No chunk is claimed after a trap: the launch fails as soon as the running ones end.
  const skipped = Math.max(0, Atomics.exchange(control, ${C.NEXT}, 0));
  post({ op: 'trap', epoch: job.epoch, worker: index, begin: job.begin, end: job.end, name: failure.name, message: failure.message });
  Atomics.add(control, ${C.FAILS}, 1);
  return 1 + skipped;
}
function finish(n, chunks) {
  if (Atomics.add(control, ${C.FINISHED}, n) + n === chunks) Atomics.notify(control, ${C.FINISHED});
}
/** Runs the chunks deferred for kernel key now that its module is here. */
function runDeferred(key) {
  const ready = deferred.filter((j) => j.key === key);
  deferred = deferred.filter((j) => j.key !== key);
  for (const job of ready) finish(execute(job), job.chunks);
}
function init(m) {
  memory = m.memory;
  control = new Int32Array(m.control);
  index = m.index;
  line = ${C.WORKER_BASE} + ${C.WORKER_STRIDE} * index;
  post({ op: 'ready' });
}
`;

/**
 * How long a Node worker, its job done, watches its wake word before blocking in Atomics.wait (ms).
 * PATNet-T0 at batch 1 launches 87 kernels back to back; with the spin its 2-thread forward took
 * 12.25 / 11.08 ms against 13.15 / 12.11 ms without (test/bench/patnet-profile.ts, two runs each).
 */
const WORKER_SPIN_MS = 0.05;

/** The worker as a Node ES module (worker_threads): blocks in Atomics.wait between jobs. */
export const NODE_WORKER_SOURCE = `import { parentPort, receiveMessageOnPort } from 'node:worker_threads';
const DEFER = false;
const SPIN_MS = ${WORKER_SPIN_MS};
const post = (m) => parentPort.postMessage(m);
let loads;
function takeLoads() {
  for (let r = receiveMessageOnPort(loads); r !== undefined; r = receiveMessageOnPort(loads)) load(r.message);
}
parentPort.once('message', (m) => {
  init(m);
  loads = m.loads;
  const wake = line + ${C.WAKE};
  let seen = Atomics.load(control, wake);
  for (;;) {
    // Back-to-back launches (a network's layers) usually wake the worker within microseconds of
    // its last job: spin briefly before sleeping, so they skip the futex wake-up.
    const end = performance.now() + SPIN_MS;
    while (Atomics.load(control, wake) === seen && performance.now() < end) {}
    if (Atomics.load(control, wake) === seen) Atomics.wait(control, wake, seen);
    seen = Atomics.load(control, wake);
    work();
  }
});
${BODY}`;

/** Message-mode handling: a job starts with { op: 'run' }; each batch of work is answered by { op: 'done' }. */
const ON_MESSAGE = `
const DEFER = true;
function takeLoads() {}
function onMessage(m) {
  if (m.op === 'init') init(m);
  else if (m.op === 'load') {
    load(m);
    if (deferred.length > 0) {
      runDeferred(m.key);
      post({ op: 'done' });
    }
  } else if (m.op === 'run') {
    work();
    post({ op: 'done' });
  }
}
`;

/** The worker as a Node ES module woken by messages (where Atomics.waitAsync is missing). */
export const NODE_MESSAGE_WORKER_SOURCE = `import { parentPort } from 'node:worker_threads';
const post = (m) => parentPort.postMessage(m);
parentPort.on('message', (m) => onMessage(m));
${ON_MESSAGE}${BODY}`;

/** The worker as a classic browser Web Worker script: woken by messages. */
export const BROWSER_WORKER_SOURCE = `'use strict';
const post = (m) => self.postMessage(m);
self.onmessage = (e) => onMessage(e.data);
${ON_MESSAGE}${BODY}`;
