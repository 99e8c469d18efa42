import { api, type Deployment } from "../api";
import { errorSlot, formatDate, h, messageRow, statusBadge, table } from "../dom";
import type { ViewContext } from "../router";

const REFRESH_MS = 2000;

function deploymentRow(d: Deployment): HTMLTableRowElement {
  return h(
    "tr",
    { "data-testid": "deployment-row", "data-name": d.name },
    h("td", null, h("a", { href: `#/deployments/${encodeURIComponent(d.name)}` }, d.name)),
    h("td", null, h("a", { href: `#/versions/${encodeURIComponent(String(d.model_version))}` },
      d.model_name ? `${d.model_name} v${String(d.version)}` : `#${String(d.model_version)}`),
      d.alias ? h("span", { class: "hint" }, ` (follows ${d.alias})`) : ""),
    h("td", null, statusBadge(d.status)),
    h("td", null, formatDate(d.created_at)),
    h("td", null, formatDate(d.ready_at)),
  );
}

export async function deploymentsView(root: HTMLElement, { signal }: ViewContext): Promise<void> {
  const errors = errorSlot();
  const tbody = h("tbody", null, messageRow(5, "Loading…"));
  root.append(
    h("h1", null, "Deployments"),
    errors.el,
    table({ id: "deployments-table" }, ["Name", "Model version", "Status", "Created", "Ready"], tbody),
  );

  let timer: ReturnType<typeof setTimeout> | undefined;
  signal.addEventListener("abort", () => clearTimeout(timer));

  async function load(): Promise<void> {
    try {
      const deployments = await api.deployments(signal);
      errors.clear();
      tbody.replaceChildren(
        ...(deployments.length
          ? deployments.map(deploymentRow)
          : [messageRow(5, "No deployments yet. Deploy a model version from Models or a finished job.")]),
      );
      if (deployments.some((d) => d.status === "PENDING" || d.status === "LOADING") && !signal.aborted) {
        timer = setTimeout(load, REFRESH_MS);
      }
    } catch (err) {
      errors.show(err);
    }
  }

  await load();
}
