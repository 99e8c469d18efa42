// @vitest-environment happy-dom
import { cleanup, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, type Dataset, type DatasetCreated, type DatasetListItem } from "../api";
import { UploadCancelled, uploadFile } from "../upload";
import { DatasetsPage } from "./datasets";

vi.mock("../upload", async (original) => ({
  ...(await original<typeof import("../upload")>()),
  uploadFile: vi.fn(),
}));

const item = (id: number, name: string, status = "READY"): DatasetListItem =>
  ({ id, name, status, n_rows: 569, n_columns: 10, kind: "tabular", version: 1, sha256: "ab".repeat(32) }) as DatasetListItem;

describe("DatasetsPage", () => {
  let stored: DatasetListItem[];
  beforeEach(() => {
    stored = [];
    vi.spyOn(api, "datasets").mockImplementation(async () => [...stored]);
  });
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
    vi.mocked(uploadFile).mockReset();
  });

  const ctx = () => ({ params: {}, signal: new AbortController().signal });

  it("says when there is nothing yet, and why the list could not be read", async () => {
    render(<DatasetsPage ctx={ctx()} />);
    expect(screen.getByText("Loading…")).toBeTruthy();
    expect(await screen.findByText("No datasets yet. Upload one above.")).toBeTruthy();
    cleanup();

    vi.mocked(api.datasets).mockRejectedValueOnce(new Error("The server is unreachable."));
    render(<DatasetsPage ctx={ctx()} />);
    expect((await screen.findByRole("alert")).textContent).toBe("The server is unreachable.");
  });

  it("asks the API for the datasets matching a search and a status, and says when none do", async () => {
    const user = userEvent.setup();
    stored = [item(1, "cancer"), item(2, "iris")];
    render(<DatasetsPage ctx={ctx()} />);
    expect(await screen.findAllByTestId("dataset-row")).toHaveLength(2);

    stored = [];
    await user.type(screen.getByLabelText("Search by name"), "wine");
    await waitFor(() => expect(vi.mocked(api.datasets).mock.lastCall?.[1]).toEqual({ search: "wine" }));
    expect(await screen.findByText(/Nothing matches/)).toBeTruthy();

    await user.click(screen.getByRole("button", { name: /Status/ }));
    await user.click(await screen.findByRole("option", { name: "FAILED" }));
    await waitFor(() => expect(vi.mocked(api.datasets).mock.lastCall?.[1]).toEqual({ search: "wine", status: "FAILED" }));
  });

  it("lists the datasets and follows one being profiled until it is ready", async () => {
    stored = [item(1, "cancer", "PROFILING"), item(2, "iris")];
    const dataset = vi.spyOn(api, "dataset").mockImplementation(async (id) => ({ ...item(Number(id), "cancer") }) as Dataset);
    render(<DatasetsPage ctx={ctx()} />);
    const rows = await screen.findAllByTestId("dataset-row");
    expect(rows).toHaveLength(2);
    expect(rows[0]!.dataset.status).toBe("PROFILING");
    expect(within(rows[1]!).getByRole("link", { name: "Train" }).getAttribute("href")).toBe("#/datasets/2");
    await waitFor(() => expect(screen.getAllByTestId("dataset-row")[0]!.dataset.status).toBe("READY"), { timeout: 4000 });
    expect(dataset).toHaveBeenCalledTimes(1);
    expect(dataset.mock.calls[0]![0]).toBe("1");
  });

  it("uploads a file with the chosen options and lists the new dataset", async () => {
    const user = userEvent.setup();
    vi.mocked(uploadFile).mockImplementation(async (file, opts) => {
      opts.onProgress({ sent: file.size, total: file.size });
      return "upload-1";
    });
    const create = vi.spyOn(api, "createDataset").mockImplementation(async () => {
      stored = [item(3, "held")];
      return { ...item(3, "held"), existing: false } as unknown as DatasetCreated;
    });
    render(<DatasetsPage ctx={ctx()} />);
    await screen.findByText("No datasets yet. Upload one above.");

    await user.click(screen.getByRole("button", { name: "Upload" }));
    expect((await screen.findByRole("alert")).textContent).toBe("Choose a file first.");

    const file = new File(["a,b\n1,2\n"], "held.csv", { type: "text/csv" });
    await user.upload(screen.getByLabelText(/^File/) as HTMLInputElement, file);
    expect(screen.getByText(/Chosen: held\.csv/)).toBeTruthy();
    await user.click(screen.getByText("Advanced options"));
    await user.click(screen.getByRole("button", { name: /Delimiter/ }));
    await user.click(await screen.findByRole("option", { name: "; (semicolon)" }));
    await user.click(screen.getByRole("checkbox", { name: "The first row holds the column names" }));
    await user.click(screen.getByRole("button", { name: "Upload" }));

    expect(await screen.findByText("Uploaded “held”.")).toBeTruthy();
    expect(create).toHaveBeenCalledWith("upload-1", { header: false, delimiter: ";" }, expect.anything());
    expect(document.getElementById("upload-percent")!.textContent).toBe("100%");
    await waitFor(() => expect(screen.getAllByTestId("dataset-row")).toHaveLength(1));
    // The form is ready for another.
    expect(screen.queryByText(/Chosen:/)).toBeNull();
    expect(screen.getByRole("checkbox", { name: "The first row holds the column names" })).toHaveProperty("checked", true);
  });

  it("cancels an upload under way and says nothing is kept", async () => {
    const user = userEvent.setup();
    vi.mocked(uploadFile).mockImplementation(
      (file, opts) =>
        new Promise((_, reject) => {
          opts.onProgress({ sent: 0, total: file.size });
          opts.cancel?.addEventListener("abort", () => reject(new UploadCancelled()));
        }),
    );
    render(<DatasetsPage ctx={ctx()} />);
    await user.upload(screen.getByLabelText(/^File/) as HTMLInputElement, new File(["x"], "x.csv"));
    await user.click(screen.getByRole("button", { name: "Upload" }));
    expect(document.getElementById("upload-percent")!.textContent).toBe("0%");
    expect(document.getElementById("upload-phase")!.textContent).toContain("of 1 B");
    await user.click(await screen.findByRole("button", { name: "Cancel" }));
    expect(await screen.findByText("Cancelled; nothing of the file is kept on the server.")).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Cancel" })).toBeNull();
    expect(screen.getByRole("button", { name: "Upload" })).toHaveProperty("disabled", false);
  });
});
