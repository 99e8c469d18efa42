import { ApiError, api, type Instance, type ModelVersion, type Prediction, type SchemaColumn } from "../api";
import { errorSlot, formatNumber, h } from "../dom";

interface Field {
  column: SchemaColumn;
  input: HTMLInputElement | HTMLSelectElement;
}

function fieldInput(col: SchemaColumn): HTMLInputElement | HTMLSelectElement {
  const common = { name: col.name, "data-column": col.name };
  if (col.type === "numeric") return h("input", { ...common, type: "number", step: "any" });
  if (col.type === "boolean") {
    return h("select", common, h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
  }
  if (col.values?.length) {
    return h("select", common, col.values.map((v) => h("option", { value: String(v) }, String(v))));
  }
  return h("input", { ...common, type: "text" });
}

/** Turns a field into the JSON value the predictor expects; blanks are sent as missing (null). */
function fieldValue({ column, input }: Field): unknown {
  const raw = input.value;
  if (column.type === "numeric") return raw.trim() === "" ? null : Number(raw);
  if (column.type === "boolean") return raw === "true";
  if (column.values?.length) return column.values.find((v) => String(v) === raw) ?? raw;
  return raw === "" ? null : raw;
}

function renderPrediction(p: Prediction | undefined): Node[] {
  if (typeof p === "number") {
    return [h("p", { "data-kind": "regression" }, "Predicted value: ", h("strong", { class: "value" }, formatNumber(p)))];
  }
  if (p && typeof p === "object") {
    const probs = Object.entries(p.probabilities ?? {}).sort((a, b) => b[1] - a[1]);
    return [
      h("p", { "data-kind": "classification" }, "Predicted label: ", h("strong", { class: "label" }, String(p.label))),
      h(
        "table",
        { class: "probabilities" },
        h("tbody", null, probs.map(([cls, prob]) =>
          h("tr", { "data-class": cls },
            h("th", null, cls),
            h("td", { class: "num" }, formatNumber(prob)),
            h("td", null, h("meter", { min: 0, max: 1, value: prob })),
          ),
        )),
      ),
    ];
  }
  return [h("p", null, `Unexpected prediction: ${JSON.stringify(p)}`)];
}

export interface PredictForm {
  form: HTMLFormElement;
  setReady(ready: boolean): void;
}

export function predictForm(deploymentName: string, version: ModelVersion, signal: AbortSignal): PredictForm {
  const errors = errorSlot();
  const result = h("div", { id: "prediction-result", "aria-live": "polite" });
  const fields: Field[] = (version.input_schema ?? []).map((column) => ({ column, input: fieldInput(column) }));
  const submit = h("button", { type: "submit", id: "predict-submit", disabled: true }, "Predict");
  let ready = false;

  const form = h(
    "form",
    { id: "predict-form", class: "card" },
    h("div", { class: "fields" },
      fields.map(({ column, input }) =>
        h("label", null, h("span", { class: "col-name" }, column.name), h("span", { class: "hint" }, column.type), input),
      ),
    ),
    h("div", { class: "actions" }, submit),
    errors.el,
    result,
  );

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!ready) return;
    errors.clear();
    result.replaceChildren();
    for (const f of fields) f.input.removeAttribute("aria-invalid");
    const instance: Instance = {};
    for (const f of fields) instance[f.column.name] = fieldValue(f);
    submit.disabled = true;
    try {
      const answer = await api.predict(deploymentName, [instance], signal);
      result.replaceChildren(...renderPrediction(answer.predictions?.[0]));
    } catch (err) {
      errors.show(err);
      if (err instanceof ApiError && err.field) {
        fields.find((f) => f.column.name === err.field)?.input.setAttribute("aria-invalid", "true");
      }
    } finally {
      submit.disabled = !ready;
    }
  });

  return {
    form,
    setReady(value) {
      ready = value;
      submit.disabled = !value;
    },
  };
}
