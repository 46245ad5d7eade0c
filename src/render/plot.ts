/**
 * The loss-curve plot of Fig 11: training and validation cost against examples seen, as SVG,
 * from a run's metrics.jsonl.
 *
 * @module
 */

/** One curve: points (x, y) and a colour; a point whose y is not finite breaks the line there (a gap). */
export interface Series {
  label: string;
  color: string;
  points: [number, number][];
}

/** The runs of finite points between the gaps of a series. */
function segments(points: [number, number][]): [number, number][][] {
  const out: [number, number][][] = [[]];
  for (const [x, y] of points) {
    if (Number.isFinite(x) && Number.isFinite(y)) out[out.length - 1].push([x, y]);
    else if (out[out.length - 1].length) out.push([]);
  }
  return out.filter((s) => s.length > 0);
}

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;");

/** Rounds to a "nice" number for axis ticks. */
function nice(v: number): number {
  const e = Math.pow(10, Math.floor(Math.log10(v)));
  const f = v / e;
  return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * e;
}

/** Renders series as an SVG line plot with axes, ticks and a legend. */
export function linePlot(series: Series[], title: string, xLabel: string, yLabel: string): string {
  const W = 720, H = 440, L = 70, R = 20, T = 40, B = 55;
  const pts = series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  if (pts.length === 0) {
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><text x="20" y="40">${
      esc(title)
    }: no data</text></svg>\n`;
  }
  let [x0, x1] = [Math.min(...pts.map((p) => p[0])), Math.max(...pts.map((p) => p[0]))];
  // the y range of the last 90% of the x range (when it holds points): a loss falls steeply at first, and the
  // whole range would flatten the later curve, where whether it still falls is read; the start runs off the top
  const late = pts.filter(([x]) => x >= x0 + 0.1 * (x1 - x0));
  const yPts = late.length > 1 ? late : pts, clipped = yPts.length < pts.length;
  let [y0, y1] = [Math.min(...yPts.map((p) => p[1])), Math.max(...yPts.map((p) => p[1]))];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) [y0, y1] = [y0 - 1, y1 + 1];
  const pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/>`,
    `<line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`,
    `<clipPath id="plot"><rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}"/></clipPath>`,
  ];
  if (clipped && Math.max(...pts.map((p) => p[1])) > y1) {
    out.push(
      `<text x="${L + 6}" y="${T - 6}" font-size="11" fill="#555">(the first 10% of the run is off the top)</text>`,
    );
  }
  for (const [lo, hi, axis] of [[x0, x1, "x"], [y0, y1, "y"]] as const) {
    const step = nice((hi - lo) / 6);
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) {
      const label = Math.abs(v) >= 1e4 ? v.toExponential(1) : String(Number(v.toPrecision(6)));
      if (axis === "x") {
        out.push(`<line x1="${sx(v)}" y1="${H - B}" x2="${sx(v)}" y2="${H - B + 5}" stroke="black"/>`);
        out.push(`<text x="${sx(v)}" y="${H - B + 18}" text-anchor="middle">${label}</text>`);
      } else {
        out.push(`<line x1="${L - 5}" y1="${sy(v)}" x2="${W - R}" y2="${sy(v)}" stroke="#ddd"/>`);
        out.push(`<text x="${L - 8}" y="${sy(v) + 4}" text-anchor="end">${label}</text>`);
      }
    }
  }
  out.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(
    `<text x="16" y="${(T + H - B) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(T + H - B) / 2})">${
      esc(yLabel)
    }</text>`,
  );
  // the legend in the top right corner, as wide as its longest label (about 7 px a character at 12 px)
  const legendX = W - R - 24 - 7 * Math.max(...series.map((s) => s.label.length));
  series.forEach((s, k) => {
    for (const p of segments(s.points)) {
      if (p.length > 1) {
        out.push(
          `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" clip-path="url(#plot)" points="${
            p.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(" ")
          }"/>`,
        );
      } else out.push(`<circle cx="${sx(p[0][0])}" cy="${sy(p[0][1])}" r="3" fill="${s.color}"/>`);
    }
    out.push(`<rect x="${legendX}" y="${T + 6 + 18 * k}" width="14" height="4" fill="${s.color}"/>`);
    out.push(`<text x="${legendX + 20}" y="${T + 12 + 18 * k}">${esc(s.label)}</text>`);
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
