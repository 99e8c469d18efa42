import { ApiError, api, type Instance, type ModelVersion, type Prediction, type SchemaColumn } from "../api";
import { errorSlot, formatNumber, h } from "../dom";

interface Field {
  column: SchemaColumn;
  input: HTMLInputElement | HTMLSelectElement;
}

// The web process takes request bodies up to 2.5 MB and base64 adds a third: larger files are
// shrunk in the browser (longest side 1024 px, JPEG on white, as the server flattens alpha).
const MAX_RAW_IMAGE_BYTES = 1_500_000;
const SHRINK_SIDE = 1024;

function fieldInput(col: SchemaColumn): HTMLInputElement | HTMLSelectElement {
  const common = { name: col.name, "data-column": col.name };
  if (col.type === "image") {
    const accept = (col.formats ?? ["PNG", "JPEG", "WEBP"]).map((f) => `image/${f.toLowerCase()}`).join(",");
    return h("input", { ...common, type: "file", accept, id: "predict-image" });
  }
  if (col.type === "numeric") return h("input", { ...common, type: "number", step: "any" });
  if (col.type === "history") {
    // A forecaster's input: the recent rows as JSON, oldest first.
    const row = Object.fromEntries((col.columns ?? []).map((c) => [c.name, 0]));
    return h("input", { ...common, type: "text", placeholder: JSON.stringify([row]), id: "predict-history" });
  }
  if (col.type === "boolean") {
    return h("select", common, h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
  }
  if (col.values?.length) {
    return h("select", common, col.values.map((v) => h("option", { value: String(v) }, String(v))));
  }
  return h("input", { ...common, type: "text" });
}

async function shrink(file: File): Promise<Blob> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(`${file.name} could not be read as an image; choose a PNG, JPEG or WebP file.`);
  }
  const scale = Math.min(1, SHRINK_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = h("canvas", { width: Math.max(1, Math.round(bitmap.width * scale)), height: Math.max(1, Math.round(bitmap.height * scale)) });
  const context = canvas.getContext("2d");
  if (!context) throw new Error("This browser cannot shrink images; choose a file under 1.5 MB.");
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => (blob ? resolve(blob) : reject(new Error("The image could not be shrunk."))), "image/jpeg", 0.92),
  );
}

/** The file's bytes in base64, as an image model's instance takes them. */
async function imageBase64(input: HTMLInputElement): Promise<string> {
  const file = input.files?.[0];
  if (!file) throw new Error("Choose an image file (PNG, JPEG or WebP).");
  const blob = file.size <= MAX_RAW_IMAGE_BYTES ? file : await shrink(file);
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** Turns a field into the JSON value the predictor expects; blanks are sent as missing (null). */
async function fieldValue({ column, input }: Field): Promise<unknown> {
  if (column.type === "image") return imageBase64(input as HTMLInputElement);
  const raw = input.value;
  if (column.type === "numeric") return raw.trim() === "" ? null : Number(raw);
  if (column.type === "history") {
    try {
      return JSON.parse(raw);
    } catch {
      throw new Error(`Give the last ${column.lookback ?? ""} rows as a JSON list of objects, oldest first.`);
    }
  }
  if (column.type === "boolean") return raw === "true";
  if (column.values?.length) return column.values.find((v) => String(v) === raw) ?? raw;
  return raw === "" ? null : raw;
}

function renderPrediction(p: Prediction | undefined): Node[] {
  if (typeof p === "number") {
    return [h("p", { "data-kind": "regression" }, "Predicted value: ", h("strong", { class: "value" }, formatNumber(p)))];
  }
  if (Array.isArray(p)) {
    return [
      h("p", { "data-kind": "forecast" }, "Forecast, next steps: "),
      h("ol", { class: "forecast" }, p.map((v) => h("li", null, h("strong", { class: "value" }, formatNumber(v))))),
    ];
  }
  if (p && typeof p === "object" && "labels" in p) {
    const probs = Object.entries(p.probabilities ?? {}).sort((a, b) => b[1] - a[1]);
    return [
      h("p", { "data-kind": "multilabel" }, "Predicted labels: ", h("strong", { class: "label" }, p.labels.length ? p.labels.join(", ") : "(none)")),
      h(
        "table",
        { class: "probabilities" },
        h("tbody", null, probs.map(([cls, prob]) =>
          h("tr", { "data-class": cls }, h("th", null, cls), h("td", { class: "num" }, formatNumber(prob)), h("td", null, h("meter", { min: 0, max: 1, value: prob }))),
        )),
      ),
    ];
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

function hint(column: SchemaColumn): string {
  if (column.type === "history") {
    const names = (column.columns ?? []).map((c) => c.name).join(", ");
    return `last ${column.lookback ?? "?"} rows as JSON (${names}), oldest first; forecasts ${column.horizon ?? 1} step(s)`;
  }
  if (column.type !== "image") return column.type;
  const size = column.width && column.height ? `, resized to ${column.width}×${column.height}` : "";
  return `image file: ${(column.formats ?? ["PNG", "JPEG", "WEBP"]).join(", ")}${size}`;
}

/** A thumbnail of the chosen image file, so the user sees what is sent. */
function preview(column: SchemaColumn, input: HTMLInputElement | HTMLSelectElement): HTMLElement | null {
  if (column.type !== "image") return null;
  const img = h("img", { id: "predict-preview", class: "preview", alt: "", hidden: true });
  input.addEventListener("change", () => {
    if (img.src) URL.revokeObjectURL(img.src);
    const file = (input as HTMLInputElement).files?.[0];
    img.hidden = !file;
    if (file) img.src = URL.createObjectURL(file);
    else img.removeAttribute("src");
  });
  return img;
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
        h("label", null, h("span", { class: "col-name" }, column.name), h("span", { class: "hint" }, hint(column)), input, preview(column, input)),
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
    submit.disabled = true;
    try {
      for (const f of fields) instance[f.column.name] = await fieldValue(f);
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
