// Image input: JPEG/PNG decoding, torchvision's Resize(256) / CenterCrop(224) / Normalize, checked
// against expectations computed here independently (hand-derived filter weights, a direct 2D
// formulation of the antialiased filter, torchvision's size and offset formulas).
import { readFileSync } from 'node:fs';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import {
  centerCropOffsets,
  decodeImage,
  IMAGENET_MEAN,
  IMAGENET_STD,
  imageBatch,
  type PlanarImage,
  preprocessImage,
  type RgbImage,
  resizeBilinearAntialiased,
  resizedSize,
  roundHalfEven,
} from '../../patnet/image/index.js';
import { rng } from '../helpers/random.js';

const CHELSEA = new URL('../demo/assets/chelsea.jpg', import.meta.url);

function randomRgb(width: number, height: number, seed: number): RgbImage {
  const r = rng(seed);
  return {
    width,
    height,
    data: Uint8Array.from({ length: width * height * 3 }, () => Math.floor(r() * 256)),
  };
}

function encodePng(img: RgbImage, opts: { alpha?: Uint8Array; colorType?: 0 | 2 | 6 } = {}): Uint8Array {
  const png = new PNG({ width: img.width, height: img.height });
  for (let p = 0; p < img.width * img.height; p++) {
    png.data[p * 4] = img.data[p * 3]!;
    png.data[p * 4 + 1] = img.data[p * 3 + 1]!;
    png.data[p * 4 + 2] = img.data[p * 3 + 2]!;
    png.data[p * 4 + 3] = opts.alpha ? opts.alpha[p]! : 255;
  }
  return new Uint8Array(PNG.sync.write(png, { colorType: opts.colorType ?? 2 }));
}

/** Index of the first differing element, or -1 (vitest's deep equality is slow on big arrays). */
function firstMismatch(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i;
  return -1;
}

function sameImage(a: RgbImage, b: RgbImage): void {
  expect([a.width, a.height]).toEqual([b.width, b.height]);
  expect(firstMismatch(a.data, b.data)).toBe(-1);
}

function planar1(values: number[][]): PlanarImage {
  const height = values.length;
  const width = values[0]!.length;
  return { width, height, channels: 1, data: Float64Array.from(values.flat()) };
}

describe('decodeImage', () => {
  it('PNG: RGB, RGBA (alpha dropped, as PIL convert("RGB")) and greyscale decode exactly', () => {
    const img = randomRgb(37, 23, 1);
    sameImage(decodeImage(encodePng(img)), img);
    const alpha = Uint8Array.from({ length: 37 * 23 }, (_, i) => (i * 7) % 256);
    sameImage(decodeImage(encodePng(img, { alpha, colorType: 6 })), img);
    const grey: RgbImage = { ...img, data: img.data.map((_, i) => img.data[i - (i % 3)]!) };
    sameImage(decodeImage(encodePng(grey, { colorType: 0 })), grey);
  });

  it('JPEG: a smooth image encoded at quality 100 decodes within 3 levels', () => {
    const w = 48;
    const h = 32;
    const data = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const p = (y * w + x) * 3;
        data[p] = 40 + 3 * x;
        data[p + 1] = 200 - 4 * y;
        data[p + 2] = 90 + x + y;
      }
    }
    const rgba = new Uint8Array(w * h * 4);
    for (let p = 0; p < w * h; p++) rgba.set([...data.subarray(p * 3, p * 3 + 3), 255], p * 4);
    const encoded = new Uint8Array(jpeg.encode({ width: w, height: h, data: rgba }, 100).data);
    const got = decodeImage(encoded);
    expect([got.width, got.height]).toEqual([w, h]);
    let maxErr = 0;
    for (let i = 0; i < data.length; i++) maxErr = Math.max(maxErr, Math.abs(got.data[i]! - data[i]!));
    expect(maxErr).toBeLessThanOrEqual(3);
  });

  it('the bundled photo decodes, and survives a PNG round trip unchanged', () => {
    const img = decodeImage(readFileSync(CHELSEA));
    expect([img.width, img.height]).toEqual([451, 300]);
    sameImage(decodeImage(encodePng(img)), img);
  });

  it('unknown formats, truncated and corrupt files are errors naming the file', () => {
    expect(() => decodeImage(new TextEncoder().encode('GIF89a....'), 'a.gif')).toThrow(
      /a\.gif: not a JPEG or PNG file/,
    );
    const jpg = new Uint8Array(readFileSync(CHELSEA));
    expect(() => decodeImage(jpg.subarray(0, jpg.length / 2), 'cut.jpg')).toThrow(/cut\.jpg: truncated JPEG/);
    // An APP1 segment holding FF D9 (as an EXIF thumbnail does) does not hide a cut scan...
    const app1 = Uint8Array.from([0xff, 0xe1, 0x00, 0x06, 0xff, 0xd8, 0xff, 0xd9]);
    const withThumb = new Uint8Array([...jpg.subarray(0, 2), ...app1, ...jpg.subarray(2)]);
    expect(decodeImage(withThumb).width).toBe(451);
    expect(() => decodeImage(withThumb.subarray(0, withThumb.length / 2))).toThrow(/truncated JPEG/);
    // ...and bytes after the final EOI (some cameras append data) are fine.
    expect(decodeImage(new Uint8Array([...jpg, 1, 2, 3, 4])).height).toBe(300);
    const png = encodePng(randomRgb(20, 20, 2));
    expect(() => decodeImage(png.subarray(0, png.length - 30), 'cut.png')).toThrow(
      /cut\.png: corrupt or truncated PNG/,
    );
    const bad = png.slice();
    bad[60] ^= 0xff; // inside the IDAT data: the chunk CRC no longer matches
    expect(() => decodeImage(bad, 'bad.png')).toThrow(/bad\.png: corrupt or truncated PNG/);
  });
});

