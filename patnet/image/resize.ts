// Antialiased bilinear resampling, the algorithm of PIL's `Image.resize(BILINEAR)` and of
// torchvision's `Resize(..., antialias=True)` on tensors (ATen's `_upsample_bilinear2d_aa`, ported
// from PIL): each output pixel is a normalised triangle-filter average of the input pixels under
// it, the triangle widened by the scale factor when downscaling so every input pixel contributes.
// Computed in float64 without intermediate rounding (PIL rounds to 8 bits after each pass; that is
// the only difference, below 1/255 of the range).

/** Planar float image: channel c, pixel (x, y) is data[(c * height + y) * width + x]. */
export interface PlanarImage {
  readonly width: number;
  readonly height: number;
  readonly channels: number;
  readonly data: Float64Array;
}

/** For output indices [from, from + count): the first input index and the normalised tap weights. */
interface AxisTaps {
  readonly start: Int32Array;
  readonly size: Int32Array;
  readonly taps: number;
  readonly weights: Float64Array;
}

const triangle = (x: number) => {
  const a = Math.abs(x);
  return a < 1 ? 1 - a : 0;
};

function axisTaps(inSize: number, outSize: number, from: number, count: number): AxisTaps {
  const scale = inSize / outSize;
  const support = Math.max(scale, 1); // bilinear: half-width 1, scaled when downscaling
  const invScale = scale >= 1 ? 1 / scale : 1;
  const taps = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(count);
  const size = new Int32Array(count);
  const weights = new Float64Array(count * taps);
  for (let o = 0; o < count; o++) {
    const center = scale * (from + o + 0.5);
    // Math.trunc, as the C code's (int) cast: the window edges are rounded toward zero.
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    let total = 0;
    for (let j = lo; j < hi; j++) {
      const w = triangle((j - center + 0.5) * invScale);
      weights[o * taps + (j - lo)] = w;
      total += w;
    }
    if (total !== 0) for (let j = 0; j < hi - lo; j++) weights[o * taps + j]! /= total;
    start[o] = lo;
    size[o] = hi - lo;
  }
  return { start, size, taps, weights };
}

/** The window of the resized image to compute (all of it by default): a crop costs nothing extra. */
export interface Window {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/**
 * Resizes `img` to outWidth x outHeight and returns the pixels of `window` within that result
 * (horizontal pass, then vertical, like PIL).
 */
export function resizeBilinearAntialiased(
  img: PlanarImage,
  outWidth: number,
  outHeight: number,
  window: Window = { left: 0, top: 0, width: outWidth, height: outHeight },
): PlanarImage {
  const { width: W, height: H, channels: C } = img;
  if (
    window.left < 0 ||
    window.top < 0 ||
    window.left + window.width > outWidth ||
    window.top + window.height > outHeight
  ) {
    throw new RangeError(
      `resize window ${JSON.stringify(window)} is outside the ${outWidth}x${outHeight} result`,
    );
  }
  const xs = axisTaps(W, outWidth, window.left, window.width);
  const ys = axisTaps(H, outHeight, window.top, window.height);
  const w = window.width;
  const h = window.height;
  const mid = new Float64Array(C * H * w);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < H; y++) {
      const row = (c * H + y) * W;
      for (let x = 0; x < w; x++) {
        let s = 0;
        const base = x * xs.taps;
        for (let t = 0; t < xs.size[x]!; t++) s += xs.weights[base + t]! * img.data[row + xs.start[x]! + t]!;
        mid[(c * H + y) * w + x] = s;
      }
    }
  }
  const out = new Float64Array(C * h * w);
  for (let c = 0; c < C; c++) {
    for (let y = 0; y < h; y++) {
      const base = y * ys.taps;
      const o = (c * h + y) * w;
      for (let t = 0; t < ys.size[y]!; t++) {
        const wt = ys.weights[base + t]!;
        const r = (c * H + ys.start[y]! + t) * w;
        for (let x = 0; x < w; x++) out[o + x]! += wt * mid[r + x]!;
      }
    }
  }
  return { width: w, height: h, channels: C, data: out };
}
