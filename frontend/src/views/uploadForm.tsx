import { useRef, useState, type FormEvent, type ReactNode } from "react";
import { Button, DropZone, Input, Label, Text, TextField, type DropZoneProps } from "react-aria-components";
import { ApiError, api, type Dataset, type DatasetOptions } from "../api";
import { formatBytes } from "../dom";
import { CheckField } from "../ui/CheckField";
import { Choice } from "../ui/Choice";
import { ErrorMessage } from "../ui/common";
import { UploadCancelled, uploadFile, type Staged } from "../upload";
import "./datasets.css";

type DropEvent = Parameters<NonNullable<DropZoneProps["onDrop"]>>[0];

const ACCEPT = ".csv,.tsv,.gz,.parquet,.jsonl,.xlsx,.zip";

const KINDS: Array<[string, string]> = [
  ["auto", "auto"],
  ["tabular", "tabular"],
  ["text", "text"],
  ["timeseries", "timeseries"],
];
const ENCODINGS: Array<[string, string]> = [
  ["detect", "detect"],
  ["utf-8", "utf-8"],
  ["utf-8-sig", "utf-8-sig"],
  ["latin-1", "latin-1"],
  ["cp1252", "cp1252"],
];
const DELIMITERS: Array<[string, string]> = [
  ["detect", "detect"],
  [",", ", (comma)"],
  [";", "; (semicolon)"],
  ["tab", "tab"],
  ["|", "| (pipe)"],
];

