import type { ReactNode } from "react";
import type { Histogram as HistogramData } from "../api";
import { formatNumber } from "../dom";

const WIDTH = 120;
const HEIGHT = 28;

function finite(values: unknown): number[] | null {
  if (!Array.isArray(values)) return null;
  const out = values.map(Number);
  return out.every(Number.isFinite) ? out : null;
}

/**
 * A tiny bar chart of a column's histogram: one bar per bin, heights relative to the fullest
 * bin, each with a tooltip naming its range and count. Nothing when there is nothing to draw.
 */
export function Histogram({ hist, label }: { hist: HistogramData | null | undefined; label: string }): ReactNode {
  const counts = finite(hist?.counts);
  if (!counts || counts.length === 0) return null;
  const edges = finite(hist?.edges);
  const peak = Math.max(...counts, 1);
  const total = counts.reduce((a, b) => a + b, 0);
  const barWidth = WIDTH / counts.length;
  const gap = barWidth > 3 ? 1 : 0;

  return (
    <svg
      className="histogram"
      width={WIDTH}
      height={HEIGHT}
      viewBox={`0 0 ${WIDTH} ${HEIGHT}`}
      role="img"
      aria-label={`Histogram of ${label}: ${counts.length} bins, ${total} values`}
      data-testid="histogram"
    >
      <line x1={0} y1={HEIGHT - 0.5} x2={WIDTH} y2={HEIGHT - 0.5} className="axis" />
      {counts.map((count, i) => {
        const height = count === 0 ? 0 : Math.max(1, (count / peak) * (HEIGHT - 2));
        const range =
          edges && edges.length === counts.length + 1
            ? `${formatNumber(edges[i])} – ${formatNumber(edges[i + 1])}`
            : `bin ${i + 1}`;
        return (
          <rect
            key={i}
            x={(i * barWidth).toFixed(2)}
            y={(HEIGHT - height).toFixed(2)}
            width={Math.max(barWidth - gap, 0.5).toFixed(2)}
            height={height.toFixed(2)}
            className="bar"
          >
            <title>{`${range}: ${count}`}</title>
          </rect>
        );
      })}
    </svg>
  );
}
