import { describe, expect, it } from "vitest";
import type { DeploymentTraffic } from "../types";
import { latencyChart, requestsChart } from "./trafficChartData";

const T0 = Date.parse("2025-01-01T10:00:00Z") / 1000;
const iso = (s: number) => new Date(s * 1000).toISOString();

function point(minute: number, version: number, requests: number, p50: number | null, p95: number | null, p99: number | null) {
  return {
    t: iso(T0 + minute * 60),
    version,
    version_number: version === 7 ? 1 : 2,
    requests,
    errors_4xx: 0,
    errors_5xx: 0,
    rows: requests,
    latency_ms_avg: p50,
    latency_ms_p50: p50,
    latency_ms_p95: p95,
    latency_ms_p99: p99,
  };
}

function traffic(series: ReturnType<typeof point>[]): DeploymentTraffic {
  // `since` mid-minute, as the page asks for "the last 5 minutes" from now.
  return { deployment: "d", since: iso(T0 + 20), until: iso(T0 + 5 * 60 + 20), step: 60, batch_rows_bounds: [], series, totals: {} as DeploymentTraffic["totals"] };
}

describe("latencyChart", () => {
  it("has a step for every minute of the range and gaps where nothing was answered", () => {
    const c = latencyChart(traffic([point(1, 7, 3, 4, 9, 12), point(3, 7, 1, 5, 5, 5)]));
    expect(c.times).toEqual([0, 1, 2, 3, 4, 5].map((m) => T0 + m * 60));
    expect(c.series.map((s) => s.label)).toEqual(["p50", "p95", "p99"]);
    expect(c.series[1]!.values).toEqual([null, 9, null, 5, null, null]);
    expect(c.points).toBe(6);
  });

  it("draws each version's p50 and p95 during a canary", () => {
    const c = latencyChart(traffic([point(0, 8, 1, 3, 4, 5), point(0, 7, 9, 6, 7, 8)]));
    expect(c.series.map((s) => s.label)).toEqual(["v1 p50", "v1 p95", "v2 p50", "v2 p95"]);
    expect(c.series[0]!.values[0]).toBe(6);
    expect(c.series[2]!.values[0]).toBe(3);
  });

  it("is empty but has its time axis before any traffic", () => {
    const c = latencyChart(traffic([]));
    expect(c).toMatchObject({ series: [], points: 0 });
    expect(c.times).toHaveLength(6);
  });
});

describe("requestsChart", () => {
  it("counts requests per minute, zero in the quiet ones", () => {
    const c = requestsChart(traffic([point(2, 7, 4, 1, 1, 1), point(4, 7, 2, null, null, null)]));
    expect(c.series).toHaveLength(1);
    expect(c.series[0]).toMatchObject({ label: "requests", values: [0, 0, 4, 0, 2, 0] });
    expect(c.points).toBe(2);
  });
});
