import "./style.css";
import { ApiError, api, csrfToken } from "./api";
import { h } from "./dom";
import { startRouter } from "./router";
import { datasetsView } from "./views/datasets";
import { datasetDetailView } from "./views/dataset";
import { jobsView } from "./views/jobs";
import { jobView } from "./views/job";
import { jobWizardView } from "./views/jobWizard";
import { modelsView } from "./views/models";
import { deploymentsView } from "./views/deployments";
import { deploymentView } from "./views/deployment";
import { versionView } from "./views/version";
import { compareView } from "./views/compare";
import { tokensView } from "./views/tokens";

const NAV: Array<[string, string]> = [
  ["datasets", "Datasets"],
  ["jobs", "Jobs"],
  ["models", "Models"],
  ["deployments", "Deployments"],
  ["tokens", "API tokens"],
];

function signOutForm(): HTMLFormElement {
  const token = h("input", { type: "hidden", name: "csrfmiddlewaretoken" });
  const form = h(
    "form",
    { method: "post", action: "/logout/", class: "sign-out" },
    token,
    h("button", { type: "submit", id: "sign-out", class: "secondary" }, "Sign out"),
  );
  // Read the token at submit time: Django rotates it when the session changes.
  form.addEventListener("submit", () => {
    token.value = csrfToken();
  });
  return form;
}

function mount(): void {
  let app = document.getElementById("app");
  if (!app) {
    app = h("div", { id: "app" });
    document.body.append(app);
  }

  const links = new Map(
    NAV.map(([key, label]) => [key, h("a", { id: `nav-${key}`, href: `#/${key}` }, label)] as const),
  );
  const whoami = h("span", { id: "whoami" });
  const outlet = h("main", { id: "view" });

  app.replaceChildren(
    h(
      "header",
      { class: "topbar" },
      h("a", { class: "brand", href: "#/datasets" }, "AutoML console"),
      h("nav", null, [...links.values()]),
      h("div", { class: "user" }, whoami, signOutForm()),
    ),
    outlet,
  );

  api.me().then(
    (me) => {
      whoami.textContent = me.username;
    },
    (err: unknown) => {
      // The session expired or was never there: send the user to Django's sign-in form.
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        location.assign(`/login/?next=${encodeURIComponent(location.pathname)}`);
      }
    },
  );

  startRouter(
    outlet,
    {
      "/datasets": datasetsView,
      "/datasets/:id": datasetDetailView,
      "/jobs": jobsView,
      // Before "/jobs/:id", which would take "new" for an id.
      "/jobs/new": jobWizardView,
      "/jobs/new/:dataset": jobWizardView,
      "/jobs/new/:dataset/:step": jobWizardView,
      "/jobs/:id": jobView,
      "/models": modelsView,
      "/versions/:id": versionView,
      "/compare/:a/:b": compareView,
      "/deployments": deploymentsView,
      "/deployments/:name": deploymentView,
      "/tokens": tokensView,
    },
    (section) => {
      // A version or a comparison is part of Models.
      const current = section === "versions" || section === "compare" ? "models" : section;
      for (const [key, link] of links) link.classList.toggle("active", key === current);
    },
  );
}

mount();
