// JPEG and PNG to 8-bit RGB. The format is taken from the file's signature, not its name. As in
// PIL's `Image.convert('RGB')`, which torchvision's ImageNet pipeline uses, an alpha channel is
// dropped (not composited), grey and palette images are expanded to RGB, 16-bit PNG samples are
// scaled to 8 bits, and EXIF orientation is ignored.
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

/** Interleaved 8-bit RGB, row-major: pixel (x, y) channel c is data[(y * width + x) * 3 + c]. */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

export class ImageError extends Error {
  override name = 'ImageError';
}

export type ImageFormat = 'png' | 'jpeg';

export function detectFormat(bytes: Uint8Array): ImageFormat | undefined {
  const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length >= 8 && png.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  return undefined;
}

/** Decodes a JPEG or PNG file; `source` names it in errors. */
export function decodeImage(bytes: Uint8Array, source = 'image'): RgbImage {
  const format = detectFormat(bytes);
  if (!format) {
    throw new ImageError(
      `${source}: not a JPEG or PNG file (unrecognised signature); convert it to .jpg or .png`,
    );
  }
  let rgba: { width: number; height: number; data: Uint8Array };
  try {
    rgba = format === 'png' ? decodePng(bytes) : decodeJpeg(bytes);
  } catch (e) {
    if (e instanceof ImageError) throw new ImageError(`${source}: ${e.message}`);
    throw new ImageError(`${source}: corrupt or truncated ${format.toUpperCase()} (${(e as Error).message})`);
  }
  const { width, height } = rgba;
  if (width <= 0 || height <= 0) throw new ImageError(`${source}: the image is empty (${width}x${height})`);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0, j = 0; i < data.length; i += 3, j += 4) {
    data[i] = rgba.data[j]!;
    data[i + 1] = rgba.data[j + 1]!;
    data[i + 2] = rgba.data[j + 2]!;
  }
  return { width, height, data };
}

function decodePng(bytes: Uint8Array) {
  // pngjs checks every chunk's CRC and the zlib stream, so truncation and corruption throw.
  const png = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return {
    width: png.width,
    height: png.height,
    data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.length),
  };
}

function decodeJpeg(bytes: Uint8Array) {
  // jpeg-js decodes a truncated scan without complaint (filling the rest), so insist on the
  // end-of-image marker after the image's first scan, as PIL does ("image file is truncated").
  if (!hasEndAfterScan(bytes)) throw new ImageError('truncated JPEG: the scan has no end-of-image marker');
  return jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true, maxResolutionInMP: 200 });
}

/**
 * Walks the marker segments (APPn, DQT, SOF, DHT, ...) to the first start-of-scan, then looks for
 * EOI (FF D9) after it. Skipping segments by their lengths matters: an EXIF thumbnail inside APP1
 * has its own FF D9, and camera files may carry data after the final EOI.
 */
function hasEndAfterScan(b: Uint8Array): boolean {
  let pos = 2;
  while (pos + 4 <= b.length) {
    if (b[pos] !== 0xff) return false;
    const marker = b[pos + 1]!;
    if (marker === 0xff) {
      pos++; // fill byte
      continue;
    }
    if (marker === 0xda) break;
    pos += 2 + ((b[pos + 2]! << 8) | b[pos + 3]!);
  }
  for (let i = pos + 2; i + 1 < b.length; i++) if (b[i] === 0xff && b[i + 1] === 0xd9) return true;
  return false;
}