describe('resizeBilinearAntialiased', () => {
  it('2x downscale: interior taps [1,3,3,1]/8, edges renormalised to [3,3,1]/7 (worked by hand)', () => {
    const a = [5, -1, 7, 2, 9, 4, 0, 3];
    const out = resizeBilinearAntialiased(planar1([a]), 4, 1).data;
    const want = [
      (3 * a[0]! + 3 * a[1]! + a[2]!) / 7,
      (a[1]! + 3 * a[2]! + 3 * a[3]! + a[4]!) / 8,
      (a[3]! + 3 * a[4]! + 3 * a[5]! + a[6]!) / 8,
      (a[5]! + 3 * a[6]! + 3 * a[7]!) / 7,
    ];
    for (let i = 0; i < 4; i++) expect(out[i]).toBeCloseTo(want[i]!, 12);
  });

  it('2x upscale is plain bilinear with clamped edges (0.75/0.25 taps)', () => {
    const a = [2, 10, -4, 6];
    const out = resizeBilinearAntialiased(planar1([a]), 8, 1).data;
    const want = [2, 0.75 * 2 + 0.25 * 10, 0.25 * 2 + 0.75 * 10, 0.75 * 10 - 0.25 * 4];
    want.push(0.25 * 10 - 0.75 * 4, 0.75 * -4 + 0.25 * 6, 0.25 * -4 + 0.75 * 6, 6);
    for (let i = 0; i < 8; i++) expect(out[i]).toBeCloseTo(want[i]!, 12);
  });

  it('same size is the identity; a constant image stays constant at any scale', () => {
    const img = randomRgb(9, 7, 3);
    const p: PlanarImage = { width: 9, height: 7, channels: 3, data: Float64Array.from(img.data) };
    expect(firstMismatch(resizeBilinearAntialiased(p, 9, 7).data, p.data)).toBe(-1);
    const flat: PlanarImage = { width: 13, height: 11, channels: 1, data: new Float64Array(143).fill(42.5) };
    for (const [w, h] of [
      [5, 4],
      [30, 17],
      [13, 3],
    ] as const) {
      for (const v of resizeBilinearAntialiased(flat, w, h).data) expect(v).toBeCloseTo(42.5, 10);
    }
  });

  it('matches a direct 2D triangle-filter sum over all input pixels, with a crop window', () => {
    const W = 23;
    const H = 17;
    const img = randomRgb(W, H, 4);
    const p: PlanarImage = { width: W, height: H, channels: 3, data: new Float64Array(3 * W * H) };
    for (let c = 0; c < 3; c++) for (let i = 0; i < W * H; i++) p.data[c * W * H + i] = img.data[i * 3 + c]!;
    const outW = 10;
    const outH = 31; // downscale in x (2.3x), upscale in y
    const win = { left: 3, top: 5, width: 6, height: 20 };
    const got = resizeBilinearAntialiased(p, outW, outH, win);
    // Independent formulation: weight of input pixel j for output i along an axis is
    // tri((j + 0.5 - s * (i + 0.5)) / max(s, 1)), normalised over all j; the 2D weight is the product.
    const axis = (inSize: number, outSize: number, i: number) => {
      const s = inSize / outSize;
      const w = Array.from({ length: inSize }, (_, j) =>
        Math.max(0, 1 - Math.abs((j + 0.5 - s * (i + 0.5)) / Math.max(s, 1))),
      );
      const t = w.reduce((a, b) => a + b, 0);
      return w.map((x) => x / t);
    };
    for (let c = 0; c < 3; c++) {
      for (let y = 0; y < win.height; y++) {
        const wy = axis(H, outH, win.top + y);
        for (let x = 0; x < win.width; x++) {
          const wx = axis(W, outW, win.left + x);
          let want = 0;
          for (let j = 0; j < H; j++)
            for (let i = 0; i < W; i++) want += wy[j]! * wx[i]! * p.data[(c * H + j) * W + i]!;
          expect(got.data[(c * win.height + y) * win.width + x]).toBeCloseTo(want, 9);
        }
      }
    }
  });
});

