// @vitest-environment happy-dom
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ListQuery } from "../api";
import { ListControls, emptyText } from "./ListControls";

function Harness({ seen }: { seen: (q: ListQuery) => void }) {
  const [query, setQuery] = useState<ListQuery>({});
  return (
    <ListControls
      id="things"
      searchLabel="Search by name"
      statuses={["READY", "FAILED"]}
      orderings={[
        ["-created_at", "Newest first"],
        ["name", "Name"],
      ]}
      value={query}
      onChange={(q) => {
        seen(q);
        setQuery(q);
      }}
    />
  );
}

describe("ListControls", () => {
  afterEach(cleanup);

  it("asks once a pause after typing, then for a status and an order", async () => {
    const user = userEvent.setup();
    const seen = vi.fn();
    render(<Harness seen={seen} />);

    await user.type(screen.getByLabelText("Search by name"), "canc");
    await waitFor(() => expect(seen).toHaveBeenCalledWith({ search: "canc" }));
    expect(seen).toHaveBeenCalledTimes(1);

    await user.click(screen.getByRole("button", { name: /Status/ }));
    await user.click(await screen.findByRole("option", { name: "FAILED" }));
    expect(seen).toHaveBeenLastCalledWith({ search: "canc", status: "FAILED" });

    await user.click(screen.getByRole("button", { name: /Order/ }));
    await user.click(await screen.findByRole("option", { name: "Name" }));
    expect(seen).toHaveBeenLastCalledWith({ search: "canc", status: "FAILED", ordering: "name" });
  });

  it("says whether an empty list is empty or only narrowed", () => {
    expect(emptyText({}, "No datasets yet.")).toBe("No datasets yet.");
    expect(emptyText({ status: "" }, "No datasets yet.")).toBe("No datasets yet.");
    expect(emptyText({ search: "x" }, "No datasets yet.")).toMatch(/Nothing matches/);
  });
});
