// Weights bytes of either format, told apart by content: a PyTorch checkpoint is a zip
// ('PK\x03\x04'), anything else is read as safetensors (whose own checks reject other files).
import { readPth } from './pth.js';
import { readSafetensors } from './safetensors.js';
import type { WeightMap } from './types.js';

export function isZip(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 3 && bytes[3] === 4;
}

/** The float tensors of a .pth checkpoint or a safetensors file; `source` names it in errors. */
export function readWeightBytes(bytes: Uint8Array, source?: string): WeightMap {
  return isZip(bytes) ? readPth(bytes, { source }).weights : readSafetensors(bytes, source).tensors;
}
