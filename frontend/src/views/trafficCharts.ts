// The deployment page's latency and requests charts over the last hour, redrawn with each
// refresh of the traffic panel.
import type { DeploymentTraffic } from "../types";
import { formatNumber, h } from "../dom";
import { chartShell, draw, followWidth, PALETTE, type Chart } from "./chart";
import { latencyChart, requestsChart, type TrafficChart } from "./trafficChartData";

function plot(chart: Chart, c: TrafficChart, unit: string): void {
  draw(
    chart,
    JSON.stringify(c.series.map((s) => s.label)),
    () => ({
      axes: [{}, { label: unit }],
      series: [
        { label: "time" },
        ...c.series.map((s, i) => ({
          label: s.label,
          stroke: PALETTE[i % PALETTE.length],
          width: 2,
          // A lone answered minute between quiet ones is still seen.
          points: { show: true, size: 4 },
        })),
      ],
    }),
    [c.times, ...c.series.map((s) => s.values)],
    c.points,
  );
}

export interface TrafficCharts {
  el: HTMLElement;
  update(t: DeploymentTraffic): void;
}

export function trafficCharts(signal: AbortSignal): TrafficCharts {
  const latency = chartShell("latency-chart", "Latency by minute (ms)");
  const requests = chartShell("requests-chart", "Requests by minute");
  followWidth([latency, requests], signal);
  return {
    el: h("div", { class: "chart-grid traffic-charts" }, latency.figure, requests.figure),
    update(t) {
      const l = latencyChart(t);
      plot(latency, l, "milliseconds");
      const worst = Math.max(...l.series.filter((s) => s.label.endsWith("p95")).flatMap((s) => s.values.filter((v): v is number => v !== null)));
      latency.summary.textContent = l.points
        ? `Highest p95 in the hour: ${formatNumber(worst)} ms (${l.series.map((s) => s.label).join(", ")}).`
        : "No request answered in the last hour.";
      const r = requestsChart(t);
      plot(requests, r, "requests");
      const total = r.series.reduce((n, s) => n + s.values.reduce<number>((a, v) => a + (v ?? 0), 0), 0);
      requests.summary.textContent = `${total} request(s) in the last hour, in ${r.points} busy minute(s).`;
    },
  };
}
