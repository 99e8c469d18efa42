import { useRef, useState, type FormEvent, type ReactNode } from "react";
import { Button, Input, Label, TextField } from "react-aria-components";
import { api, type ApiToken, type NewApiToken, type TokenScope } from "../api";
import { formatDate } from "../dom";
import { Choice } from "../ui/Choice";
import { DataTable, ErrorMessage, MessageRow } from "../ui/common";
import { CopyButton } from "../ui/CopyButton";
import { reactView, type PageProps } from "../ui/page";
import { useLoad } from "../ui/useLoad";

const SCOPES: Array<[TokenScope, string]> = [
  ["full", "Full: everything you can do"],
  ["predict", "Predict: read and call deployments"],
  ["read", "Read-only"],
];

function TokenRow({ token, onRevoke }: { token: ApiToken; onRevoke: () => Promise<void> }): ReactNode {
  const [busy, setBusy] = useState(false);
  return (
    <tr data-testid="token-row" data-name={token.name}>
      <td>{token.name}</td>
      <td>
        <code>{`${token.prefix}…`}</code>
      </td>
      <td>{token.scope}</td>
      <td>{formatDate(token.expires_at)}</td>
      <td>{formatDate(token.last_used_at)}</td>
      <td>
        <Button
          className="secondary"
          data-testid="revoke-token"
          isDisabled={busy}
          onPress={() => {
            setBusy(true);
            // A failed revocation leaves the row, so it can be tried again.
            onRevoke().finally(() => setBusy(false));
          }}
        >
          Revoke
        </Button>
      </td>
    </tr>
  );
}

/** Personal API tokens for scripts and the `automl` CLI: made here, shown once, revocable. */
export function TokensPage({ ctx }: PageProps): ReactNode {
  const tokens = useLoad((signal) => api.tokens(signal), []);
  const [error, setError] = useState<unknown>(undefined);
  const [made, setMade] = useState<NewApiToken | null>(null);
  const secret = useRef<HTMLElement>(null);
  const [name, setName] = useState("");
  const [scope, setScope] = useState<TokenScope>("full");
  const [expires, setExpires] = useState("");

  async function create(ev: FormEvent<HTMLFormElement>): Promise<void> {
    ev.preventDefault();
    const expiresAt = expires ? new Date(`${expires}T23:59:59`).toISOString() : null;
    try {
      setMade(await api.createToken(name, scope, expiresAt, ctx.signal));
      setError(undefined);
      setName("");
      setScope("full");
      setExpires("");
      tokens.reload();
    } catch (err) {
      setError(err);
    }
  }

  async function revoke(token: ApiToken): Promise<void> {
    try {
      await api.revokeToken(token.id, ctx.signal);
      setError(undefined);
      tokens.reload();
    } catch (err) {
      setError(err);
    }
  }

  let rows: ReactNode;
  if (tokens.state === "loading") rows = <MessageRow colSpan={6} text="Loading…" />;
  else if (tokens.state === "failed") rows = <MessageRow colSpan={6} text="Could not load the tokens." />;
  else if (!tokens.data.length) rows = <MessageRow colSpan={6} text="No tokens yet." />;
  else rows = tokens.data.map((t) => <TokenRow key={t.id} token={t} onRevoke={() => revoke(t)} />);

  return (
    <>
      <h1>API tokens</h1>
      <p>
        For scripts and the automl command-line client: send <code>Authorization: Token &lt;token&gt;</code>. The
        API is described at <a href="/api/v1/docs/">/api/v1/docs/</a>.
      </p>
      <ErrorMessage error={error ?? tokens.error} />
      <form id="token-form" className="inline-form" onSubmit={(ev) => void create(ev)}>
        <TextField name="name" isRequired maxLength={100} value={name} onChange={setName}>
          <Label>Name</Label> <Input id="token-name" placeholder="ci" />
        </TextField>
        <Choice
          id="token-scope"
          name="scope"
          label="Scope"
          value={scope}
          options={SCOPES}
          onChange={(key) => setScope(key as TokenScope)}
        />
        <TextField name="expires" value={expires} onChange={setExpires} type="date">
          <Label>Expires (optional)</Label> <Input id="token-expires" />
        </TextField>
        <Button type="submit">Create token</Button>
      </form>
      <div id="token-secret">
        {made && (
          <>
            <p>{`Token "${made.name}": copy it now, it will not be shown again.`}</p>
            <pre>
              <code id="token-value" ref={secret}>
                {made.token}
              </code>
            </pre>
            <CopyButton id="token-copy" text={made.token} shown={secret} />
          </>
        )}
      </div>
      <DataTable id="tokens-table" headers={["Name", "Token", "Scope", "Expires", "Last used", ""]}>
        {rows}
      </DataTable>
    </>
  );
}

export const tokensView = reactView(TokensPage);
