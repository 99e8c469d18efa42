import { ApiError, api, type Deployment, type Id } from "../api";
import { h, type ErrorSlot } from "../dom";
import { navigate } from "../router";

export interface DeployControl {
  button: HTMLButtonElement;
  /** Where the question appears when the version is already deployed. */
  ask: HTMLElement;
}

function existingOf(err: unknown): Deployment | null {
  if (!(err instanceof ApiError) || err.status !== 409) return null;
  const body = err.body as { existing?: Deployment } | null;
  return body && typeof body === "object" && body.existing ? body.existing : null;
}

/**
 * A Deploy button that asks rather than making a second endpoint: when the version already
 * has a deployment, the API answers 409 with it, and this offers to open it or to deploy again
 * under a new name.
 */
export function deployControl(
  versionId: Id | null,
  label: string,
  id: string,
  errors: ErrorSlot,
  signal: AbortSignal,
): DeployControl {
  const button = h("button", { type: "button", id, disabled: versionId === null }, label);
  const ask = h("div", { class: "deploy-ask" });

  async function deploy(name?: string): Promise<void> {
    if (versionId === null) return;
    errors.clear();
    try {
      const dep = await api.deploy(versionId, signal, name);
      navigate(`#/deployments/${encodeURIComponent(dep.name)}`);
    } catch (err) {
      const existing = existingOf(err);
      if (existing) showQuestion(existing);
      else errors.show(err);
    }
  }

  function showQuestion(existing: Deployment): void {
    const nameInput = h("input", { id: "deploy-new-name", type: "text", placeholder: "new-name", "aria-label": "New deployment name" });
    const again = h("button", { type: "submit", id: "deploy-again" }, "Deploy again");
    const form = h("form", { class: "inline" }, nameInput, again);
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!nameInput.value.trim()) {
        errors.show("Give the new deployment a name.");
        return;
      }
      void deploy(nameInput.value.trim());
    });
    ask.replaceChildren(
      h("div", { class: "card note", id: "deploy-question" },
        h("p", null, "This version is already deployed as ",
          h("a", { id: "deploy-existing", href: `#/deployments/${encodeURIComponent(existing.name)}` }, existing.name),
          ` (${existing.status}). Open it, or deploy it again under a new name:`),
        form,
      ),
    );
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    await deploy();
    button.disabled = false;
  });
  return { button, ask };
}
