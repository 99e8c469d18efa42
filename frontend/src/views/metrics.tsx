import type { ReactNode } from "react";
import { formatNumber } from "../dom";
import { otherDetails, scalarMetrics } from "./metricsData";
import { ResultCharts } from "./resultCharts";

type Importance = { feature: string; importance: number; std: number };
type ClassFigures = { precision: number; recall: number; f1: number; support: number };
type Residuals = { mean?: number; std?: number; quantiles?: Record<string, number> };

/** Rows are the true classes, columns the predicted ones; each cell is shaded by its share of
 * its row, so the diagonal reads at a glance. */
function ConfusionTable({ matrix, labels }: { matrix: unknown; labels: unknown }): ReactNode {
  if (!Array.isArray(matrix) || !Array.isArray(labels) || matrix.length !== labels.length) return null;
  const names = labels.map(String);
  const rows = matrix as number[][];
  return (
    <table id="confusion-matrix" className="narrow" tabIndex={0}>
      <caption>Confusion matrix (test split)</caption>
      <thead>
        <tr>
          <th scope="col">true ↓ / predicted →</th>
          {names.map((n, j) => (
            <th key={j} scope="col">
              {n}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.map((row, i) => {
          const total = row.reduce((a, b) => a + b, 0) || 1;
          return (
            <tr key={i}>
              <th scope="row">{names[i] ?? ""}</th>
              {row.map((count, j) => (
                <td
                  key={j}
                  className={i === j ? "num hit" : "num"}
                  title={`${count} of ${total} “${names[i]}” rows predicted “${names[j]}”`}
                  // React sets this through the CSSOM: the page's policy allows no style attributes.
                  style={{ backgroundColor: `rgba(47, 91, 234, ${(0.08 + 0.5 * (count / total)).toFixed(2)})` }}
                >
                  {String(count)}
                </td>
              ))}
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** The single figures, one row each; nested results are `DetailTables`'. */
export function ScalarTable({ all, id, empty }: { all: Record<string, unknown>; id: string; empty: string }): ReactNode {
  const rows = scalarMetrics(all);
  return (
    <table id={id} className="narrow" tabIndex={0}>
      <tbody>
        {rows.length ? (
          rows.map(([k, v]) => (
            <tr key={k}>
              <th>{k}</th>
              <td className="num">{formatNumber(v)}</td>
            </tr>
          ))
        ) : (
          <tr className="empty">
            <td colSpan={2}>{empty}</td>
          </tr>
        )}
      </tbody>
    </table>
  );
}

function ResidualTable({ residuals }: { residuals: Residuals | undefined }): ReactNode {
  if (!residuals?.quantiles) return null;
  const rows: Array<[string, unknown]> = [
    ["mean", residuals.mean],
    ["std. deviation", residuals.std],
    ...Object.entries(residuals.quantiles).map(([q, v]): [string, unknown] => [
      q === "p0" ? "lowest" : q === "p100" ? "highest" : `${q.slice(1)}th percentile`,
      v,
    ]),
  ];
  return (
    <table id="residual-summary" className="narrow" tabIndex={0}>
      <caption>Residuals (actual − predicted, test split)</caption>
      <tbody>
        {rows.map(([k, v]) => (
          <tr key={k}>
            <th scope="row">{k}</th>
            <td className="num">{formatNumber(v)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Head({ cells }: { cells: string[] }): ReactNode {
  return (
    <thead>
      <tr>
        {cells.map((c) => (
          <th key={c}>{c}</th>
        ))}
      </tr>
    </thead>
  );
}

/** Per-class figures, the confusion matrix, residuals, importance and the ROC/residual plots,
 * when the job reported them; nothing nested is ever shown as JSON text. */
export function DetailTables({ all }: { all: Record<string, unknown> }): ReactNode {
  // Multi-label jobs report the same figures per label.
  const perClass = (all.per_class ?? all.per_label ?? {}) as Record<string, ClassFigures>;
  const perStep = (all.per_step ?? []) as Array<Record<string, number>>;
  const importance = (all.feature_importance ?? []) as Importance[];
  const other = otherDetails(all);
  return (
    <div>
      <ConfusionTable matrix={all.confusion_matrix} labels={all.labels} />
      {Object.keys(perClass).length > 0 && (
        <table id="per-class" tabIndex={0}>
          <Head cells={["Class", "Precision", "Recall", "F1", "Rows"]} />
          <tbody>
            {Object.entries(perClass).map(([label, c]) => (
              <tr key={label}>
                <td>{label}</td>
                <td className="num">{formatNumber(c.precision)}</td>
                <td className="num">{formatNumber(c.recall)}</td>
                <td className="num">{formatNumber(c.f1)}</td>
                <td className="num">{formatNumber(c.support)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <ResultCharts all={all} />
      <ResidualTable residuals={all.residuals as Residuals | undefined} />
      {perStep.length > 0 && (
        <table id="per-step" tabIndex={0}>
          <Head cells={["Step ahead", "RMSE", "MAE", "R²", "Naive RMSE"]} />
          <tbody>
            {perStep.map((s, i) => (
              <tr key={i}>
                {[s.step, s.rmse, s.mae, s.r2, s.naive_rmse].map((v, j) => (
                  <td key={j} className="num">
                    {formatNumber(v)}
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {importance.length > 0 && (
        <table id="feature-importance" tabIndex={0}>
          <Head cells={["Feature", "Importance (score drop when shuffled)"]} />
          <tbody>
            {importance.map((i) => (
              <tr key={i.feature}>
                <td>{i.feature}</td>
                <td className="num">{`${formatNumber(i.importance)} ± ${formatNumber(i.std)}`}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {other.length > 0 && (
        <table id="other-metrics" className="narrow" tabIndex={0}>
          <tbody>
            {other.map(([k, v]) => (
              <tr key={k}>
                <th>{k}</th>
                <td className="num">{v}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