/** "45 s", "3 min 20 s", "2 h 5 min": a time left, to the precision a person wants. */
export function formatDuration(seconds: number): string {
  const s = Math.max(1, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export const datasetHref = (id: Dataset["id"]) => `#/datasets/${encodeURIComponent(String(id))}`;

interface Options {
  name: string;
  kind: string;
  encoding: string;
  delimiter: string;
  header: boolean;
  textColumn: string;
  timestampColumn: string;
}

const DEFAULTS: Options = {
  name: "",
  kind: "auto",
  encoding: "detect",
  delimiter: "detect",
  header: true,
  textColumn: "",
  timestampColumn: "",
};

export function datasetOptions(o: Options): DatasetOptions {
  const opts: DatasetOptions = { header: o.header };
  const name = o.name.trim();
  if (name) opts.name = name;
  if (o.kind !== "auto") opts.kind = o.kind as DatasetOptions["kind"];
  if (o.encoding !== "detect") opts.encoding = o.encoding as DatasetOptions["encoding"];
  if (o.delimiter !== "detect") {
    opts.delimiter = (o.delimiter === "tab" ? "\t" : o.delimiter) as DatasetOptions["delimiter"];
  }
  if (o.textColumn.trim()) opts.text_column = o.textColumn.trim();
  if (o.timestampColumn.trim()) opts.timestamp_column = o.timestampColumn.trim();
  return opts;
}

interface Progress {
  sent: number;
  total: number;
}

/**
 * The upload form: a file chosen or dropped goes up through tus (resumable, cancellable), then
 * the dataset is made from it with the chosen options. `onUploaded` hears about the new dataset;
 * `signal` is the page's (leaving stops the upload, which stays on the server to resume).
 */
export function UploadForm({
  signal,
  onUploaded,
}: {
  signal: AbortSignal;
  onUploaded: (ds: Dataset) => void;
}): ReactNode {
  const fileInput = useRef<HTMLInputElement>(null);
  const [file, setFile] = useState<File | null>(null);
  const [options, setOptions] = useState<Options>(DEFAULTS);
  const [error, setError] = useState<unknown>(undefined);
  const [notice, setNotice] = useState<ReactNode>(null);
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [phase, setPhase] = useState("");
  const [cancel, setCancel] = useState<{ abort: () => void; pressed: boolean } | null>(null);
  // Where this attempt started (bytes already on the server when resuming, and when), for
  // the speed and the time left.
  const start = useRef<{ sent: number; at: number } | null>(null);
  // The last upload, kept after a failure so a retry resumes it and other options reuse it.
  const staged = useRef<Staged | null>(null);

  const set = <K extends keyof Options>(key: K) => (value: Options[K]) => setOptions((o) => ({ ...o, [key]: value }));

  function showProgress(sent: number, total: number): void {
    setProgress({ sent, total });
    const now = performance.now();
    if (start.current === null || sent < start.current.sent) start.current = { sent, at: now };
    const seconds = (now - start.current.at) / 1000;
    const rate = seconds > 0.2 ? (sent - start.current.sent) / seconds : 0;
    let text = `${formatBytes(sent)} of ${formatBytes(total)}`;
    if (rate > 0 && sent < total) {
      text += ` · ${formatBytes(Math.round(rate))}/s · ${formatDuration((total - sent) / rate)} left`;
    }
    setPhase(text);
  }

  async function onDrop(ev: DropEvent): Promise<void> {
    for (const item of ev.items) {
      if (item.kind === "file") {
        const dropped = await item.getFile();
        if (fileInput.current) fileInput.current.value = ""; // the dropped file replaces a chosen one
        setFile(dropped);
        setError(undefined);
        return;
      }
    }
  }

  async function submit(ev: FormEvent<HTMLFormElement>): Promise<void> {
    ev.preventDefault();
    setNotice(null);
    if (!file) {
      setError("Choose a file first.");
      return;
    }
    setError(undefined);
    setBusy(true);
    start.current = null;
    const controller = new AbortController();
    setCancel({
      pressed: false,
      abort: () => {
        setCancel((c) => c && { ...c, pressed: true });
        setPhase("Cancelling…");
        controller.abort();
      },
    });
    try {
      const id = await uploadFile(file, {
        staged: staged.current,
        onStaged: (s) => {
          staged.current = s;
        },
        onProgress: (p) => showProgress(p.sent, p.total),
        signal,
        cancel: controller.signal,
      });
      setCancel(null);
      showProgress(file.size, file.size);
      setPhase("Reading the file…");
      const ds = await api.createDataset(id, datasetOptions(options), signal);
      staged.current = null;
      setPhase("");
      setFile(null);
      setOptions(DEFAULTS);
      if (fileInput.current) fileInput.current.value = "";
      if (ds.existing) {
        setNotice(
          <span id="upload-existing">
            You already uploaded this file: <a href={datasetHref(ds.id)}>{`${ds.name} (v${ds.version ?? 1})`}</a>
          </span>,
        );
      } else {
        setNotice(`Uploaded “${ds.name}”.`);
      }
      onUploaded(ds);
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof UploadCancelled) {
        staged.current = null;
        setPhase("Cancelled; nothing of the file is kept on the server.");
        return;
      }
      if (err instanceof ApiError && err.status === 400 && staged.current) {
        setPhase("The file is on the server: change the options and press Upload again.");
      } else if (staged.current) {
        setPhase("Stopped; press Upload again to resume.");
      }
      setError(err);
    } finally {
      if (!signal.aborted) {
        setCancel(null);
        setBusy(false);
      }
    }
  }

  const total = progress?.total ?? 0;
  const sent = progress?.sent ?? 0;
  return (
    <form id="upload-form" className="card" onSubmit={(ev) => void submit(ev)}>
      <h2>Upload a dataset</h2>
      <DropZone
        className="react-aria-DropZone upload-drop"
        aria-label="Drop a file to upload"
        onDrop={(ev) => void onDrop(ev)}
      >
        <label>
          File
          <input
            ref={fileInput}
            type="file"
            id="upload-file"
            name="file"
            accept={ACCEPT}
            onChange={(ev) => {
              setFile(ev.currentTarget.files?.[0] ?? null);
              setError(undefined);
            }}
          />
          <span className="hint">CSV, TSV, .gz, Parquet, JSON Lines, Excel, or a .zip of images</span>
        </label>
        <p className="hint drop-hint" id="upload-chosen" aria-live="polite">
          {file ? `Chosen: ${file.name} (${formatBytes(file.size)})` : "or drop the file here"}
        </p>
      </DropZone>
      <TextField name="name" value={options.name} onChange={set("name")}>
        <Label>Name (optional)</Label>
        <Input id="upload-name" placeholder="defaults to the file name" />
      </TextField>
      <details id="upload-advanced">
        <summary>Advanced options</summary>
        <div className="fields">
          <Choice
            id="upload-kind"
            name="kind"
            label="Kind"
            options={KINDS}
            value={options.kind}
            onChange={set("kind")}
            hint={<Text slot="description" className="hint">a .zip of images is always an image dataset</Text>}
          />
          <Choice
            id="upload-encoding"
            name="encoding"
            label="Encoding"
            options={ENCODINGS}
            value={options.encoding}
            onChange={set("encoding")}
          />
          <Choice
            id="upload-delimiter"
            name="delimiter"
            label="Delimiter"
            options={DELIMITERS}
            value={options.delimiter}
            onChange={set("delimiter")}
          />
          <TextField name="text_column" value={options.textColumn} onChange={set("textColumn")}>
            <Label>Text column</Label>
            <Input id="upload-text-column" placeholder="text datasets" />
          </TextField>
          <TextField name="timestamp_column" value={options.timestampColumn} onChange={set("timestampColumn")}>
            <Label>Timestamp column</Label>
            <Input id="upload-timestamp-column" placeholder="time series" />
          </TextField>
        </div>
        <CheckField name="header" data-testid="upload-header" isSelected={options.header} onChange={set("header")}>
          The first row holds the column names
        </CheckField>
      </details>
      <div className="actions">
        <Button type="submit" id="upload-submit" isDisabled={busy}>
          Upload
        </Button>
      </div>
      <div className="progress-row" hidden={progress === null}>
        <progress id="upload-progress" max={Math.max(total, 1)} value={total === 0 ? 1 : sent} aria-label="Upload progress" />
        <span id="upload-percent" className="percent">
          {`${total === 0 ? (progress ? 100 : 0) : Math.floor((sent / total) * 100)}%`}
        </span>
        <span id="upload-phase" className="hint">
          {phase}
        </span>
        {cancel && (
          <Button type="button" id="upload-cancel" isDisabled={cancel.pressed} onPress={() => cancel.abort()}>
            Cancel
          </Button>
        )}
      </div>
      <ErrorMessage error={error} />
      <p className="notice" aria-live="polite">
        {notice}
      </p>
    </form>
  );
}
