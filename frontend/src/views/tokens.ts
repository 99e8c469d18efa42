import { api, type ApiToken, type TokenScope } from "../api";
import { errorSlot, formatDate, h, messageRow, table } from "../dom";
import type { ViewContext } from "../router";

const SCOPES: Array<[TokenScope, string]> = [
  ["full", "Full: everything you can do"],
  ["predict", "Predict: read and call deployments"],
  ["read", "Read-only"],
];

/** Personal API tokens for scripts and the `automl` CLI: made here, shown once, revocable. */
export async function tokensView(root: HTMLElement, { signal }: ViewContext): Promise<void> {
  const errors = errorSlot();
  const tbody = h("tbody", null, messageRow(6, "Loading…"));
  const name = h("input", { id: "token-name", name: "name", required: true, maxlength: 100, placeholder: "ci" });
  const scope = h("select", { id: "token-scope", name: "scope" }, SCOPES.map(([v, label]) => h("option", { value: v }, label)));
  const expires = h("input", { id: "token-expires", name: "expires", type: "date" });
  const secret = h("div", { id: "token-secret" });

  async function load(): Promise<void> {
    try {
      const tokens = await api.tokens(signal);
      tbody.replaceChildren(
        ...(tokens.length ? tokens.map(row) : [messageRow(6, "No tokens yet.")]),
      );
    } catch (err) {
      errors.show(err);
    }
  }

  function row(t: ApiToken): HTMLTableRowElement {
    const revoke = h("button", { type: "button", class: "secondary", "data-testid": "revoke-token" }, "Revoke");
    revoke.addEventListener("click", async () => {
      revoke.disabled = true;
      try {
        await api.revokeToken(t.id, signal);
        errors.clear();
        await load();
      } catch (err) {
        revoke.disabled = false;
        errors.show(err);
      }
    });
    return h(
      "tr",
      { "data-testid": "token-row", "data-name": t.name },
      h("td", null, t.name),
      h("td", null, h("code", null, `${t.prefix}…`)),
      h("td", null, t.scope),
      h("td", null, formatDate(t.expires_at)),
      h("td", null, formatDate(t.last_used_at)),
      h("td", null, revoke),
    );
  }

  const form = h(
    "form",
    { id: "token-form", class: "inline-form" },
    h("label", null, "Name ", name),
    h("label", null, "Scope ", scope),
    h("label", null, "Expires (optional) ", expires),
    h("button", { type: "submit" }, "Create token"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const expiresAt = expires.value ? new Date(`${expires.value}T23:59:59`).toISOString() : null;
    try {
      const made = await api.createToken(name.value, scope.value as TokenScope, expiresAt, signal);
      errors.clear();
      form.reset();
      secret.replaceChildren(
        h("p", null, `Token "${made.name}": copy it now, it will not be shown again.`),
        h("pre", null, h("code", { id: "token-value" }, made.token)),
      );
      await load();
    } catch (err) {
      errors.show(err);
    }
  });

  root.append(
    h("h1", null, "API tokens"),
    h("p", null, "For scripts and the automl command-line client: send ", h("code", null, "Authorization: Token <token>"), ". The API is described at ", h("a", { href: "/api/v1/docs/" }, "/api/v1/docs/"), "."),
    errors.el,
    form,
    secret,
    table({ id: "tokens-table" }, ["Name", "Token", "Scope", "Expires", "Last used", ""], tbody),
  );
  await load();
}
