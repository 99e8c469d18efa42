import { useState, type FormEvent, type ReactNode } from "react";
import { Button, Dialog, Heading, Input, Modal, ModalOverlay, TextField } from "react-aria-components";
import { ApiError, api, type Deployment, type Id } from "../api";
import { navigate } from "../router";
import { ErrorMessage } from "../ui/common";
import "./registry.css";

function existingOf(err: unknown): Deployment | null {
  if (!(err instanceof ApiError) || err.status !== 409) return null;
  const body = err.body as { existing?: Deployment } | null;
  return body && typeof body === "object" && body.existing ? body.existing : null;
}

/**
 * Deploys a version and opens the new deployment's page. When the version already has a
 * deployment (and no new name is given), the API answers 409 with it instead of making a second
 * endpoint: that deployment is returned so the caller can ask what to do. Other errors throw.
 */
async function deployOrExisting(versionId: Id, signal: AbortSignal, name?: string): Promise<Deployment | null> {
  try {
    const dep = await api.deploy(versionId, signal, name);
    navigate(`#/deployments/${encodeURIComponent(dep.name)}`);
    return null;
  } catch (err) {
    const existing = existingOf(err);
    if (existing && name === undefined) return existing;
    throw err;
  }
}

/** The question asked when a version is already deployed: open that deployment, or deploy the
 * version again under a new name. A modal dialog; Escape or Cancel closes it. */
export function DeployQuestion({
  existing,
  versionId,
  signal,
  onClose,
}: {
  existing: Deployment | null;
  versionId: Id;
  signal: AbortSignal;
  onClose: () => void;
}): ReactNode {
  const [name, setName] = useState("");
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);

  async function again(ev: FormEvent<HTMLFormElement>): Promise<void> {
    ev.preventDefault();
    if (!name.trim()) {
      setError("Give the new deployment a name.");
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      await deployOrExisting(versionId, signal, name.trim());
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  function close(): void {
    setName("");
    setError(undefined);
    onClose();
  }

  return (
    <ModalOverlay
      className="react-aria-ModalOverlay registry-modal-overlay"
      isDismissable
      isOpen={existing !== null}
      onOpenChange={(open) => {
        if (!open) close();
      }}
    >
      <Modal className="react-aria-Modal registry-modal">
        <Dialog id="deploy-question" className="react-aria-Dialog card note">
          <Heading slot="title">Already deployed</Heading>
          {existing && (
            <p>
              This version is already deployed as{" "}
              <a id="deploy-existing" href={`#/deployments/${encodeURIComponent(existing.name)}`}>
                {existing.name}
              </a>
              {` (${existing.status}). Open it, or deploy it again under a new name:`}
            </p>
          )}
          <form className="inline" onSubmit={(ev) => void again(ev)}>
            <TextField aria-label="New deployment name" value={name} onChange={setName} autoFocus>
              <Input id="deploy-new-name" placeholder="new-name" />
            </TextField>
            <Button type="submit" id="deploy-again" isDisabled={busy}>
              Deploy again
            </Button>
            <Button className="secondary" onPress={close}>
              Cancel
            </Button>
          </form>
          <ErrorMessage error={error} />
        </Dialog>
      </Modal>
    </ModalOverlay>
  );
}

/**
 * A Deploy button that asks rather than making a second endpoint: when the version already has
 * a deployment, it offers (in a dialog) to open it or to deploy again under a new name.
 * Other failures go to `onError`; `onError(undefined)` clears the last one.
 */
export function DeployButton({
  versionId,
  label,
  id,
  signal,
  onError,
  testId,
}: {
  versionId: Id | null;
  label: string;
  id: string;
  signal: AbortSignal;
  onError: (err: unknown) => void;
  testId?: string;
}): ReactNode {
  const [busy, setBusy] = useState(false);
  const [existing, setExisting] = useState<Deployment | null>(null);

  async function deploy(): Promise<void> {
    if (versionId === null) return;
    onError(undefined);
    setBusy(true);
    try {
      setExisting(await deployOrExisting(versionId, signal));
    } catch (err) {
      onError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <Button
        id={id}
        data-testid={testId}
        data-version-id={versionId === null ? undefined : String(versionId)}
        isDisabled={versionId === null || busy}
        onPress={() => void deploy()}
      >
        {label}
      </Button>
      {versionId !== null && (
        <DeployQuestion existing={existing} versionId={versionId} signal={signal} onClose={() => setExisting(null)} />
      )}
    </>
  );
}
