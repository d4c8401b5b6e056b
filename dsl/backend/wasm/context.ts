// The state of one compilation: the module, the main function, where each tile lives in the
// thread's scratch area, and the locals of scalars, tensor addresses, dims and strides.
//
// Scratch: every register and shared tile variable gets its own buffer of 4 bytes per element,
// padded to 16 bytes (so v128 loops may run past the end). `reshape`, `unsqueeze`, `convert_layout`
// and element-preserving `broadcast` between two variables that are each written exactly once share
// one buffer (no copy): neither can change under the other. Temporaries (views, staging) get buffers
// of their own. The area ends with slack for the over-reads of padded vector loops.
import binaryen from 'binaryen';
import type { DType } from '../../dtype.js';
import type { GlobalParam, Program, TileVar } from '../../ir/program.js';
import { numel } from '../../ir/shapes.js';
import { forEachStmt } from '../../ir/walk.js';
import { Fn, Module } from './fn.js';
import { reg } from './formats.js';

const { i32 } = binaryen;

/** Bytes after the last buffer that padded vector loops may read. */
const SLACK = 64;

export interface GlobalInfo {
  readonly p: GlobalParam;
  /** Local holding the tensor's byte address. */
  readonly base: number;
  /** Locals holding each dim's size and row-major element stride (evaluated once per launch). */
  readonly dims: number[];
  readonly strides: number[];
}

export class Gen {
  readonly mod = new Module();
  readonly m = this.mod.m;
  /** main(desc, blockBegin, blockEnd, scratch). */
  readonly f = new Fn(this.m, [i32, i32, i32, i32]);
  readonly scratch = 3;
  /** Whether elementwise runs are fused (fuse.ts); off only to compare against unfused code. */
  fuse = true;
  /** Whether loop-carried tiles stay in registers across their loop (carry.ts); off only to compare. */
  carry = true;
  /** Whether float dots read a global b tile in place (dot-inplace.ts); off only to compare. */
  inPlaceDot = true;
  /** Whether relaxed compilations take the relaxed nibble dot for 4-bit weights (dot-subbyte.ts). */
  relaxedNibbleDot = true;
  readonly globals = new Map<string, GlobalInfo>();
  /** block_x, block_y, block_z locals. */
  readonly block = [this.f.local(i32), this.f.local(i32), this.f.local(i32)];
  private readonly scalars = new Map<string, number>();
  private readonly buffers = new Map<TileVar, number>();
  private readonly defs = new Map<TileVar, number>();
  private top = 0;

  constructor(readonly program: Program) {
    forEachStmt(program.body, (s) => {
      const dst = 'dst' in s ? s.dst : undefined;
      if (dst && s.op !== 'store_shared') this.defs.set(dst, (this.defs.get(dst) ?? 0) + 1);
    });
  }

  /** Scratch bytes this module needs per thread. */
  get scratchBytes(): number {
    return this.top + SLACK;
  }

  /** A fresh scratch buffer of `bytes` (16-byte aligned, padded); its offset. */
  alloc(bytes: number): number {
    const at = this.top;
    this.top += Math.ceil(Math.max(bytes, 1) / 16) * 16;
    return at;
  }

  /** The byte offset of tile variable `v`'s buffer (allocated on first use). */
  buf(v: TileVar): number {
    let at = this.buffers.get(v);
    if (at === undefined) {
      at = this.alloc(numel(v.type.shape) * 4);
      this.buffers.set(v, at);
    }
    return at;
  }

  /** Lets `dst` share `src`'s buffer when both are written once; whether it does. */
  alias(dst: TileVar, src: TileVar): boolean {
    if (this.buffers.has(dst)) return this.buffers.get(dst) === this.buffers.get(src);
    if (this.defs.get(dst) !== 1 || this.defs.get(src) !== 1) return false;
    this.buffers.set(dst, this.buf(src));
    return true;
  }

  /** The local of scalar `name` of dtype `d` (created on first use). */
  scalar(name: string, d: DType): number {
    const key = `${name}:${d.name}`;
    let i = this.scalars.get(key);
    if (i === undefined) {
      i = this.f.local(binaryen[reg(d)]);
      this.scalars.set(key, i);
    }
    return i;
  }
}
