import "./style.css";
import { createRoot } from "react-dom/client";
import { lazyView, type View } from "./router";
import { Shell } from "./ui/Shell";

// Each page's code is its own chunk, fetched when the page is first opened.
const datasetsView = lazyView(() => import("./views/datasets").then((m) => m.datasetsView));
const datasetDetailView = lazyView(() => import("./views/dataset").then((m) => m.datasetDetailView));
const jobsView = lazyView(() => import("./views/jobs").then((m) => m.jobsView));
const jobView = lazyView(() => import("./views/job").then((m) => m.jobView));
const jobWizardView = lazyView(() => import("./views/jobWizard").then((m) => m.jobWizardView));
const modelsView = lazyView(() => import("./views/models").then((m) => m.modelsView));
const deploymentsView = lazyView(() => import("./views/deployments").then((m) => m.deploymentsView));
const deploymentView = lazyView(() => import("./views/deployment").then((m) => m.deploymentView));
const versionView = lazyView(() => import("./views/version").then((m) => m.versionView));
const compareView = lazyView(() => import("./views/compare").then((m) => m.compareView));
const tokensView = lazyView(() => import("./views/tokens").then((m) => m.tokensView));

// Every page, by the hash path it answers.
const ROUTES: Record<string, View> = {
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
};

function mount(): void {
  let app = document.getElementById("app");
  if (!app) {
    app = document.createElement("div");
    app.id = "app";
    document.body.append(app);
  }
  createRoot(app).render(<Shell routes={ROUTES} />);
}

mount();
