// The job page's parallel-coordinates view: every scored trial as one line across an axis per
// hyperparameter and the score, the best trial drawn over the others. SVG whose look is all in
// style.css classes (the CSP allows no style attribute); drawn at its own size, it shrinks to a
// narrower figure (a phone) down to a size still legible, then scrolls within its box.
// The drawing stays imperative, behind a ref: React owns the figure and its summary.
import { useEffect, useMemo, useRef, type ReactNode } from "react";
import { formatNumber, svg, svgTitle } from "../dom";
import type { JobChartModel } from "./jobChartData";
import { parallelCoordinates, type ParallelCoordinates } from "./parallelData";

const GAP = 130; // between axes, in viewBox units
const PAD_LEFT = 60; // half the first axis's name
const PAD_RIGHT = 70; // the last axis's tick labels
const TOP = 42; // the axes' names above them
const BOTTOM = 236;
const HEIGHT = 250;
const MIN_SCALE = 0.6;
const CAPTION = "Hyperparameters of each trial, side by side";

const y = (at: number): number => BOTTOM - at * (BOTTOM - TOP);

/** One path per trial; a move where it lacks a hyperparameter, so the gap shows. */
function pathData(xs: number[], at: (number | null)[]): string {
  let d = "";
  let drawing = false;
  at.forEach((v, i) => {
    if (v === null) {
      drawing = false;
      return;
    }
    d += `${drawing ? "L" : "M"}${xs[i]!.toFixed(1)} ${y(v).toFixed(1)} `;
    drawing = true;
  });
  return d.trim();
}

function drawing(p: ParallelCoordinates): SVGElement[] {
  const xs = p.axes.map((_, i) => PAD_LEFT + i * GAP);
  const width = PAD_LEFT + Math.max(0, p.axes.length - 1) * GAP + PAD_RIGHT;
  const axes = p.axes.map((a, i) =>
    svg(
      "g",
      { class: "pc-axis" },
      svg("line", { x1: xs[i]!, x2: xs[i]!, y1: TOP, y2: BOTTOM }),
      svg("text", { x: xs[i]!, y: TOP - 18, class: "pc-name" }, document.createTextNode(a.log ? `${a.name} (log)` : a.name)),
      ...a.ticks.map((t) => svg("text", { x: xs[i]! + 5, y: y(t.at) - 4, class: "pc-tick" }, document.createTextNode(t.label))),
    ),
  );
  const lines = p.lines.map((l) =>
    svg(
      "path",
      { d: pathData(xs, l.at), class: l.best ? "pc-line best" : "pc-line", "data-trial": l.trial },
      svgTitle(`trial ${l.trial}${l.best ? " (best)" : ""}: score ${formatNumber(l.score)}`),
    ),
  );
  const el = svg("svg", { viewBox: `0 0 ${width} ${HEIGHT}`, width, height: HEIGHT, class: "parallel-svg", "aria-hidden": "true" }, ...lines, ...axes);
  // Through the CSSOM, which the CSP allows: shrunk further its labels could not be read, so a
  // phone scrolls the drawing within its box instead.
  el.style.minWidth = `${Math.round(width * MIN_SCALE)}px`;
  return [el];
}

function summary(p: ParallelCoordinates): string {
  if (p.lines.length === 0) return "No trial has finished with a score yet.";
  const best = p.lines.find((l) => l.best);
  const left = p.constant.length ? ` Left out, the same in every trial: ${p.constant.join(", ")}.` : "";
  return `${p.lines.length} trial(s) across ${p.axes.length - 1} hyperparameter(s) and the score (lower is better)` +
    `${best ? `; the best, trial ${best.trial} (score ${formatNumber(best.score)}), is drawn in green` : ""}.${left}`;
}

/** `version` changes whenever the (mutable) model does. */
export function ParallelChart({ model, best, version }: { model: JobChartModel; best: number | null; version: number }): ReactNode {
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const p = useMemo(() => parallelCoordinates(model, best), [model, best, version]);
  // Redrawn only when what it shows changed: the job page updates on every epoch.
  const key = useMemo(() => JSON.stringify(p), [p]);
  const plot = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = plot.current;
    if (!el) return undefined;
    el.replaceChildren(...drawing(p));
    return () => el.replaceChildren();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  return (
    <figure className="chart-figure wide">
      <figcaption>{CAPTION}</figcaption>
      <div
        ref={plot}
        id="hp-parallel"
        className="parallel"
        role="img"
        aria-label={CAPTION}
        aria-describedby="hp-parallel-summary"
        data-lines={p.lines.length}
        tabIndex={0} // a box that may scroll takes keyboard focus
      />
      <p className="chart-summary" id="hp-parallel-summary">
        {summary(p)}
      </p>
    </figure>
  );
}
