import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import {
  Button,
  Input,
  Label,
  ListBox,
  ListBoxItem,
  Popover,
  Select,
  SelectValue,
  Text,
  TextField,
} from "react-aria-components";
import { ApiError, api, type Instance, type ModelVersion, type Prediction, type SchemaColumn } from "../api";
import { formatNumber } from "../dom";
import { ErrorMessage } from "../ui/common";

// The web process takes request bodies up to 2.5 MB and base64 adds a third: larger files are
// shrunk in the browser (longest side 1024 px, JPEG on white, as the server flattens alpha).
const MAX_RAW_IMAGE_BYTES = 1_500_000;
const SHRINK_SIDE = 1024;
const IMAGE_FORMATS = ["PNG", "JPEG", "WEBP"];

async function shrink(file: File): Promise<Blob> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch {
    throw new Error(`${file.name} could not be read as an image; choose a PNG, JPEG or WebP file.`);
  }
  const scale = Math.min(1, SHRINK_SIDE / Math.max(bitmap.width, bitmap.height));
  const canvas = document.createElement("canvas");
  canvas.width = Math.max(1, Math.round(bitmap.width * scale));
  canvas.height = Math.max(1, Math.round(bitmap.height * scale));
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
async function imageBase64(file: File | null): Promise<string> {
  if (!file || !file.name) throw new Error("Choose an image file (PNG, JPEG or WebP).");
  const blob = file.size <= MAX_RAW_IMAGE_BYTES ? file : await shrink(file);
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

/** A choice field's options: true/false, or the values the column was trained on. */
function choices(column: SchemaColumn): string[] | null {
  if (column.type === "boolean") return ["true", "false"];
  if (column.values?.length) return column.values.map((v) => String(v));
  return null;
}

/** Turns a field's entry into the JSON value the predictor expects; blanks are sent as missing (null). */
async function fieldValue(column: SchemaColumn, entry: FormDataEntryValue | null, chosen: string | undefined): Promise<unknown> {
  if (column.type === "image") return imageBase64(entry instanceof File ? entry : null);
  if (choices(column)) {
    if (column.type === "boolean") return chosen === "true";
    return column.values?.find((v) => String(v) === chosen) ?? chosen;
  }
  const raw = typeof entry === "string" ? entry : "";
  if (column.type === "numeric") return raw.trim() === "" ? null : Number(raw);
  if (column.type === "history") {
    try {
      return JSON.parse(raw);
    } catch {
      throw new Error(`Give the last ${column.lookback ?? ""} rows as a JSON list of objects, oldest first.`);
    }
  }
  return raw === "" ? null : raw;
}

function hint(column: SchemaColumn): string {
  if (column.type === "history") {
    const names = (column.columns ?? []).map((c) => c.name).join(", ");
    return `last ${column.lookback ?? "?"} rows as JSON (${names}), oldest first; forecasts ${column.horizon ?? 1} step(s)`;
  }
  if (column.type !== "image") return column.type;
  const size = column.width && column.height ? `, resized to ${column.width}×${column.height}` : "";
  return `image file: ${(column.formats ?? IMAGE_FORMATS).join(", ")}${size}`;
}

function Probabilities({ probabilities }: { probabilities: Record<string, number> | undefined }): ReactNode {
  const probs = Object.entries(probabilities ?? {}).sort((a, b) => b[1] - a[1]);
  return (
    <table className="probabilities">
      <tbody>
        {probs.map(([cls, prob]) => (
          <tr key={cls} data-class={cls}>
            <th>{cls}</th>
            <td className="num">{formatNumber(prob)}</td>
            <td>
              <meter min={0} max={1} value={prob} aria-label={`${cls} probability`} />
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function PredictionView({ p }: { p: Prediction | undefined }): ReactNode {
  if (typeof p === "number") {
    return (
      <p data-kind="regression">
        Predicted value: <strong className="value">{formatNumber(p)}</strong>
      </p>
    );
  }
  if (Array.isArray(p)) {
    return (
      <>
        <p data-kind="forecast">Forecast, next steps: </p>
        <ol className="forecast">
          {p.map((v, i) => (
            <li key={i}>
              <strong className="value">{formatNumber(v)}</strong>
            </li>
          ))}
        </ol>
      </>
    );
  }
  if (p && typeof p === "object" && "labels" in p) {
    return (
      <>
        <p data-kind="multilabel">
          Predicted labels: <strong className="label">{p.labels.length ? p.labels.join(", ") : "(none)"}</strong>
        </p>
        <Probabilities probabilities={p.probabilities} />
      </>
    );
  }
  if (p && typeof p === "object") {
    return (
      <>
        <p data-kind="classification">
          Predicted label: <strong className="label">{String(p.label)}</strong>
        </p>
        <Probabilities probabilities={p.probabilities} />
      </>
    );
  }
  return <p>{`Unexpected prediction: ${JSON.stringify(p)}`}</p>;
}

function FieldLabel({ column }: { column: SchemaColumn }): ReactNode {
  return (
    <>
      <Label>
        <span className="col-name">{column.name}</span>
      </Label>
      <Text slot="description" className="hint">
        {hint(column)}
      </Text>
    </>
  );
}

/** An image model's file input, with a thumbnail of the chosen file so the user sees what is sent. */
function ImageField({ column, invalid }: { column: SchemaColumn; invalid: boolean }): ReactNode {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => () => {
    if (url) URL.revokeObjectURL(url);
  }, [url]);
  const accept = (column.formats ?? IMAGE_FORMATS).map((f) => `image/${f.toLowerCase()}`).join(",");
  return (
    <div className="react-aria-TextField">
      <label className="react-aria-Label" htmlFor="predict-image">
        <span className="col-name">{column.name}</span>
      </label>
      <span className="hint" id="predict-image-hint">
        {hint(column)}
      </span>
      <input
        type="file"
        id="predict-image"
        name={column.name}
        data-column={column.name}
        accept={accept}
        aria-describedby="predict-image-hint"
        aria-invalid={invalid || undefined}
        onChange={(ev) => {
          const file = ev.currentTarget.files?.[0];
          setUrl(file ? URL.createObjectURL(file) : null);
        }}
      />
      {url && <img id="predict-preview" className="preview" alt="" src={url} />}
    </div>
  );
}

function ChoiceField({
  column,
  options,
  invalid,
  onChange,
}: {
  column: SchemaColumn;
  options: string[];
  invalid: boolean;
  onChange: (value: string) => void;
}): ReactNode {
  const [value, setValue] = useState(options[0]!);
  return (
    <Select
      selectedKey={value}
      isInvalid={invalid}
      validationBehavior="aria"
      onSelectionChange={(key) => {
        setValue(String(key));
        onChange(String(key));
      }}
    >
      <FieldLabel column={column} />
      <Button className="select-button" data-column={column.name}>
        <SelectValue />
        <span aria-hidden="true">▾</span>
      </Button>
      <Popover>
        <ListBox>
          {options.map((o) => (
            <ListBoxItem key={o} id={o}>
              {o}
            </ListBoxItem>
          ))}
        </ListBox>
      </Popover>
    </Select>
  );
}

function Field({
  column,
  invalid,
  onChoice,
}: {
  column: SchemaColumn;
  invalid: boolean;
  onChoice: (value: string) => void;
}): ReactNode {
  if (column.type === "image") return <ImageField column={column} invalid={invalid} />;
  const options = choices(column);
  if (options) return <ChoiceField column={column} options={options} invalid={invalid} onChange={onChoice} />;
  const history = column.type === "history";
  // A forecaster's input: the recent rows as JSON, oldest first.
  const example = history ? JSON.stringify([Object.fromEntries((column.columns ?? []).map((c) => [c.name, 0]))]) : undefined;
  return (
    // "aria": a server's verdict marks the field without blocking the next try; the browser
    // still refuses what a number input cannot hold.
    <TextField name={column.name} type={column.type === "numeric" ? "number" : "text"} isInvalid={invalid} validationBehavior="aria">
      <FieldLabel column={column} />
      <Input
        data-column={column.name}
        id={history ? "predict-history" : undefined}
        placeholder={example}
        step={column.type === "numeric" ? "any" : undefined}
      />
    </TextField>
  );
}

/** The try-it form, one field per input of the version's signature, and the answer beneath.
 * Predict is enabled only while the deployment can serve (`ready`). */
export function PredictForm({
  deploymentName,
  version,
  ready,
  signal,
}: {
  deploymentName: string;
  version: ModelVersion;
  ready: boolean;
  signal?: AbortSignal;
}): ReactNode {
  const columns = version.input_schema ?? [];
  const formRef = useRef<HTMLFormElement>(null);
  const chosen = useRef(new Map<string, string>());
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [invalidField, setInvalidField] = useState<string | null>(null);
  const [answer, setAnswer] = useState<{ p: Prediction | undefined } | null>(null);

  async function submit(ev: FormEvent<HTMLFormElement>): Promise<void> {
    ev.preventDefault();
    if (!ready || busy || !formRef.current) return;
    setError(undefined);
    setAnswer(null);
    setInvalidField(null);
    setBusy(true);
    const data = new FormData(formRef.current);
    try {
      const instance: Instance = {};
      for (const column of columns) {
        const first = choices(column)?.[0];
        instance[column.name] = await fieldValue(column, data.get(column.name), chosen.current.get(column.name) ?? first);
      }
      const result = await api.predict(deploymentName, [instance], signal);
      setAnswer({ p: result.predictions?.[0] });
    } catch (err) {
      setError(err);
      if (err instanceof ApiError && err.field) setInvalidField(err.field);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form id="predict-form" className="card" ref={formRef} onSubmit={(ev) => void submit(ev)}>
      <div className="fields">
        {columns.map((column) => (
          <Field
            key={column.name}
            column={column}
            invalid={invalidField === column.name}
            onChoice={(value) => chosen.current.set(column.name, value)}
          />
        ))}
      </div>
      <div className="actions">
        <Button type="submit" id="predict-submit" isDisabled={!ready || busy}>
          Predict
        </Button>
      </div>
      <ErrorMessage error={error} />
      <div id="prediction-result" aria-live="polite">
        {answer && <PredictionView p={answer.p} />}
      </div>
    </form>
  );
}
