import { useEffect, useRef, useState, type FormEvent, type ReactNode } from "react";
import { Button, Input, Label, TextArea, TextField } from "react-aria-components";
import { api, type AuditEvent, type ModelVersion, type RegisteredModel } from "../api";
import { formatBytes, formatDate, formatNumber } from "../dom";
import { navigate } from "../router";
import { Choice } from "../ui/Choice";
import { DataTable, ErrorMessage, Facts, LoadFailure, MessageRow } from "../ui/common";
import { reactView, type PageProps } from "../ui/page";
import { useLoad } from "../ui/useLoad";
import { DeployButton } from "./deployAsk";
import { Markdown } from "./markdown";
import { DetailTables, ScalarTable } from "./metrics";
import "./registry.css";

const CAN_EDIT = new Set(["owner", "editor", "admin"]);

function Archived(): ReactNode {
  return (
    <span className="status" data-status="CANCELLED">
      archived
    </span>
  );
}

function Signature({ v }: { v: ModelVersion }): ReactNode {
  const inputs = v.input_signature?.inputs ?? v.input_schema ?? [];
  const output = v.output_signature;
  const classes = output?.classes ?? v.classes;
  const seen = (i: (typeof inputs)[number]): string => {
    const rec = i as unknown as Record<string, unknown>;
    if (Array.isArray(rec.values)) return (rec.values as unknown[]).map(String).join(", ");
    if (Array.isArray(rec.range)) return `${formatNumber(rec.range[0])} … ${formatNumber(rec.range[1])}`;
    if (rec.type === "image") return `${String(rec.width)}×${String(rec.height)}, ${String(rec.channels)} channel(s)`;
    return "";
  };
  return (
    <div>
      <DataTable id="version-inputs" headers={["Input", "Type", "Seen in training"]}>
        {inputs.map((i) => (
          <tr key={i.name}>
            <td>{i.name}</td>
            <td>{i.type}</td>
            <td className="compact">{seen(i)}</td>
          </tr>
        ))}
      </DataTable>
      <p id="version-output">
        Output: <code>{output?.target ?? v.target}</code>
        {classes ? ` — classes in order: ${classes.map(String).join(", ")}` : " — a number"}
      </p>
      {v.input_signature?.example && (
        <details>
          <summary>Example instance</summary>
          <pre id="version-example">{JSON.stringify({ instances: [v.input_signature.example] }, null, 2)}</pre>
        </details>
      )}
    </div>
  );
}

function AuditTable({ events }: { events: AuditEvent[] }): ReactNode {
  return (
    <DataTable id="version-audit" headers={["When", "Who", "What", "Subject", "From", "To"]}>
      {events.length ? (
        events.map((e, i) => (
          <tr key={i} data-testid="audit-row">
            <td>{formatDate(e.created_at)}</td>
            <td>{e.actor}</td>
            <td>{e.action.replace(/_/g, " ")}</td>
            <td>{e.subject}</td>
            <td>{e.from_value || "—"}</td>
            <td>{e.to_value || "—"}</td>
          </tr>
        ))
      ) : (
        <MessageRow colSpan={6} text="Nothing has changed yet." />
      )}
    </DataTable>
  );
}

/** The registered model's description and tags: shown to all, edited by editors. */
function About({
  model,
  canEdit,
  onSave,
}: {
  model: RegisteredModel;
  canEdit: boolean;
  onSave: (description: string, tags: string[]) => Promise<boolean>;
}): ReactNode {
  const [description, setDescription] = useState(model.description ?? "");
  const [tags, setTags] = useState((model.tags ?? []).join(", "));
  const details = useRef<HTMLDetailsElement>(null);

  async function save(ev: FormEvent<HTMLFormElement>): Promise<void> {
    ev.preventDefault();
    const saved = await onSave(
      description,
      tags
        .split(",")
        .map((t) => t.trim())
        .filter(Boolean),
    );
    if (saved && details.current) details.current.open = false;
  }

  return (
    <div id="model-about" className="registry-about">
      {model.description && <p id="model-description">{model.description}</p>}
      {model.tags?.length ? (
        <p id="model-tags">
          {model.tags.map((t) => (
            <span key={t}>
              <span className="status alias">{t}</span>{" "}
            </span>
          ))}
        </p>
      ) : null}
      {canEdit && (
        <details id="model-about-edit" ref={details}>
          <summary>Edit description and tags</summary>
          <form onSubmit={(ev) => void save(ev)}>
            <TextField value={description} onChange={setDescription}>
              <Label>Description</Label>
              <TextArea id="model-description-input" rows={2} />
            </TextField>
            <TextField value={tags} onChange={setTags}>
              <Label>Tags (comma-separated)</Label>
              <Input id="model-tags-input" />
            </TextField>
            <Button type="submit" id="model-about-save">
              Save
            </Button>
          </form>
        </details>
      )}
    </div>
  );
}