describe('preprocess: Resize(256), CenterCrop(224), ToTensor, Normalize', () => {
  it("torchvision's output size (int(256 * long / short)) and crop offsets (round half to even)", () => {
    expect(resizedSize(451, 300, 256)).toEqual({ width: 384, height: 256 });
    expect(resizedSize(300, 451, 256)).toEqual({ width: 256, height: 384 });
    expect(resizedSize(600, 400, 256)).toEqual({ width: 384, height: 256 });
    expect(resizedSize(500, 500, 256)).toEqual({ width: 256, height: 256 });
    expect(resizedSize(1000, 3, 256)).toEqual({ width: 85333, height: 256 });
    expect([roundHalfEven(16.5), roundHalfEven(17.5), roundHalfEven(-0.5), roundHalfEven(2.4)]).toEqual([
      16, 18, -0, 2,
    ]);
    expect(centerCropOffsets(257, 259, 224)).toEqual({ left: 16, top: 18 });
    expect(centerCropOffsets(384, 256, 224)).toEqual({ left: 80, top: 16 });
  });

  it('a 256x256 image: no resampling, so the output is exactly the normalised centre pixels', () => {
    const img = randomRgb(256, 256, 5);
    const out = preprocessImage(img);
    expect(out.length).toBe(3 * 224 * 224);
    for (const [x, y] of [
      [0, 0],
      [223, 0],
      [17, 200],
      [223, 223],
    ] as const) {
      for (let c = 0; c < 3; c++) {
        const v = img.data[((y + 16) * 256 + (x + 16)) * 3 + c]!;
        expect(out[c * 224 * 224 + y * 224 + x]).toBeCloseTo(
          (v / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!,
          6,
        );
      }
    }
  });

  it('a solid colour image normalises to the same three values everywhere, at any size', () => {
    const w = 300;
    const h = 457;
    const data = new Uint8Array(w * h * 3);
    for (let p = 0; p < w * h; p++) data.set([255, 0, 128], p * 3);
    const out = preprocessImage({ width: w, height: h, data });
    const want = [(1 - 0.485) / 0.229, (0 - 0.456) / 0.224, (128 / 255 - 0.406) / 0.225];
    for (let c = 0; c < 3; c++) {
      for (let i = 0; i < 224 * 224; i += 997) expect(out[c * 224 * 224 + i]).toBeCloseTo(want[c]!, 5);
    }
  });

  it('a 512x512 image is a 2x downscale: crop pixel (x, y) is the [1,3,3,1]/8 average around (2x+32, 2y+32)', () => {
    const img = randomRgb(512, 512, 6);
    const out = preprocessImage(img);
    const taps = [1 / 8, 3 / 8, 3 / 8, 1 / 8];
    for (const [x, y] of [
      [0, 0],
      [100, 7],
      [223, 223],
    ] as const) {
      for (let c = 0; c < 3; c++) {
        // resized pixel (x + 16, y + 16) averages input rows/cols 2(x+16)-1 .. 2(x+16)+2
        let v = 0;
        for (let j = 0; j < 4; j++) {
          for (let i = 0; i < 4; i++) {
            const sx = 2 * (x + 16) - 1 + i;
            const sy = 2 * (y + 16) - 1 + j;
            v += taps[j]! * taps[i]! * img.data[(sy * 512 + sx) * 3 + c]!;
          }
        }
        expect(out[c * 224 * 224 + y * 224 + x]).toBeCloseTo(
          (v / 255 - IMAGENET_MEAN[c]!) / IMAGENET_STD[c]!,
          5,
        );
      }
    }
  });

  it('imageBatch stacks NCHW', () => {
    const a = randomRgb(256, 300, 7);
    const b = randomRgb(280, 256, 8);
    const batch = imageBatch([a, b]);
    expect(batch.shape).toEqual([2, 3, 224, 224]);
    expect(firstMismatch(batch.data.subarray(0, 3 * 224 * 224), preprocessImage(a))).toBe(-1);
    expect(firstMismatch(batch.data.subarray(3 * 224 * 224), preprocessImage(b))).toBe(-1);
  });

  it('refuses a crop larger than the resized image', () => {
    expect(() => preprocessImage(randomRgb(100, 100, 9), { resize: 64, crop: 96 })).toThrow(/does not fit/);
  });
});
