// Peer libraries, each loaded lazily; a peer that fails to load reports why and the benchmarks go
// on without it. onnxruntime-web runs in a worker thread per thread count; onnxruntime-node (native
// CPU, the ceiling) and tfjs-wasm (one thread in Node) run on the main thread.
import { Worker } from 'node:worker_threads';

/** onnxruntime-web's wasm backend, in its own worker with a fixed thread count. */
export class OrtWeb {
  private readonly worker: Worker;
  private pending: ((m: { ok: boolean; error?: string; y?: Float32Array }) => void) | undefined;

  private constructor(readonly threads: number) {
    this.worker = new Worker(new URL('./ort-web-worker.mjs', import.meta.url));
    this.worker.on('message', (m) => {
      const p = this.pending;
      this.pending = undefined;
      p?.(m);
    });
    this.worker.on('error', (e) => {
      const p = this.pending;
      this.pending = undefined;
      p?.({ ok: false, error: String(e) });
    });
  }

  private call(msg: object, transfer: Transferable[] = []): Promise<Float32Array | undefined> {
    return new Promise((resolve, reject) => {
      this.pending = (m) => (m.ok ? resolve(m.y) : reject(new Error(m.error)));
      this.worker.postMessage(msg, transfer as never);
    });
  }

  static async create(threads: number): Promise<OrtWeb> {
    const o = new OrtWeb(threads);
    await o.call({ op: 'init', threads });
    return o;
  }

  async load(id: string, model: Uint8Array): Promise<void> {
    await this.call({ op: 'load', id, model });
  }

  /** `names`: the graph's input and output names, when not 'A' and 'Y'. */
  run(
    id: string,
    input: Float32Array,
    dims: readonly number[],
    wantOutput = false,
    names?: { readonly input: string; readonly output: string },
  ) {
    return this.call({
      op: 'run',
      id,
      input,
      dims,
      wantOutput,
      inputName: names?.input,
      outputName: names?.output,
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

export type OrtNode = typeof import('onnxruntime-node');
export type Tf = typeof import('@tensorflow/tfjs-core');

let ortNode: Promise<OrtNode> | undefined;
export function loadOrtNode(): Promise<OrtNode> {
  ortNode ??= import('onnxruntime-node');
  return ortNode;
}

let tf: Promise<Tf> | undefined;
/** tfjs-core with the wasm backend (Node: one thread, SIMD). */
export function loadTfWasm(): Promise<Tf> {
  tf ??= (async () => {
    const core = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-wasm');
    if (!(await core.setBackend('wasm'))) throw new Error("tfjs: setBackend('wasm') failed");
    await core.ready();
    return core;
  })();
  return tf;
}

/** Runs a setup step; on failure prints why and returns undefined. */
export async function tryPeer<T>(what: string, f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    console.log(`  [skip] ${what}: ${msg.split('\n')[0]}`);
    return undefined;
  }
}

export interface PeerVariant {
  readonly name: string;
  readonly run: () => Promise<void>;
  /** One run's output, for checking. */
  readonly output: () => Promise<Float32Array>;
}

/**
 * onnxruntime-web variants, one per thread count: `models` models loaded as sessions, each call
 * running the next (weights rotate). Returns the variants and a cleanup.
 */
export async function ortWebVariants(
  threads: readonly number[],
  models: () => Uint8Array[],
  input: Float32Array,
  dims: readonly number[],
): Promise<{ variants: PeerVariant[]; close: () => Promise<void> }> {
  const hosts: OrtWeb[] = [];
  const variants: PeerVariant[] = [];
  for (const t of threads) {
    const host = await tryPeer(`onnxruntime-web (${t} threads)`, async () => {
      const h = await OrtWeb.create(t);
      try {
        const ms = models();
        for (let r = 0; r < ms.length; r++) await h.load(`m${r}`, ms[r]!);
        return { h, count: ms.length };
      } catch (e) {
        await h.close();
        throw e;
      }
    });
    if (!host) continue;
    hosts.push(host.h);
    let r = 0;
    variants.push({
      name: `onnxruntime-web|${t}`,
      run: async () => {
        await host.h.run(`m${r++ % host.count}`, input, dims);
      },
      output: async () => (await host.h.run('m0', input, dims, true))!,
    });
  }
  return { variants, close: async () => void (await Promise.all(hosts.map((h) => h.close()))) };
}

/** onnxruntime-node (native CPU) variants, one per thread count (intraOpNumThreads). */
export async function ortNodeVariants(
  threads: readonly number[],
  models: () => Uint8Array[],
  input: Float32Array,
  dims: readonly number[],
): Promise<PeerVariant[]> {
  const ort = await tryPeer('onnxruntime-node', loadOrtNode);
  if (!ort) return [];
  const variants: PeerVariant[] = [];
  for (const t of threads) {
    const sessions = await tryPeer(`onnxruntime-node (${t} threads)`, async () => {
      const out = [];
      for (const m of models()) {
        out.push(
          await ort.InferenceSession.create(m, {
            intraOpNumThreads: t,
            interOpNumThreads: 1,
            // Idle pool threads sleep rather than spin between interleaved calls.
            extra: { session: { intra_op: { allow_spinning: '0' } } },
          }),
        );
      }
      return out;
    });
    if (!sessions) continue;
    const a = new ort.Tensor('float32', input, dims);
    let r = 0;
    variants.push({
      name: `onnxruntime-node|${t}`,
      run: async () => {
        await sessions[r++ % sessions.length]!.run({ A: a });
      },
      output: async () => (await sessions[0]!.run({ A: a })).Y!.data as Float32Array,
    });
  }
  return variants;
}

/** tfjs-wasm matMul variant (one thread): y = a @ b[r], b rotating. */
export async function tfjsVariant(
  a: Float32Array,
  aShape: [number, number],
  bs: () => Float32Array[],
  bShape: [number, number],
): Promise<{ variant: PeerVariant; close: () => void } | undefined> {
  const tf = await tryPeer('tfjs-wasm', loadTfWasm);
  if (!tf) return undefined;
  return tryPeer('tfjs-wasm matMul', async () => {
    const at = tf.tensor2d(a, aShape);
    const bt = bs().map((b) => tf.tensor2d(b, bShape));
    let r = 0;
    const once = (i: number): Float32Array => {
      const y = tf.matMul(at, bt[i]!);
      const d = y.dataSync() as Float32Array;
      y.dispose();
      return d;
    };
    once(0);
    return {
      variant: {
        name: 'tfjs-wasm|1',
        run: async () => void once(r++ % bt.length),
        output: async () => once(0),
      },
      close: () => {
        at.dispose();
        for (const b of bt) b.dispose();
      },
    };
  });
}