function VersionDetail({
  first,
  firstModel,
  signal,
}: {
  first: ModelVersion;
  firstModel: RegisteredModel;
  signal: AbortSignal;
}): ReactNode {
  const [v, setV] = useState(first);
  const [model, setModel] = useState(firstModel);
  const [actionError, setActionError] = useState<unknown>(undefined);
  const [alias, setAlias] = useState("");
  const [cardText, setCardText] = useState("");
  const cardEdit = useRef<HTMLDetailsElement>(null);
  const audit = useLoad((s) => api.modelAudit(model.id, s), [model.id]);
  const card = useLoad((s) => api.modelCard(v.id, s), [v.id]);
  useEffect(() => {
    if (card.data) setCardText(card.data.markdown);
  }, [card.data]);

  const canEdit = CAN_EDIT.has(model.role ?? "");
  const others = [...(model.versions ?? [])].sort((a, b) => b.version - a.version).filter((s) => s.id !== v.id);
  const [compareWith, setCompareWith] = useState<string | null>(others[0] ? String(others[0].id) : null);
  const all = (v.metrics ?? {}) as Record<string, unknown>;

  /** Runs an action; its failure is shown, and the history reloads after a success. */
  async function act(action: () => Promise<void>): Promise<boolean> {
    setActionError(undefined);
    try {
      await action();
      audit.reload();
      return true;
    } catch (err) {
      setActionError(err);
      return false;
    }
  }

  function moveAlias(ev: FormEvent<HTMLFormElement>): void {
    ev.preventDefault();
    const name = alias.trim();
    if (!name) {
      setActionError("Name the alias to point here.");
      return;
    }
    void act(async () => {
      await api.moveAlias(model.id, name, v.id, signal);
      setV(await api.modelVersion(v.id, signal));
      setAlias("");
    });
  }

  return (
    <>
      <h1>
        <span id="version-title">{`${v.model_name} v${v.version}`}</span>
        <span id="version-aliases">
          {(v.aliases ?? []).map((n) => (
            <span key={n} className="status alias" data-alias={n}>
              {n}
            </span>
          ))}
        </span>
        <span id="version-archived">{v.archived_at && <Archived />}</span>
      </h1>
      <About
        model={model}
        canEdit={canEdit}
        onSave={(description, tags) =>
          act(async () => setModel(await api.updateModel(model.id, { description, tags }, signal)))
        }
      />
      <Facts
        id="version-facts"
        pairs={[
          ["Task", `${v.task_type}, predicting “${v.target}”`],
          ["Created", `${formatDate(v.created_at)}${v.created_by ? ` by ${v.created_by}` : ""}`],
          [
            "Job",
            v.job !== null && v.job !== undefined ? (
              <a href={`#/jobs/${encodeURIComponent(String(v.job))}`}>{`#${String(v.job)}`}</a>
            ) : (
              "—"
            ),
          ],
          [
            "Dataset",
            v.dataset !== null && v.dataset !== undefined ? (
              <a href={`#/datasets/${encodeURIComponent(String(v.dataset))}`}>{`#${String(v.dataset)}`}</a>
            ) : (
              "—"
            ),
          ],
          [
            "Artifact",
            <span>
              <a id="version-download" href={api.artifactUrl(v.id)}>
                Download .keras
              </a>
              {" · "}
              <a
                id="version-onnx"
                href={api.onnxUrl(v.id)}
                title="Built on first request and checked against the .keras model; may take a few seconds"
              >
                Export ONNX
              </a>
              {` ${formatBytes(v.artifact_size ?? null)} · sha256 `}
              <code>{(v.artifact_sha256 ?? "").slice(0, 16)}</code>…
            </span>,
          ],
          ["Your role", model.role ?? "—"],
        ]}
      />
      <div className="actions registry-actions">
        <DeployButton versionId={v.id} label="Deploy" id="version-deploy" signal={signal} onError={setActionError} />
        {canEdit && (
          <Button
            id="archive-button"
            className="secondary"
            onPress={() => void act(async () => setV(await api.archiveVersion(v.id, !v.archived_at, signal)))}
          >
            {v.archived_at ? "Restore" : "Archive"}
          </Button>
        )}
        <Choice
          id="compare-with"
          ariaLabel="Compare with"
          placeholder="No other version"
          value={compareWith}
          options={others.map((s): [string, string] => [String(s.id), `v${s.version}`])}
          onChange={setCompareWith}
          isDisabled={others.length === 0}
        />
        <Button
          id="compare-button"
          className="secondary"
          isDisabled={compareWith === null}
          onPress={() => {
            if (compareWith)
              navigate(`#/compare/${encodeURIComponent(String(v.id))}/${encodeURIComponent(compareWith)}`);
          }}
        >
          Compare
        </Button>
      </div>
      {canEdit && (
        <form id="alias-form" className="inline" onSubmit={moveAlias}>
          <TextField aria-label="Alias" value={alias} onChange={setAlias}>
            <Input id="alias-name" placeholder="production" list="alias-names" />
          </TextField>
          <datalist id="alias-names">
            {[...new Set(["production", "staging", "champion", ...(model.aliases ?? []).map((a) => a.name)])].map(
              (n) => (
                <option key={n} value={n} />
              ),
            )}
          </datalist>
          <Button type="submit" id="alias-submit">
            Point alias here
          </Button>
        </form>
      )}
      <ErrorMessage error={actionError ?? audit.error ?? card.error} />
      <h2>Test metrics</h2>
      <div>
        <ScalarTable all={all} id="version-metrics" empty="No test metrics recorded." />
        <DetailTables all={all} />
      </div>
      <h2>Signature</h2>
      <Signature v={v} />
      <h2>Hyperparameters</h2>
      <table id="version-hyperparameters" className="narrow" tabIndex={0}>
        <tbody>
          {Object.entries(v.hyperparameters ?? {}).map(([k, value]) => (
            <tr key={k}>
              <th>{k}</th>
              <td className="num">{formatNumber(value)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <h2>
        Model card{" "}
        <span id="card-state" className="hint">
          {card.data ? (card.data.edited ? "edited" : "generated") : ""}
        </span>
      </h2>
      <div id="model-card">{card.data && <Markdown text={card.data.markdown} />}</div>
      {canEdit && (
        <details id="card-edit" ref={cardEdit}>
          <summary>Edit card</summary>
          <TextField aria-label="Model card (markdown)" value={cardText} onChange={setCardText}>
            <TextArea id="card-editor" rows={16} />
          </TextField>
          <div className="actions">
            <Button
              id="card-save"
              onPress={() =>
                void act(async () => {
                  await api.saveModelCard(v.id, cardText, signal);
                  card.reload();
                  if (cardEdit.current) cardEdit.current.open = false;
                })
              }
            >
              Save card
            </Button>
          </div>
        </details>
      )}
      <h2>History</h2>
      <div>{audit.data ? <AuditTable events={audit.data} /> : <p className="muted">Loading…</p>}</div>
    </>
  );
}

/** A model version: its record, metrics and plots, signature, card, aliases and history. */
export function VersionPage({ ctx }: PageProps): ReactNode {
  const id = ctx.params.id!;
  const loaded = useLoad(
    async (signal) => {
      const v = await api.modelVersion(id, signal);
      return { v, model: await api.model(v.model, signal) };
    },
    [id],
  );
  return (
    <>
      <p className="crumbs">
        <a href="#/models">← Models</a>
      </p>
      {loaded.state === "failed" && <LoadFailure error={loaded.error} />}
      {loaded.data && (
        <VersionDetail key={id} first={loaded.data.v} firstModel={loaded.data.model} signal={ctx.signal} />
      )}
    </>
  );
}

export const versionView = reactView(VersionPage);
