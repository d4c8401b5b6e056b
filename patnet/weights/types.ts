// The weights every PATNet loader produces: PyTorch state_dict names to f32 tensors (row-major, the
// shape PyTorch reports). safetensors.ts and pth.ts both return this; params.ts checks it.

/** One weight tensor: f32 data in row-major order with its PyTorch shape. */
export interface WeightTensor {
  readonly dtype: 'f32';
  readonly shape: number[];
  readonly data: Float32Array;
}

/** state_dict name (e.g. `stages.0.blocks.0.mlp.0.weight`) to tensor. */
export type WeightMap = Map<string, WeightTensor>;

/** A weights file that cannot be read: the message names the file part or the tensor at fault. */
export class WeightsError extends Error {
  override name = 'WeightsError';
}
