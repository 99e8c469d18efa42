// Resumable uploads through tus-js-client, the tus 1.0 client the server is built to (docs/api.md,
// "Resumable uploads"): the library announces the file, sends its bytes, asks the server where
// to go on after a dropped connection, and terminates an upload that is cancelled.
import { DetailedError, Upload, type PreviousUpload } from "tus-js-client";
import { ApiError, UPLOADS_PATH, csrfToken, errorMessage } from "./api";

// The waits before each new try after a passing failure (a dropped connection, a 5xx, a 409);
// each try starts from the offset the server reports. Five failures in a row end it, and the
// upload stays on the server to be resumed later.
const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000];

export interface UploadProgress {
  sent: number;
  total: number;
}

/** A staged upload, remembered so that a retry (or other options) need not send it again. */
export interface Staged {
  key: string;
  url: string;
}

export const fileKey = (f: File) => JSON.stringify([f.name, f.size, f.lastModified]);

/** Thrown when the person cancelled: the server has already forgotten the upload. */
export class UploadCancelled extends Error {
  constructor() {
    super("The upload was cancelled.");
    this.name = "UploadCancelled";
  }
}

export interface UploadOptions {
  /** The last staged upload: resumed where the server stands when it is the same file. */
  staged: Staged | null;
  /** Hears about the upload as soon as the server made it (or confirmed a resumed one). */
  onStaged: (s: Staged) => void;
  onProgress: (p: UploadProgress) => void;
  /** Fires when the view goes away: the upload stops and stays on the server to resume. */
  signal?: AbortSignal;
  /** Fires when the person cancels: the upload stops and is terminated on the server. */
  cancel?: AbortSignal;
}

/** The upload's id: the last part of the URL the server answered in `Location`. */
export function uploadId(url: string): string {
  const parts = new URL(url, location.href).pathname.split("/").filter(Boolean);
  return decodeURIComponent(parts[parts.length - 1] ?? "");
}

/** The body of a failed answer, read as the one error format when it is JSON. */
function parseBody(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return null; // an HTML error page from a proxy
  }
}

/** What tus-js-client reports, as the errors the rest of the app shows. */
function readable(err: Error): Error {
  if (err instanceof DetailedError) {
    const res = err.originalResponse;
    if (res && res.getStatus() > 0) {
      const status = res.getStatus();
      const body = parseBody(res.getBody());
      return new ApiError(status, body, errorMessage(status, body));
    }
    const cause = err.causingError?.message ?? err.message;
    return new Error(`The connection to the server was lost (${cause}).`);
  }
  return err;
}

/** The newest upload of this file that this browser remembers (from before a reload, say). */
function newest(previous: PreviousUpload[]): PreviousUpload | null {
  let best: PreviousUpload | null = null;
  for (const p of previous) {
    if (p.uploadUrl && (!best || p.creationTime > best.creationTime)) best = p;
  }
  return best;
}

/**
 * Makes sure the server holds all of `file` and answers the upload's id. `staged`, when it is
 * the same file, is resumed where the server stands instead of starting over (an upload the
 * server no longer has is made anew); so is an unfinished upload of the same file that this
 * browser remembers. The whole file goes in one PATCH, as in bench/datasets.py: the server
 * rebuilds the hash of the bytes already stored at the start of every PATCH, so parts would
 * cost a re-read each, while a dropped connection resumes from wherever the bytes stopped.
 */
export async function uploadFile(file: File, opts: UploadOptions): Promise<string> {
  const { signal, cancel } = opts;
  if (signal?.aborted) throw signal.reason ?? new DOMException("Aborted", "AbortError");
  if (cancel?.aborted) throw new UploadCancelled();
  const key = fileKey(file);
  const resuming = opts.staged && opts.staged.key === key ? opts.staged.url : null;
  opts.onProgress({ sent: 0, total: file.size });

  return new Promise<string>((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onLeave);
      cancel?.removeEventListener("abort", onCancel);
      fn();
    };
    const upload = new Upload(file, {
      endpoint: UPLOADS_PATH,
      uploadUrl: resuming,
      metadata: { filename: file.name, filetype: file.type },
      // The session cookie goes along by itself (same origin); the CSRF header is what the
      // server asks of a session's writes, as for every other call in api.ts.
      headers: { "X-CSRFToken": csrfToken(), Accept: "application/json" },
      retryDelays: RETRY_DELAYS_MS,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      onUploadUrlAvailable: () => {
        if (upload.url) opts.onStaged({ key, url: upload.url });
      },
      // Called from the request's own progress events, so a file sent in one PATCH moves
      // the bar while it goes, not only when the server answers.
      onProgress: (sent, total) => opts.onProgress({ sent, total }),
      onSuccess: () => finish(() => resolve(uploadId(upload.url ?? ""))),
      onError: (err) => finish(() => reject(readable(err))),
    });

    function onLeave(): void {
      void upload.abort(false);
      finish(() => reject(signal?.reason ?? new DOMException("Aborted", "AbortError")));
    }
    function onCancel(): void {
      upload.abort(true).then(
        () => finish(() => reject(new UploadCancelled())),
        (err: Error) => finish(() => reject(readable(err))),
      );
    }
    signal?.addEventListener("abort", onLeave, { once: true });
    cancel?.addEventListener("abort", onCancel, { once: true });

    if (resuming) {
      upload.start();
      return;
    }
    upload.findPreviousUploads().then(
      (previous) => {
        if (settled) return;
        const found = newest(previous);
        if (found) upload.resumeFromPreviousUpload(found);
        upload.start();
      },
      () => {
        if (!settled) upload.start(); // no storage to read (private mode): start afresh
      },
    );
  });
}
