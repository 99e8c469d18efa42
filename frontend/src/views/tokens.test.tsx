// @vitest-environment happy-dom
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { api, type ApiToken, type NewApiToken } from "../api";
import { TokensPage } from "./tokens";

const token = (id: number, name: string): ApiToken =>
  ({ id, name, prefix: `aml_${id}`, scope: "read", expires_at: null, last_used_at: null, created_at: "" }) as ApiToken;

describe("TokensPage", () => {
  let stored: ApiToken[];
  beforeEach(() => {
    stored = [token(1, "ci")];
    vi.spyOn(api, "tokens").mockImplementation(async () => [...stored]);
    vi.spyOn(api, "revokeToken").mockImplementation(async (id) => {
      stored = stored.filter((t) => t.id !== id);
    });
    vi.spyOn(api, "createToken").mockImplementation(async (name, scope) => {
      stored.push({ ...token(2, name), scope });
      return { ...token(2, name), scope, token: "aml_secret" } as NewApiToken;
    });
  });
  afterEach(() => {
    cleanup();
    vi.restoreAllMocks();
  });

  const ctx = { params: {}, signal: new AbortController().signal };

  it("lists the tokens, then shows a new one's secret once with the chosen scope", async () => {
    const user = userEvent.setup();
    render(<TokensPage ctx={ctx} />);
    expect(await screen.findByText("ci")).toBeTruthy();

    await user.type(screen.getByLabelText("Name"), "dashboard");
    await user.click(screen.getByRole("button", { name: /Scope/ }));
    await user.click(await screen.findByRole("option", { name: "Read-only" }));
    await user.click(screen.getByRole("button", { name: "Create token" }));

    expect(api.createToken).toHaveBeenCalledWith("dashboard", "read", null, ctx.signal);
    expect((await screen.findByText("aml_secret")).id).toBe("token-value");
    expect(screen.getByRole("button", { name: "Copy" }).id).toBe("token-copy");
    await waitFor(() => expect(screen.getAllByTestId("token-row")).toHaveLength(2));
    // The form is ready for another.
    expect((screen.getByLabelText("Name") as HTMLInputElement).value).toBe("");
  });

  it("removes a revoked token's row, and says why when revoking fails", async () => {
    const user = userEvent.setup();
    render(<TokensPage ctx={ctx} />);
    await user.click(await screen.findByTestId("revoke-token"));
    expect(await screen.findByText("No tokens yet.")).toBeTruthy();

    stored = [token(3, "other")];
    vi.mocked(api.revokeToken).mockRejectedValueOnce(new Error("The server is unreachable."));
    vi.mocked(api.tokens).mockClear();
    render(<TokensPage ctx={ctx} />);
    await user.click((await screen.findAllByTestId("revoke-token"))[0]!);
    expect((await screen.findByRole("alert")).textContent).toBe("The server is unreachable.");
  });
});
