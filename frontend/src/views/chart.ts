// What every uPlot chart in the app shares: a captioned figure with a text summary, a width that
// follows the page, and redraws that reuse the plot while its series keep their shape.
// uPlot draws on a canvas and sizes its elements through the CSSOM (element.style.width = …),
// which the page's CSP (style-src 'self', no 'unsafe-inline') allows: CSP refuses style
// attributes in markup and <style> elements, not properties set from a permitted script.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h } from "../dom";

export const HEIGHT = 220;
// Epochs and trial counts are whole numbers: no tick at epoch 1.5.
/** Colours of a chart's lines, in order; the first is the app's accent. */
export const PALETTE = ["#2f5bea", "#a15c00", "#157f3c", "#8e3bb3", "#c2185b", "#00838f"];
export const WHOLE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

export interface Chart {
  figure: HTMLElement;
  plot: HTMLElement;
  summary: HTMLElement;
  u: uPlot | null;
  /** The series' shape the plot was built for; a new shape needs a new plot. */
  shape: string;
}

export function chartShell(id: string, caption: string): Chart {
  const summary = h("p", { class: "chart-summary", id: `${id}-summary` }, "");
  // The canvas means nothing to a screen reader: the plot is one image, described by the summary.
  const plot = h("div", {
    id,
    class: "chart",
    role: "img",
    "aria-label": caption,
    "aria-describedby": `${id}-summary`,
    "data-points": 0,
  });
  const figure = h("figure", { class: "chart-figure" }, h("figcaption", null, caption), plot, summary);
  return { figure, plot, summary, u: null, shape: "" };
}

function width(el: HTMLElement): number {
  // Never wider than the page: at 390 px the figure is narrower than uPlot's old canvas.
  return Math.max(200, Math.floor(el.getBoundingClientRect().width));
}

export function draw(chart: Chart, shape: string, opts: () => Omit<uPlot.Options, "width" | "height">, data: uPlot.AlignedData, points: number): void {
  if (chart.u && chart.shape === shape) {
    chart.u.setData(data);
  } else {
    chart.u?.destroy();
    chart.plot.replaceChildren();
    chart.shape = shape;
    chart.u = new uPlot({ ...opts(), width: width(chart.figure), height: HEIGHT }, data, chart.plot);
  }
  chart.plot.dataset.points = String(points);
}

/** Keeps the charts as wide as their figures until `signal` aborts, then frees them. */
export function followWidth(charts: Chart[], signal: AbortSignal): void {
  const resize = new ResizeObserver(() => {
    for (const c of charts) c.u?.setSize({ width: width(c.figure), height: HEIGHT });
  });
  for (const c of charts) resize.observe(c.figure);
  signal.addEventListener("abort", () => {
    resize.disconnect();
    for (const c of charts) c.u?.destroy();
  });
}

/** A series drawn as dots only, no line between them. */
export function dots(label: string, color: string, size = 7): uPlot.Series {
  return { label, stroke: color, paths: () => null, points: { show: true, size, fill: color } };
}

/** An x range with room beyond the outermost points, so no dot is cut in half by the edge. */
export function roomyRange(log = false): uPlot.Range.Function {
  return (_u, min, max) => {
    if (min === null || max === null || !Number.isFinite(min) || !Number.isFinite(max)) return [0, 1];
    if (log) return [min / 1.6, max * 1.6];
    const pad = (max - min) * 0.06 || Math.abs(min) * 0.1 || 1;
    return [min - pad, max + pad];
  };
}
