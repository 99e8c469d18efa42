// @vitest-environment happy-dom
import { cleanup, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, ApiError } from "../api";
import { ModelsPage } from "./models";
import { deployment, model, version } from "./registryFixtures";

describe("ModelsPage", () => {
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
  });
  const ctx = { params: {}, signal: new AbortController().signal };

  it("says when there are no models yet", async () => {
    vi.spyOn(api, "models").mockResolvedValue([]);
    render(<ModelsPage ctx={ctx} />);
    expect(screen.getByText("Loading…")).toBeTruthy();
    expect(await screen.findByText("No models yet. A successful job registers one.")).toBeTruthy();
  });

  it("lists each model's versions newest first, with aliases and metrics", async () => {
    const m = model([version(1, 1), version(2, 2, { aliases: ["production"], archived_at: "2026-01-02T00:00:00Z" })]);
    vi.spyOn(api, "models").mockResolvedValue([m]);
    vi.spyOn(api, "model").mockResolvedValue(m);
    render(<ModelsPage ctx={ctx} />);
    const rows = await screen.findAllByTestId("version-row");
    expect(rows.map((r) => r.dataset.version)).toEqual(["2", "1"]);
    expect(rows[0]!.textContent).toContain("production");
    expect(rows[0]!.textContent).toContain("archived");
    expect(rows[0]!.textContent).toContain("accuracy=0.9");
    expect(screen.getByTestId("model-row").textContent).toContain("latest v2");
    expect(screen.getAllByTestId("version-link")[0]!.getAttribute("href")).toBe("#/versions/2");
  });

  it("asks in a dialog when a version is already deployed", async () => {
    const user = userEvent.setup();
    const m = model([version(1, 1)]);
    vi.spyOn(api, "models").mockResolvedValue([m]);
    vi.spyOn(api, "model").mockResolvedValue(m);
    vi.spyOn(api, "deploy").mockRejectedValue(new ApiError(409, { existing: deployment("diagnosis-v1") }, "Conflict"));
    render(<ModelsPage ctx={ctx} />);
    await user.click(await screen.findByTestId("deploy-version"));
    const dialog = await screen.findByRole("dialog");
    expect(dialog.id).toBe("deploy-question");
    expect(screen.getByRole("link", { name: "diagnosis-v1" }).getAttribute("href")).toBe("#/deployments/diagnosis-v1");
  });

  it("says why the list could not be loaded", async () => {
    vi.spyOn(api, "models").mockRejectedValue(new Error("The server is unreachable."));
    render(<ModelsPage ctx={ctx} />);
    expect((await screen.findByRole("alert")).textContent).toBe("The server is unreachable.");
  });
});
