// The deployment page's traffic charts: requests and latency by minute over the last hour, one
// line per version while a canary runs. No DOM and no chart library: unit-tested in Node.
import type { DeploymentTraffic } from "../types";

export interface TrafficSeries {
  label: string;
  version: number;
  values: (number | null)[];
}

export interface TrafficChart {
  /** Every step's start from `since` to `until`, in Unix seconds (uPlot's time unit). */
  times: number[];
  series: TrafficSeries[];
  /** Values drawn, over all series. */
  points: number;
}

type Point = DeploymentTraffic["series"][number];

function steps(t: DeploymentTraffic): number[] {
  const step = Math.max(1, t.step);
  const first = Math.floor(Date.parse(t.since) / 1000 / step) * step;
  const until = Date.parse(t.until) / 1000;
  const times: number[] = [];
  for (let s = first; s < until && times.length < 10_000; s += step) times.push(s);
  return times;
}

function chart(t: DeploymentTraffic, lines: Array<[string, (p: Point) => number | null]>, empty: number | null): TrafficChart {
  const times = steps(t);
  const at = new Map(times.map((s, i) => [s, i]));
  const step = Math.max(1, t.step);
  const versions = [...new Map(t.series.map((p) => [Number(p.version), p.version_number])).entries()].sort((a, b) => a[1] - b[1]);
  const series: TrafficSeries[] = [];
  let points = 0;
  for (const [version, number] of versions) {
    for (const [name, pick] of lines) {
      const values: (number | null)[] = times.map(() => empty);
      for (const p of t.series) {
        if (Number(p.version) !== version) continue;
        const i = at.get(Math.floor(Date.parse(p.t) / 1000 / step) * step);
        const v = pick(p);
        if (i === undefined || v === null) continue;
        values[i] = v;
        points += 1;
      }
      series.push({ label: versions.length > 1 ? `v${number} ${name}` : name, version, values });
    }
  }
  return { times, series, points };
}

/**
 * Latency percentiles per step, a gap where no request was answered. One version: its p50, p95
 * and p99; during a canary, each version's p50 and p95 (six lines would be unreadable).
 */
export function latencyChart(t: DeploymentTraffic): TrafficChart {
  const canary = new Set(t.series.map((p) => p.version)).size > 1;
  const lines: Array<[string, (p: Point) => number | null]> = [
    ["p50", (p) => p.latency_ms_p50],
    ["p95", (p) => p.latency_ms_p95],
  ];
  if (!canary) lines.push(["p99", (p) => p.latency_ms_p99]);
  return chart(t, lines, null);
}

/** Requests per step for each version; a step without traffic had none (zero, not a gap). */
export function requestsChart(t: DeploymentTraffic): TrafficChart {
  return chart(t, [["requests", (p) => p.requests]], 0);
}
