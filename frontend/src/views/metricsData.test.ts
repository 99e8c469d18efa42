import { describe, expect, it } from "vitest";
import { formatNumber, formatPairs } from "../dom";
import { otherDetails, residualPlot, rocCurves, scalarMetrics } from "./metricsData";

const binary = {
  accuracy: 0.95,
  roc_auc: 0.9712,
  confusion_matrix: [[26, 7], [6, 21]],
  labels: ["benign", "malignant"],
  per_class: { benign: { precision: 0.8, recall: 0.8, f1: 0.8, support: 33 } },
  roc_curve: { positive: "malignant", fpr: [0, 0, 0.5, 0.25, 1], tpr: [0, 0.5, 0.9, 0.75, 1] },
};

describe("scalarMetrics", () => {
  it("keeps the single figures and leaves every list or map to its own table", () => {
    expect(scalarMetrics(binary)).toEqual([["accuracy", 0.95], ["roc_auc", 0.9712]]);
    expect(scalarMetrics({ threshold: 0.5, note: "x", flag: true, gone: null })).toHaveLength(4);
    expect(scalarMetrics(null)).toEqual([]);
  });
});

describe("otherDetails", () => {
  it("flattens a nested result nobody draws into readable rows, with no JSON brackets", () => {
    const rows = otherDetails({
      ...binary,
      calibration: { bins: [0.1, 0.2], error: -3.701e-17, grid: [[1, 2], [3, 4]] },
    });
    expect(rows).toEqual([
      ["calibration › bins", "0.1, 0.2"],
      ["calibration › error", "0"],
      ["calibration › grid", "1, 2 | 3, 4"],
    ]);
    for (const [, text] of rows) expect(text).not.toMatch(/[[\]{}]/);
  });

  it("has nothing to add for the results the pages already draw", () => {
    expect(otherDetails(binary)).toEqual([]);
    expect(otherDetails({ residuals: { mean: 0 }, predictions_sample: { actual: [1] }, per_step: [] })).toEqual([]);
  });
});

describe("formatNumber", () => {
  it("shows float noise as zero and lists and maps as text, not JSON", () => {
    expect(formatNumber(-3.701e-17)).toBe("0");
    expect(formatNumber(0.123456789)).toBe("0.1235");
    expect(formatNumber([[26, 7], [6, 21]])).toBe("26, 7, 6, 21");
    expect(formatPairs({ a: { b: 1 }, c: [1, 2] })).toBe("a=(b=1), c=1, 2");
  });
});

describe("rocCurves", () => {
  it("sorts a two-class curve along the false positive rate and adds the chance line", () => {
    const roc = rocCurves(binary)!;
    expect(roc.fpr).toEqual([0, 0, 0.25, 0.5, 1]);
    expect(roc.lines).toEqual([{ label: "malignant", auc: 0.9712, tpr: [0, 0.5, 0.75, 0.9, 1], points: 5 }]);
    expect(roc.chance).toEqual(roc.fpr);
    expect(roc).toMatchObject({ auc: 0.9712, oneVsRest: false, points: 5 });
  });

  it("puts each class's curve against the rest on one axis, null where another curve's point is", () => {
    const roc = rocCurves({
      roc_auc: 0.8,
      roc_curves: [
        { label: "a", auc: 0.7, fpr: [0, 0.5, 1], tpr: [0, 0.6, 1] },
        { label: "b", auc: 0.9, fpr: [1, 0, 0.2], tpr: [1, 0, 0.8] },
        { label: "c", auc: 0.8, fpr: [0, 1], tpr: [0, "x"] }, // one usable point: no curve
      ],
    })!;
    expect(roc.oneVsRest).toBe(true);
    expect(roc.auc).toBe(0.8);
    // every point once, ascending; ties in curve order
    expect(roc.fpr).toEqual([0, 0, 0.2, 0.5, 1, 1]);
    expect(roc.chance).toEqual(roc.fpr);
    expect(roc.lines.map((l) => [l.label, l.auc, l.points])).toEqual([["a", 0.7, 3], ["b", 0.9, 3]]);
    expect(roc.lines[0]!.tpr).toEqual([0, null, null, 0.6, 1, null]);
    expect(roc.lines[1]!.tpr).toEqual([null, 0, 0.8, null, null, 1]);
    expect(roc.points).toBe(6);
    // each line holds exactly its own points, in the order it climbs
    for (const line of roc.lines) {
      const own = line.tpr.filter((v) => v !== null);
      expect(own).toHaveLength(line.points);
      expect(own).toEqual([...own].sort((x, y) => x - y));
    }
  });

  it("is null without a usable curve", () => {
    expect(rocCurves({ roc_auc: 0.9 })).toBeNull();
    expect(rocCurves({ roc_curve: { fpr: [0, 1], tpr: [0] } })).toBeNull();
    expect(rocCurves({ roc_curve: { fpr: [0, "x"], tpr: [0, 1] } })).toBeNull();
    expect(rocCurves({ roc_curves: [] })).toBeNull();
    expect(rocCurves({ roc_curves: [null, { label: "a" }] })).toBeNull();
  });
});

describe("residualPlot", () => {
  it("pairs each actual with its prediction, ordered by the prediction", () => {
    const r = residualPlot({ predictions_sample: { actual: [10, 4, 7], predicted: [12, 3, 7], of: 900 } })!;
    expect(r.predicted).toEqual([3, 7, 12]);
    expect(r.residual).toEqual([1, 0, -2]);
    expect(r).toMatchObject({ of: 900, points: 3 });
  });

  it("drops pairs that are not numbers and is null when nothing is left", () => {
    expect(residualPlot({ predictions_sample: { actual: [1, null], predicted: [2, 3] } })).toMatchObject({ points: 1, of: 1 });
    expect(residualPlot({ predictions_sample: { actual: [], predicted: [] } })).toBeNull();
    expect(residualPlot({ rmse: 1 })).toBeNull();
  });
});
