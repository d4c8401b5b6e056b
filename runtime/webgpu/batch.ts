/// <reference types="@webgpu/types" />
// The pending command buffer. Launches are encoded into one compute pass (WebGPU orders dispatches
// within a pass) and submitted together: when the caller reads or flushes, or at the end of the
// current turn of the event loop. Each launch's uniforms go into a per-batch arena (a buffer mapped
// at creation, written at 256-byte-aligned offsets, unmapped before submit), because
// queue.writeBuffer to one shared buffer would run before the whole batch and leave every dispatch
// the last launch's values. Buffers freed while commands may still use them are destroyed after
// the submit.

const ARENA_BYTES = 64 * 1024;

interface Arena {
  readonly buffer: GPUBuffer;
  readonly bytes: Uint8Array;
  used: number;
}

export class CommandBatch {
  readonly #device: GPUDevice;
  readonly #alignment: number;
  readonly #onTurnEnd: () => void;
  #encoder: GPUCommandEncoder | undefined;
  #pass: GPUComputePassEncoder | undefined;
  #arena: Arena | undefined;
  /** Arenas and freed buffers to destroy once the batch is submitted. */
  #garbage: GPUBuffer[] = [];
  #scheduled = false;

  /** `onTurnEnd` runs at the end of the turn in which the batch got its first command. */
  constructor(device: GPUDevice, onTurnEnd: () => void) {
    this.#device = device;
    this.#alignment = device.limits.minUniformBufferOffsetAlignment;
    this.#onTurnEnd = onTurnEnd;
  }

  /** Whether commands are waiting to be submitted. */
  get pending(): boolean {
    return this.#encoder !== undefined;
  }

  /** Encodes a dispatch into the open compute pass. */
  dispatch(pipeline: GPUComputePipeline, bindGroup: GPUBindGroup, x: number, y: number, z: number): void {
    if (this.#pass === undefined) this.#pass = this.#commands().beginComputePass();
    this.#pass.setPipeline(pipeline);
    this.#pass.setBindGroup(0, bindGroup);
    this.#pass.dispatchWorkgroups(x, y, z);
  }

  /** Encodes a buffer-to-buffer copy (after every dispatch encoded so far). */
  copy(src: GPUBuffer, dst: GPUBuffer, size: number): void {
    this.#endPass();
    this.#commands().copyBufferToBuffer(src, 0, dst, 0, size);
  }

  /** Stores one launch's uniform bytes in the arena and returns their binding. */
  uniform(bytes: Uint8Array): GPUBufferBinding {
    const size = Math.max(16, Math.ceil(bytes.length / 16) * 16);
    let arena = this.#arena;
    if (arena === undefined || arena.used + size > arena.bytes.length) {
      if (arena) this.#closeArena();
      const buffer = this.#device.createBuffer({
        label: 'tilevm uniforms',
        size: Math.max(ARENA_BYTES, size),
        usage: GPUBufferUsage.UNIFORM,
        mappedAtCreation: true,
      });
      arena = this.#arena = { buffer, bytes: new Uint8Array(buffer.getMappedRange()), used: 0 };
    }
    const offset = arena.used;
    arena.bytes.set(bytes, offset);
    arena.used = Math.ceil((offset + size) / this.#alignment) * this.#alignment;
    this.#commands();
    return { buffer: arena.buffer, offset, size };
  }

  /** Destroys `buffer` now if no command is pending, else right after the next submit. */
  retire(buffer: GPUBuffer): void {
    if (this.pending) this.#garbage.push(buffer);
    else buffer.destroy();
  }

  /** Submits the pending commands, if any. */
  submit(): void {
    if (this.#encoder === undefined) return;
    this.#endPass();
    this.#closeArena();
    const commands = this.#encoder.finish();
    this.#encoder = undefined;
    this.#device.queue.submit([commands]);
    this.#collect();
  }

  /** Forgets pending commands without submitting them (the device is gone). */
  discard(): void {
    this.#pass = undefined;
    this.#encoder = undefined;
    this.#arena = undefined;
    this.#garbage = [];
  }

  #commands(): GPUCommandEncoder {
    if (this.#encoder === undefined) {
      this.#encoder = this.#device.createCommandEncoder({ label: 'tilevm batch' });
      if (!this.#scheduled) {
        this.#scheduled = true;
        atTurnEnd(() => {
          this.#scheduled = false;
          this.#onTurnEnd();
        });
      }
    }
    return this.#encoder;
  }

  #endPass(): void {
    this.#pass?.end();
    this.#pass = undefined;
  }

  #closeArena(): void {
    if (this.#arena === undefined) return;
    this.#arena.buffer.unmap();
    this.#garbage.push(this.#arena.buffer);
    this.#arena = undefined;
  }

  #collect(): void {
    for (const buffer of this.#garbage) buffer.destroy();
    this.#garbage = [];
  }
}

/** Runs `fn` after the current turn's microtasks: setImmediate in Node, a zero timeout elsewhere. */
function atTurnEnd(fn: () => void): void {
  if (typeof setImmediate === 'function') setImmediate(fn);
  else setTimeout(fn, 0);
}
