// @vitest-environment happy-dom
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, ApiError, type AuditEvent, type ModelVersion } from "../api";
import { deployment, model, version } from "./registryFixtures";
import { VersionPage } from "./version";

describe("VersionPage", () => {
  let current: ModelVersion;
  let audit: AuditEvent[];
  let card: { markdown: string; edited: boolean };
  beforeEach(() => {
    current = version(1, 1);
    audit = [];
    card = { markdown: "# Task\n\n- Predicts `diagnosis`.", edited: false };
    location.hash = "";
    vi.spyOn(api, "modelVersion").mockImplementation(async () => current);
    vi.spyOn(api, "model").mockImplementation(async () => model([current, version(2, 2)]));
    vi.spyOn(api, "modelAudit").mockImplementation(async () => [...audit]);
    vi.spyOn(api, "modelCard").mockImplementation(async () => ({ ...card }) as never);
    vi.spyOn(api, "saveModelCard").mockImplementation(async (_id, markdown) => {
      card = { markdown, edited: true };
      return card as never;
    });
    vi.spyOn(api, "moveAlias").mockImplementation(async (_m, name) => {
      current = { ...current, aliases: [name] };
      audit = [{ created_at: "", actor: "ann", action: "alias_moved", subject: name, from_value: "", to_value: "v1" } as never];
      return { name } as never;
    });
  });
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
  });
  const ctx = { params: { id: "1" }, signal: new AbortController().signal };

  it("shows the record: metrics, signature, card and an empty history", async () => {
    render(<VersionPage ctx={ctx} />);
    expect((await screen.findByText("diagnosis v1")).id).toBe("version-title");
    const metrics = document.getElementById("version-metrics")!;
    expect(within(metrics).getByText("accuracy").nextElementSibling!.textContent).toBe("0.9");
    expect(document.getElementById("per-class")).toBeTruthy();
    expect(document.getElementById("version-output")!.textContent).toContain("benign, malignant");
    expect(await screen.findByRole("heading", { name: "Task" })).toBeTruthy();
    expect(screen.getByText("generated").id).toBe("card-state");
    expect(await screen.findByText("Nothing has changed yet.")).toBeTruthy();
    expect(document.getElementById("version-onnx")!.getAttribute("href")).toContain("format=onnx");
  });

  it("points an alias here and edits the card; the history follows", async () => {
    const user = userEvent.setup();
    render(<VersionPage ctx={ctx} />);
    await user.type(await screen.findByRole("combobox", { name: "Alias" }), "production");
    await user.click(screen.getByRole("button", { name: "Point alias here" }));
    expect(api.moveAlias).toHaveBeenCalledWith(1, "production", 1, ctx.signal);
    await waitFor(() => expect(document.querySelector('#version-aliases [data-alias="production"]')).toBeTruthy());
    expect((await screen.findByTestId("audit-row")).textContent).toContain("alias moved");

    await user.click(screen.getByText("Edit card"));
    const editor = screen.getByRole("textbox", { name: "Model card (markdown)" });
    await user.clear(editor);
    await user.type(editor, "- Checked.");
    await user.click(screen.getByRole("button", { name: "Save card" }));
    expect(api.saveModelCard).toHaveBeenCalledWith(1, "- Checked.", ctx.signal);
    await waitFor(() => expect(screen.getByText("edited").id).toBe("card-state"));
    expect(document.querySelector("#model-card li")!.textContent).toBe("Checked.");
  }, 30_000);

  it("compares with the version chosen from the list", async () => {
    const user = userEvent.setup();
    render(<VersionPage ctx={ctx} />);
    await user.click(await screen.findByRole("button", { name: /Compare with/ }));
    await user.click(await screen.findByRole("option", { name: "v2" }));
    await user.click(screen.getByRole("button", { name: "Compare" }));
    expect(location.hash).toBe("#/compare/1/2");
  });

  it("deploys again under a new name when the version is already deployed", async () => {
    const user = userEvent.setup();
    vi.spyOn(api, "deploy")
      .mockRejectedValueOnce(new ApiError(409, { existing: deployment("diagnosis-v1") }, "Conflict"))
      .mockResolvedValueOnce(deployment("canary"));
    render(<VersionPage ctx={ctx} />);
    await user.click(await screen.findByRole("button", { name: "Deploy" }));
    const dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByRole("link").textContent).toBe("diagnosis-v1");
    await user.click(within(dialog).getByRole("button", { name: "Deploy again" }));
    expect(within(dialog).getByRole("alert").textContent).toBe("Give the new deployment a name.");
    await user.type(within(dialog).getByRole("textbox", { name: "New deployment name" }), "canary");
    await user.click(within(dialog).getByRole("button", { name: "Deploy again" }));
    expect(api.deploy).toHaveBeenLastCalledWith(1, ctx.signal, "canary");
    await waitFor(() => expect(location.hash).toBe("#/deployments/canary"));
  }, 30_000);

  it("says so when the version is not there", async () => {
    vi.mocked(api.modelVersion).mockRejectedValue(new ApiError(404, null, "Not found."));
    render(<VersionPage ctx={ctx} />);
    expect((await screen.findByRole("heading", { name: "Not found" })).id).toBe("not-found");
  });
});
