import { ApiError, api, type Deployment, type ModelVersion } from "../api";
import { errorSlot, facts, formatDate, formatPairs, h, statusBadge } from "../dom";
import { scalarMetrics } from "./metricsData";
import { followDeployment } from "../jobSocket";
import { navigate, type ViewContext } from "../router";
import { keysPanel, metricsPanel } from "./deploymentPanels";
import { predictForm, type PredictForm } from "./predict";

// Only while the socket is down (refused, dropped, or never opened): it pushes every change.
const POLL_MS = 1000;

export async function deploymentView(root: HTMLElement, { params, signal }: ViewContext): Promise<void> {
  const name = params.name!;
  // Asked first: an unknown name is the router's not-found page, not a PENDING badge.
  const [first, me] = await Promise.all([api.deployment(name, signal), api.me(signal)]);
  const errors = errorSlot();
  const statusEl = statusBadge(first.status, { id: "deployment-status" });
  const endpoint = h("code", { id: "deployment-endpoint" }, "—");
  const deploymentError = h("div");
  const info = h("div");
  const versionBox = h("div", null, h("p", { class: "muted" }, "Loading model version…"));

  const undeployButton = h("button", { type: "button", id: "undeploy-button", class: "secondary" }, "Undeploy");
  const deleteButton = h("button", { type: "button", id: "delete-deployment", class: "secondary" }, "Delete");
  undeployButton.addEventListener("click", async () => {
    errors.clear();
    try {
      render(await api.undeploy(name, signal));
    } catch (err) {
      errors.show(err);
    }
  });
  deleteButton.addEventListener("click", async () => {
    if (!confirm(`Delete the deployment “${name}”? Its endpoint stops answering.`)) return;
    errors.clear();
    try {
      await api.deleteDeployment(name, signal);
      navigate("#/deployments");
    } catch (err) {
      errors.show(err);
    }
  });

  root.append(
    h("p", { class: "crumbs" }, h("a", { href: "#/deployments" }, "← Deployments")),
    h("h1", null, name, " ", statusEl),
    h("div", { class: "actions" }, undeployButton, deleteButton),
    errors.el,
    deploymentError,
    // Shown as text, never as a link: the URL comes from the server.
    h("p", null, "Endpoint: ", endpoint, h("span", { class: "hint" }, " (call it with an Authorization: Token header)")),
    info,
    h("h2", null, "Try a prediction"),
    versionBox,
    metricsPanel(name, signal),
    keysPanel(name, first.owner === undefined || first.owner === me.username, signal),
  );

  let form: PredictForm | null = null;
  let current: Deployment | null = null;
  let versionShown: Deployment["model_version"] | null = null;
  let live = false;

  function render(d: Deployment): void {
    current = d;
    statusEl.textContent = d.status;
    statusEl.dataset.status = d.status;
    statusEl.title = d.status === "UNLOADED" ? "Unloaded for idleness; the next prediction loads it again." : "";
    endpoint.textContent = d.endpoint_url || "—";
    deploymentError.replaceChildren(
      d.status === "FAILED" ? h("p", { id: "deployment-error", class: "error" }, d.error || "Deployment failed.") : "",
    );
    info.replaceChildren(
      facts([
        ["Model version", h("a", { id: "deployment-version", href: `#/versions/${encodeURIComponent(String(d.model_version))}` },
          d.model_name ? `${d.model_name} v${String(d.version)}` : `#${String(d.model_version)}`)],
        ["Follows alias", d.alias ?? "—"],
        ["Created", formatDate(d.created_at)],
        ["Ready", formatDate(d.ready_at)],
      ]),
    );
    undeployButton.disabled = d.status === "UNDEPLOYED";
    form?.setReady(servable(d.status));
  }

  async function loadVersion(d: Deployment): Promise<void> {
    try {
      const v: ModelVersion = await api.modelVersion(d.model_version, signal);
      form = predictForm(name, v, signal);
      versionBox.replaceChildren(
        h("p", { class: "muted" },
          `${v.model_name} v${v.version} · ${v.task_type} · predicts “${v.target}”`,
          v.metrics ? ` · ${formatPairs(Object.fromEntries(scalarMetrics(v.metrics)))}` : "",
        ),
        form.form,
      );
      form.setReady(servable(current?.status));
    } catch (err) {
      const slot = errorSlot();
      versionBox.replaceChildren(slot.el);
      slot.show(err);
    }
  }

  function show(d: Deployment): void {
    render(d);
    // A swap or a promoted canary serves another version: its form follows.
    if (versionShown !== d.model_version) {
      versionShown = d.model_version;
      void loadVersion(d);
    }
  }

  let timer: ReturnType<typeof setTimeout> | undefined;
  let polling = false;
  signal.addEventListener("abort", () => clearTimeout(timer));

  async function poll(): Promise<void> {
    let next = true;
    try {
      const d = await api.deployment(name, signal);
      if (live) return; // the socket came back meanwhile and is newer
      errors.clear();
      show(d);
      next = d.status === "PENDING" || d.status === "LOADING";
    } catch (err) {
      errors.show(err);
      // A missing deployment will not appear by waiting.
      next = !(err instanceof ApiError && err.status === 404);
    }
    if (next && !live && !signal.aborted) timer = setTimeout(poll, POLL_MS);
    else polling = false;
  }

  function fallBackToPolling(): void {
    if (polling || live || signal.aborted) return;
    polling = true;
    timer = setTimeout(poll, POLL_MS);
  }

  show(first);
  followDeployment(name, signal, {
    onEvent(ev) {
      if (ev.kind !== "deployment") return;
      errors.clear();
      show(ev.deployment);
    },
    onState(state) {
      live = state === "live";
      if (live) {
        clearTimeout(timer);
        polling = false;
      }
    },
    onRefused(code) {
      if (code === 4404) {
        errors.show(new Error("This deployment no longer exists, or you may no longer see it."));
        return;
      }
      fallBackToPolling();
    },
    onDropped() {
      fallBackToPolling();
      return true;
    },
    shouldReconnect: () => !signal.aborted,
  });
}

/** READY, or UNLOADED for idleness: the next prediction loads it again (a second or so). */
function servable(status: string | undefined): boolean {
  return status === "READY" || status === "UNLOADED";
}
