// The standard ImageNet evaluation transform, as torchvision writes it:
//   Resize(256) -> CenterCrop(224) -> ToTensor() -> Normalize(mean, std)
// Resize(256) scales the shorter side to 256 and the longer to int(256 * long / short)
// (truncated), with antialiased bilinear filtering (see resize.ts); CenterCrop takes the offsets
// int(round((size - 224) / 2)) with Python's round-half-to-even; ToTensor divides by 255.
import type { RgbImage } from './decode.js';
import { type PlanarImage, resizeBilinearAntialiased } from './resize.js';

export const IMAGENET_MEAN: readonly [number, number, number] = [0.485, 0.456, 0.406];
export const IMAGENET_STD: readonly [number, number, number] = [0.229, 0.224, 0.225];

export interface PreprocessOptions {
  /** Shorter side after resizing (default 256). */
  readonly resize?: number;
  /** Side of the centre crop (default 224). */
  readonly crop?: number;
  readonly mean?: readonly [number, number, number];
  readonly std?: readonly [number, number, number];
}

/** torchvision's Resize(short) output size for a width x height image. */
export function resizedSize(width: number, height: number, short: number): { width: number; height: number } {
  if (width <= height) return { width: short, height: Math.trunc((short * height) / width) };
  return { width: Math.trunc((short * width) / height), height: short };
}

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision's CenterCrop offsets for a size x size crop. */
export function centerCropOffsets(
  width: number,
  height: number,
  size: number,
): { left: number; top: number } {
  return { left: roundHalfEven((width - size) / 2), top: roundHalfEven((height - size) / 2) };
}

export function toPlanar(img: RgbImage): PlanarImage {
  const { width, height } = img;
  const n = width * height;
  const data = new Float64Array(3 * n);
  for (let p = 0; p < n; p++) {
    data[p] = img.data[p * 3]!;
    data[n + p] = img.data[p * 3 + 1]!;
    data[2 * n + p] = img.data[p * 3 + 2]!;
  }
  return { width, height, channels: 3, data };
}

/** One image to a [3, crop, crop] CHW float32 array ready for the network. */
export function preprocessImage(img: RgbImage, options: PreprocessOptions = {}): Float32Array {
  const short = options.resize ?? 256;
  const crop = options.crop ?? 224;
  const mean = options.mean ?? IMAGENET_MEAN;
  const std = options.std ?? IMAGENET_STD;
  const size = resizedSize(img.width, img.height, short);
  if (size.width < crop || size.height < crop) {
    throw new RangeError(
      `a ${crop}x${crop} crop does not fit in the resized ${size.width}x${size.height} image`,
    );
  }
  const { left, top } = centerCropOffsets(size.width, size.height, crop);
  const r = resizeBilinearAntialiased(toPlanar(img), size.width, size.height, {
    left,
    top,
    width: crop,
    height: crop,
  });
  const out = new Float32Array(3 * crop * crop);
  const plane = crop * crop;
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < plane; i++) out[c * plane + i] = (r.data[c * plane + i]! / 255 - mean[c]!) / std[c]!;
  }
  return out;
}

/** Several images to one [N, 3, crop, crop] NCHW batch. */
export function imageBatch(
  images: readonly RgbImage[],
  options: PreprocessOptions = {},
): { data: Float32Array; shape: [number, number, number, number] } {
  const crop = options.crop ?? 224;
  const per = 3 * crop * crop;
  const data = new Float32Array(images.length * per);
  images.forEach((img, i) => {
    data.set(preprocessImage(img, options), i * per);
  });
  return { data, shape: [images.length, 3, crop, crop] };
}
