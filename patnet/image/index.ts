// Image input for PATNet: decode JPEG/PNG, then torchvision's ImageNet evaluation transform.
export { decodeImage, detectFormat, ImageError, type ImageFormat, type RgbImage } from './decode.js';
export {
  centerCropOffsets,
  IMAGENET_MEAN,
  IMAGENET_STD,
  imageBatch,
  type PreprocessOptions,
  preprocessImage,
  resizedSize,
  roundHalfEven,
  toPlanar,
} from './preprocess.js';
export { type PlanarImage, resizeBilinearAntialiased, type Window } from './resize.js';
