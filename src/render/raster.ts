/**
 * A small RGB raster for the paper's pictures: image tiles, upscaled, on a grid, with attention
 * rectangles whose border width shows the filters' σ (Figs 1, 3, 5).
 *
 * @module
 */

/** An RGB colour, 0–255 per channel. */
export type Rgb = readonly [number, number, number];

/** Red, for write windows (Fig 1). */
export const RED: Rgb = [230, 30, 30];
/** Green, for read windows and glimpses (Figs 3, 5). */
export const GREEN: Rgb = [40, 220, 40];

/** An RGB image in memory. */
export class Raster {
  readonly width: number;
  readonly height: number;
  /** RGB bytes, row-major. */
  readonly rgb: Uint8Array;

  /** A raster filled with `background`. */
  constructor(width: number, height: number, background: Rgb = [255, 255, 255]) {
    this.width = width;
    this.height = height;
    this.rgb = new Uint8Array(width * height * 3);
    for (let p = 0; p < width * height; p++) this.rgb.set(background, p * 3);
  }

  /** Sets one pixel, ignoring coordinates outside the raster. */
  set(x: number, y: number, c: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    this.rgb.set(c, (y * this.width + x) * 3);
  }

  /**
   * Draws an image of values in [0, 1], [h, w, channels] row-major (1 or 3 channels), with its
   * top-left corner at (x0, y0), each pixel as a `scale`×`scale` block.
   */
  image(
    values: ArrayLike<number>,
    h: number,
    w: number,
    channels: number,
    x0: number,
    y0: number,
    scale: number,
  ): void {
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const at = (y * w + x) * channels;
        const byte = (v: number) => Math.round(255 * Math.min(1, Math.max(0, v)));
        const c: Rgb = channels === 1
          ? [byte(values[at]), byte(values[at]), byte(values[at])]
          : [byte(values[at]), byte(values[at + 1]), byte(values[at + 2])];
        for (let dy = 0; dy < scale; dy++) {
          for (let dx = 0; dx < scale; dx++) this.set(x0 + x * scale + dx, y0 + y * scale + dy, c);
        }
      }
    }
  }

  /** An axis-aligned rectangle outline, `thickness` pixels wide inward, clipped to `clip`. */
  rect(
    x0: number,
    y0: number,
    x1: number,
    y1: number,
    c: Rgb,
    thickness: number,
    clip?: [number, number, number, number],
  ): void {
    const [cx0, cy0, cx1, cy1] = clip ?? [0, 0, this.width, this.height];
    const X0 = Math.round(x0), Y0 = Math.round(y0), X1 = Math.round(x1), Y1 = Math.round(y1);
    for (let y = Y0; y < Y1; y++) {
      for (let x = X0; x < X1; x++) {
        const edge = x < X0 + thickness || x >= X1 - thickness || y < Y0 + thickness || y >= Y1 - thickness;
        if (edge && x >= cx0 && x < cx1 && y >= cy0 && y < cy1) this.set(x, y, c);
      }
    }
  }

  /**
   * Draws an attention window (g_X, g_Y, δ, σ) of an N×N grid over an image tile at (x0, y0) of
   * w×h pixels drawn at `scale`. The rectangle joins the outermost filter centres,
   * g ± (N − 1)δ/2 (Eqs 19–20, pixels counted from 1); its border is σ·scale/2 pixels wide.
   */
  window(win: ArrayLike<number>, N: number, x0: number, y0: number, w: number, h: number, scale: number, c: Rgb): void {
    const [gX, gY, delta, sigma] = [win[0], win[1], win[2], win[3]];
    const half = ((N - 1) * delta) / 2;
    const px = (u: number) => (u - 0.5) * scale; // 1-indexed pixel centre → raster offset
    const thickness = Math.max(1, Math.min(Math.round((sigma * scale) / 2), 3 * scale));
    this.rect(
      x0 + px(gX - half) - thickness / 2,
      y0 + px(gY - half) - thickness / 2,
      x0 + px(gX + half) + thickness / 2,
      y0 + px(gY + half) + thickness / 2,
      c,
      thickness,
      [x0, y0, x0 + w * scale, y0 + h * scale],
    );
  }
}

/** Layout of a grid of equal tiles with a gap between them. */
export function gridLayout(count: number, cols: number, tileW: number, tileH: number, gap: number) {
  const rows = Math.ceil(count / cols);
  return {
    width: cols * tileW + (cols + 1) * gap,
    height: rows * tileH + (rows + 1) * gap,
    at: (k: number): [number, number] => [gap + (k % cols) * (tileW + gap), gap + Math.floor(k / cols) * (tileH + gap)],
  };
}
