// A uPlot chart of the job page inside React: the figure, caption and text summary are React's;
// the plot's box belongs to uPlot (views/chart.ts's `draw`), reached through a ref, so live
// points are drawn into the same plot as they arrive instead of rebuilding it.
import { useEffect, useRef, type ReactNode } from "react";
import { followWidth, type Chart } from "./chart";

export function UplotFigure({
  id,
  caption,
  summary,
  picker,
  render,
  deps,
}: {
  id: string;
  caption: string;
  summary: string;
  /** A control between the caption and the plot (the hyperparameter chart's picker). */
  picker?: ReactNode;
  /** Draws into the chart (`draw(chart, …)`); runs after mount and whenever `deps` change. */
  render: (chart: Chart) => void;
  deps: readonly unknown[];
}): ReactNode {
  const figure = useRef<HTMLElement>(null);
  const plot = useRef<HTMLDivElement>(null);
  const summaryEl = useRef<HTMLParagraphElement>(null);
  const chart = useRef<Chart | null>(null);

  useEffect(() => {
    if (!figure.current || !plot.current || !summaryEl.current) return undefined;
    const c: Chart = { figure: figure.current, plot: plot.current, summary: summaryEl.current, u: null, shape: "" };
    c.plot.dataset.points = "0";
    chart.current = c;
    const controller = new AbortController();
    followWidth([c], controller.signal); // destroys the plot when aborted
    return () => {
      controller.abort();
      c.plot.replaceChildren();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    if (chart.current) render(chart.current);
    // `render` is a new closure on every render; what it depends on is in `deps`.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  return (
    <figure ref={figure} className="chart-figure">
      <figcaption>{caption}</figcaption>
      {picker}
      {/* The canvas means nothing to a screen reader: the plot is one image, described by the summary. */}
      <div ref={plot} id={id} className="chart" role="img" aria-label={caption} aria-describedby={`${id}-summary`} />
      <p ref={summaryEl} className="chart-summary" id={`${id}-summary`}>
        {summary}
      </p>
    </figure>
  );
}
