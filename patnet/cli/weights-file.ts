// Reads a weights file of either format (told apart by content, patnet/weights/read.ts) and says
// what the .pth reader skipped or converted.
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { readPth } from '../weights/pth.js';
import { isZip } from '../weights/read.js';
import { readSafetensors } from '../weights/safetensors.js';
import { type WeightMap, WeightsError } from '../weights/types.js';

export interface LoadedWeights {
  readonly weights: WeightMap;
  readonly format: 'pth' | 'safetensors';
  /** Lines worth telling the user (skipped or converted tensors, an unwrapped checkpoint). */
  readonly notes: string[];
}

export function parseWeights(bytes: Uint8Array, source: string): LoadedWeights {
  if (!isZip(bytes))
    return { weights: readSafetensors(bytes, source).tensors, format: 'safetensors', notes: [] };
  const r = readPth(bytes, { source });
  const notes: string[] = [];
  if (r.container) notes.push(`took the state_dict from checkpoint${r.container}`);
  if (r.strippedPrefix) notes.push(`removed the prefix '${r.strippedPrefix}' from every name`);
  if (r.skipped.length) {
    notes.push(
      `skipped ${r.skipped.length} non-float tensor(s) (${summarize(r.skipped.map((s) => s.name))})`,
    );
  }
  if (r.converted.length) {
    const kinds = [...new Set(r.converted.map((c) => c.dtype))].join('/');
    notes.push(`converted ${r.converted.length} ${kinds} tensor(s) to float32`);
  }
  return { weights: r.weights, format: 'pth', notes };
}

export async function loadWeightsFile(path: string): Promise<LoadedWeights> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new WeightsError(
      `cannot read weights file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  return parseWeights(bytes, basename(path));
}

function summarize(names: readonly string[]): string {
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 2).join(', ')}, … ${names.length - 2} more`;
}
