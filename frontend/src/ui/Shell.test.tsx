// @vitest-environment happy-dom
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { api, type Me } from "../api";
import { Shell, navSection } from "./Shell";

describe("Shell", () => {
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
  });

  it("shows who is signed in, draws the page for the hash, and marks its section", async () => {
    vi.spyOn(api, "me").mockResolvedValue({ username: "ada", is_staff: false } as Me);
    location.hash = "#/tokens";
    render(
      <Shell
        routes={{
          "/tokens": (root) => {
            root.textContent = "the tokens page";
          },
          "/datasets": (root) => {
            root.textContent = "the datasets page";
          },
        }}
      />,
    );
    expect((await screen.findByText("ada")).id).toBe("whoami");
    expect(await screen.findByText("the tokens page")).toBeTruthy();
    expect(document.getElementById("nav-tokens")!.className).toBe("active");
    expect(document.getElementById("nav-tokens")!.getAttribute("aria-current")).toBe("page");

    location.hash = "#/datasets";
    await waitFor(() => expect(screen.getByText("the datasets page")).toBeTruthy());
    expect(document.getElementById("nav-datasets")!.className).toBe("active");
    expect(document.getElementById("nav-tokens")!.className).toBe("");
    expect(screen.queryByRole("link", { name: "Admin" })).toBeNull();
  });

  it("links managers, and only them, to the Django admin", async () => {
    vi.spyOn(api, "me").mockResolvedValue({ username: "root", is_staff: true } as Me);
    render(<Shell routes={{}} />);
    expect((await screen.findByRole("link", { name: "Admin" })).getAttribute("href")).toBe("/admin/");
  });

  it("counts versions and comparisons as part of Models", () => {
    expect(navSection("versions")).toBe("models");
    expect(navSection("compare")).toBe("models");
    expect(navSection("jobs")).toBe("jobs");
  });
});
