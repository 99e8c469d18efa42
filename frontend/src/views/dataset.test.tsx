// @vitest-environment happy-dom
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError, api, type Dataset, type DatasetEvent } from "../api";
import { followDataset, type SocketHandlers } from "../jobSocket";
import { DatasetPage } from "./dataset";

vi.mock("../jobSocket", async (original) => ({
  ...(await original<typeof import("../jobSocket")>()),
  followDataset: vi.fn(),
}));

const PROFILE = {
  n_rows: 3,
  n_columns: 2,
  warnings: [{ code: "constant", column: "flag", message: "Only one value." }],
  columns: [
    {
      name: "size",
      type: "numeric",
      inferred_type: "numeric",
      missing: 0,
      distinct: 3,
      min: 1,
      max: 3,
      mean: 2,
      histogram: { counts: [1, 0, 2], edges: [1, 1.5, 2, 3] },
    },
    { name: "label", type: "categorical", inferred_type: "categorical", missing: 1, distinct: 2, top: [{ value: "a", count: 2 }] },
  ],
};

const dataset = (status: string, extra: Partial<Dataset> = {}): Dataset =>
  ({
    id: 7,
    name: "cancer",
    status,
    kind: "tabular",
    version: 1,
    parent: null,
    sha256: "ab".repeat(32),
    profile: status === "READY" ? PROFILE : {},
    columns: [],
    ...extra,
  }) as unknown as Dataset;

describe("DatasetPage", () => {
  beforeEach(() => {
    vi.spyOn(api, "datasetRows").mockImplementation(async (_id, offset) => ({
      offset,
      count: 25,
      rows: Array.from({ length: offset === 0 ? 20 : 5 }, (_, i) => ({ size: offset + i, label: i % 2 ? null : "a" })),
      next_offset: offset === 0 ? 20 : null,
    }));
    vi.spyOn(api, "datasetVersions").mockImplementation(async () => [
      dataset("READY") as never,
      { ...dataset("READY"), id: 8, version: 2, parent: 7 } as never,
    ]);
  });
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
    vi.mocked(followDataset).mockReset();
  });

  const ctx = (id = "7") => ({ params: { id }, signal: new AbortController().signal });

  it("shows a not-found page for a dataset that is not there", async () => {
    vi.spyOn(api, "dataset").mockRejectedValue(new ApiError(404, null, "No such dataset."));
    render(<DatasetPage ctx={ctx("9")} />);
    expect((await screen.findByRole("heading", { name: "Not found" })).id).toBe("not-found");
    expect(screen.getByText("No such dataset.")).toBeTruthy();
    expect(document.querySelector(".status")).toBeNull();
  });

  it("shows a ready dataset's profile, rows page by page, and its versions", async () => {
    const user = userEvent.setup();
    vi.spyOn(api, "dataset").mockResolvedValue(dataset("READY"));
    render(<DatasetPage ctx={ctx()} />);
    expect(await screen.findAllByTestId("column-row")).toHaveLength(2);
    expect(screen.getByRole("img", { name: "Histogram of size: 3 bins, 3 values" })).toBeTruthy();
    expect(screen.getByTestId("profile-warning").dataset.code).toBe("constant");
    expect(document.getElementById("dataset-status")!.textContent).toBe("READY");
    expect(screen.getByText("Live updates:", { exact: false }).closest("p")!.hidden).toBe(true);
    expect(followDataset).not.toHaveBeenCalled();
    expect(screen.getByRole("link", { name: "New training job" }).getAttribute("href")).toBe("#/jobs/new/7");

    await waitFor(() => expect(screen.getAllByTestId("data-row")).toHaveLength(20));
    expect(document.getElementById("rows-range")!.textContent).toBe("Rows 1–20 of 25");
    await user.click(screen.getByRole("button", { name: "Next →" }));
    await waitFor(() => expect(document.getElementById("rows-range")!.textContent).toBe("Rows 21–25 of 25"));
    expect(screen.getByRole("button", { name: "Next →" })).toHaveProperty("disabled", true);

    const versions = await screen.findAllByTestId("version-item");
    expect(versions).toHaveLength(2);
    expect(within(versions[0]!).getByText("v1 · cancer").getAttribute("aria-current")).toBe("page");
    expect(within(versions[1]!).getByRole("link").getAttribute("href")).toBe("#/datasets/8");
  });

  it("makes a new version from the chosen changes and opens it", async () => {
    const user = userEvent.setup();
    vi.spyOn(api, "dataset").mockResolvedValue(dataset("READY"));
    const create = vi.spyOn(api, "createVersion").mockResolvedValue({ ...dataset("PENDING"), id: 8 } as never);
    render(<DatasetPage ctx={ctx()} />);
    await user.click(await screen.findByRole("button", { name: "Create version" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/^Choose at least one change/);

    await user.click(screen.getByRole("checkbox", { name: "Drop size" }));
    await user.click(screen.getByRole("button", { name: /Type of label/ }));
    await user.click(await screen.findByRole("option", { name: "text" }));
    await user.click(screen.getByRole("button", { name: /Relabel values of/ }));
    await user.click(await screen.findByRole("option", { name: "label" }));
    expect(screen.getByText("values: a")).toBeTruthy();
    await user.type(screen.getByLabelText("Relabelling"), "a=b");
    await user.click(screen.getByRole("button", { name: "Create version" }));

    expect(create).toHaveBeenCalledWith(
      7,
      { drop_columns: ["size"], column_types: { label: "text" }, relabel_column: "label", relabel: { a: "b" } },
      expect.anything(),
    );
    await waitFor(() => expect(location.hash).toBe("#/datasets/8"));
  }, 20_000);

  it("follows profiling live and draws the profile once it is ready", async () => {
    let handlers: SocketHandlers<DatasetEvent> | undefined;
    vi.mocked(followDataset).mockImplementation((_id, _signal, h) => {
      handlers = h;
    });
    const read = vi.spyOn(api, "dataset").mockResolvedValueOnce(dataset("PROFILING")).mockResolvedValue(dataset("READY"));
    render(<DatasetPage ctx={ctx()} />);
    expect(await screen.findByText(/appear once profiling is done/)).toBeTruthy();
    await waitFor(() => expect(handlers).toBeDefined());
    handlers!.onState("live");
    handlers!.onEvent({ kind: "profile_progress", seq: 1, payload: { fraction: 0.5 } } as DatasetEvent);
    await waitFor(() => expect(document.getElementById("profile-percent")!.textContent).toBe("50%"));
    expect(document.getElementById("ws-state")!.textContent).toBe("live");

    handlers!.onEvent({ kind: "dataset_status", seq: 2, payload: { status: "READY" } } as DatasetEvent);
    expect(await screen.findAllByTestId("column-row")).toHaveLength(2);
    expect(read).toHaveBeenCalledTimes(2);
    expect(document.getElementById("dataset-status")!.textContent).toBe("READY");
    expect(document.getElementById("profile-percent")!.closest(".progress-row")!.hasAttribute("hidden")).toBe(true);
  });

  it("says why profiling failed", async () => {
    vi.spyOn(api, "dataset").mockResolvedValue(dataset("FAILED", { error: "Not a CSV file." }));
    render(<DatasetPage ctx={ctx()} />);
    expect((await screen.findByRole("alert")).textContent).toBe("Not a CSV file.");
    expect(document.getElementById("dataset-summary")).toBeTruthy();
  });
});
